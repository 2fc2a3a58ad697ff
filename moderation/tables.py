"""ORM tables (SQLAlchemy 2.x) and the enums that name their states."""

from __future__ import annotations

import enum
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import ClassVar

from sqlalchemy import JSON
from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import Float
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import TypeDecorator
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship


def utcnow() -> datetime:
    """Return the current time, UTC-aware."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops tz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints stably."""

    metadata = MetaData(naming_convention=NAMING)


class Status(enum.StrEnum):
    """Where a comment stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SPAM = "spam"


class Role(enum.StrEnum):
    """What a signed-in person may do; admins may do everything moderators may."""

    MODERATOR = "moderator"
    ADMIN = "admin"


class JobStatus(enum.StrEnum):
    """Life of a training job."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def _enum(cls: type[enum.StrEnum], name: str, length: int = 16) -> Any:
    from sqlalchemy import Enum

    return Enum(
        cls,
        name=name,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Site(Base):
    """A website that posts comments with its API key (stored only as a hash)."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Its Akismet-style key (12 hex characters), hashed; None: no such key (or revoked).
    akismet_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class MailMode(enum.StrEnum):
    """How a moderator hears of waiting comments by e-mail."""

    DIGEST = "digest"  # one message every MAIL_DIGEST_MINUTES with what arrived
    EACH = "each"  # one message a comment
    OFF = "off"


class User(Base):
    """A moderator or admin: hashed password, optional personal API token (hashed)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mail_mode: Mapped[MailMode] = mapped_column(
        _enum(MailMode, "mail_mode"), default=MailMode.DIGEST, server_default="digest"
    )
    # Comments created up to here were mailed (or waited before the moderator existed).
    mailed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_mail_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginSession(Base):
    """A signed-in browser session; deleting the row ends it even for copied cookies."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user: Mapped[User] = relationship(lazy="joined")


class LoginThrottle(Base):
    """Failed sign-ins counted per client address, per (address, login) and per login.

    Keys never say whether an account exists: a login is keyed by the hash of what was
    typed, known or not. See moderation/review/throttle.py.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    strikes: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


# What the queue's search reads, lower-cased; the trigram index is built on exactly this.
SEARCH_TEXT_SQL = "lower(author_name) || ' ' || lower(author_email) || ' ' || lower(content_raw)"


class Comment(Base):
    """A submitted comment: raw and sanitized text, verdict, score and reasons."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    post_id: Mapped[str] = mapped_column(String(255))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"))
    author_name: Mapped[str] = mapped_column(String(245))
    author_email: Mapped[str] = mapped_column(String(100))
    author_url: Mapped[str | None] = mapped_column(String(200))
    author_ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    referrer: Mapped[str | None] = mapped_column(String(2000))
    permalink: Mapped[str | None] = mapped_column(String(2000))
    content_raw: Mapped[str] = mapped_column(Text)
    content_html: Mapped[str] = mapped_column(Text)
    status: Mapped[Status] = mapped_column(_enum(Status, "status"))
    spam_score: Mapped[float | None] = mapped_column(Float)
    # The score of its own words with its links taken out (None: no link, or scored low).
    spam_score_without_links: Mapped[float | None] = mapped_column(Float)
    # The score with its length, capitals, digits and repeats at their training mean
    # (None: not scored so, e.g. under the hold threshold), for the same rule.
    spam_score_without_signals: Mapped[float | None] = mapped_column(Float)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    classifier_version: Mapped[int | None] = mapped_column(Integer)
    # Set while the comment is not rejected; the unique index makes the duplicate
    # check hold across processes and hosts.
    dedupe_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The site's own id of an imported comment (None: posted here); unique per site, so
    # importing the same history twice adds nothing.
    external_id: Mapped[str | None] = mapped_column(String(100))

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}
    __table_args__ = (
        Index("ix_comments_status_created", "status", "created_at", "id"),
        Index("ix_comments_created", "created_at", "id"),
        Index("ix_comments_site_post_status", "site_id", "post_id", "status", "created_at"),
        Index("ix_comments_author_email_status", "author_email", "status"),
        Index("ix_comments_parent", "parent_id"),
        Index("uq_comments_site_external", "site_id", "external_id", unique=True),
        # The queue's triage (migration 0016): the ip filter and the score sort
        # (moderation.listing.score_key); the reason filter reads comment_reasons.
        Index("ix_comments_author_ip_status", "author_ip", "status"),
        Index("ix_comments_status_score", "status", text("(coalesce(spam_score, -1.0))"), "id"),
        # The review queue's free-text search (moderation.queue.search_text), PostgreSQL
        # only: a trigram index answers LIKE '%word%' without scanning every comment.
        # Created by migration 0002_queue_indexes, which also enables pg_trgm.
        Index(
            "ix_comments_search_trgm",
            text(f"({SEARCH_TEXT_SQL}) gin_trgm_ops"),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
        # Ids are never given twice, even after the newest comment is erased (0020).
        {"sqlite_autoincrement": True},
    )


class CommentReason(Base):
    """One reason code of a comment, with the comment's status and sort keys copied in.

    The queue's reason filter reads these rows in index order instead of every comment's
    JSON list; moderation.reason_rows keeps them in step with the comment (migration 0017).
    """

    __tablename__ = "comment_reasons"

    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[Status] = mapped_column(_enum(Status, "status"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The comment's score sort key: coalesce(spam_score, -1.0) (moderation.listing.score_key).
    score: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_comment_reasons_status_created", "code", "status", "created_at", "comment_id"),
        Index("ix_comment_reasons_status_score", "code", "status", "score", "comment_id"),
        Index("ix_comment_reasons_created", "code", "created_at", "comment_id"),
    )


class AuditEvent(Base):
    """One change of a comment's status: who, when, from, to, note."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_status: Mapped[Status | None] = mapped_column(_enum(Status, "from_status"))
    to_status: Mapped[Status] = mapped_column(_enum(Status, "to_status"))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_audit_events_comment", "comment_id", "at"),
        # A moderator's latest events: undo (moderation.undo, migration 0017).
        Index("ix_audit_events_user", "user_id", "id"),
    )


class CommentRevision(Base):
    """The text a comment had before its site replaced it (the comment holds the new one)."""

    __tablename__ = "comment_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(254))
    content_raw: Mapped[str] = mapped_column(Text)
    content_html: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_comment_revisions_comment", "comment_id", "at"),)


class FloodKind(enum.StrEnum):
    """What a flood mark counts comments by."""

    EMAIL = "email"
    IP = "ip"


class FloodMark(Base):
    """The last comment time per (site, IP) and (site, email); a database row so that
    the flood check holds across worker processes and hosts."""

    __tablename__ = "flood_marks"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @staticmethod
    def key_of(site_id: int | str, kind: FloodKind, value: str) -> str:
        """Return a mark's key, `<site>:<kind>:<value>` (an email casefolded).

        With site_id "" it is the key's ending, to match a value on every site.
        """
        if kind is FloodKind.EMAIL:
            value = value.casefold()
        return f"{site_id}:{kind}:{value}"


class Setting(Base):
    """An admin setting shared by every worker (thresholds, word lists, trust)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(254))


class ClassifierVersion(Base):
    """A trained classifier artifact (skops bytes), its manifest and metrics."""

    __tablename__ = "classifier_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(254))
    artifact: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "uq_classifier_versions_one_active",
            "active",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )


class TrainingJob(Base):
    """A retraining run: one at a time; a job cut off by a restart ends failed."""

    __tablename__ = "training_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    log: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    worker: Mapped[str | None] = mapped_column(String(200))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("classifier_versions.id"))
    error: Mapped[str | None] = mapped_column(Text)

    # At most one queued-or-running job: the database refuses a second one.
    __table_args__ = (
        Index(
            "uq_training_jobs_one_open",
            text("(1)"),
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )


class EventType(enum.StrEnum):
    """What a webhook tells a site about one of its comments."""

    CREATED = "comment.created"
    STATUS_CHANGED = "comment.status_changed"
    EDITED = "comment.edited"
    ERASED = "comment.erased"


class DeliveryStatus(enum.StrEnum):
    """Where one event's delivery to one endpoint stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookEndpoint(Base):
    """A site's receiver: URL, the events it wants, its signing secret (needed to sign)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Kept as given (whsec_<base64>): HMAC signing needs the key itself, not a hash.
    secret: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_webhook_endpoints_site", "site_id"),)


class WebhookEvent(Base):
    """An outbox row: what happened to a comment, written in the change's transaction."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The webhook-id header; unique by its 96 random bits, not by an index (see outbox).
    msg_id: Mapped[str] = mapped_column(String(40))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    comment_id: Mapped[int] = mapped_column(Integer)  # no key: an erased comment is gone
    type: Mapped[EventType] = mapped_column(_enum(EventType, "event_type", 32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The endpoints that wanted it when it happened; the worker turns them into
    # deliveries (fan-out), so the change's own transaction writes this one row and
    # nothing else. What waits for the fan-out: on PostgreSQL the rows flagged
    # fanout_pending; on SQLite the rows past WebhookFanoutCursor (see webhooks.fanout).
    endpoint_ids: Mapped[list[int] | None] = mapped_column(JSON)
    fanout_pending: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index(
            "ix_webhook_events_fanout",
            "id",
            postgresql_where=text("fanout_pending"),
            sqlite_where=text("fanout_pending"),
        ),
        # Ids are never given twice, so SQLite's fan-out cursor never skips one (0021).
        {"sqlite_autoincrement": True},
    )


class WebhookFanoutCursor(Base):
    """SQLite: the last event whose deliveries are made (one row; unused on PostgreSQL)."""

    __tablename__ = "webhook_fanout_cursor"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    event_id: Mapped[int] = mapped_column(Integer)


class WebhookDelivery(Base):
    """One event to one endpoint: attempts, lease (who is sending it now), outcome."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    comment_id: Mapped[int] = mapped_column(Integer)  # events of one comment go in order
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus, "delivery_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[WebhookEvent] = relationship(lazy="joined")

    __table_args__ = (
        Index("ix_webhook_deliveries_chain", "endpoint_id", "comment_id", "status", "id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_event", "event_id"),
    )


class MailLinkUse(Base):
    """A one-click e-mail link already used (its token id): a link acts once."""

    __tablename__ = "mail_link_uses"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AkismetKeyFailure(Base):
    """Failed Akismet key attempts of one client address in the current window.

    A database row, like the flood marks, so that the limit holds across worker
    processes and hosts: a 48-bit key must not be guessable by trying keys.
    """

    __tablename__ = "akismet_key_failures"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)


class AkismetReport(Base):
    """A site's submit-spam / submit-ham about a comment this service never checked.

    Not a comment (never in the queue or on a page): a labelled example for retraining.
    """

    __tablename__ = "akismet_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    spam: Mapped[bool] = mapped_column(Boolean)
    post_id: Mapped[str] = mapped_column(String(255))
    author_name: Mapped[str] = mapped_column(String(245))
    author_email: Mapped[str] = mapped_column(String(100))
    author_url: Mapped[str | None] = mapped_column(String(200))
    author_ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_akismet_reports_site_created", "site_id", "created_at"),)
