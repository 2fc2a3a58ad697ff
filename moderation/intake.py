"""The intake pipeline: a validated comment becomes a stored, decided comment.

The work is split in two so that the write transaction stays short: `assess` does the
CPU-heavy steps (sanitize, score) without touching the database, then `submit_comment`
asks the database (parent, duplicate, author, flood) and writes, in one transaction.
The answers still come in the brief's order: a duplicate is a 409 before a flood 429.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import TextClause
from sqlalchemy import bindparam
from sqlalchemy import exists
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from moderation.auth import SiteIdentity
from moderation.auth import site_actor
from moderation.classifier import ClassifierHolder
from moderation.classifier import ClassifierUnavailable
from moderation.classifier import Doc
from moderation.classifier import Score
from moderation.decisions import Signals
from moderation.decisions import decide
from moderation.decisions import rule_fields
from moderation.decisions import verdict_columns
from moderation.held import note_held
from moderation.problems import Problem
from moderation.problems import invalid
from moderation.reason_rows import insert_rows
from moderation.reason_rows import rows_for
from moderation.sanitize import CleanHtml
from moderation.sanitize import clean_comment_html
from moderation.schemas import CommentIn
from moderation.schemas import CommentOut
from moderation.settings import ModerationSettings
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import EventType
from moderation.tables import FloodKind
from moderation.tables import FloodMark
from moderation.tables import Status
from moderation.tables import UTCDateTime
from moderation.webhooks.outbox import InsertWithEvent
from moderation.webhooks.outbox import event_row
from moderation.webhooks.outbox import public_fields
from moderation.webhooks.outbox import subscribers

# Built once: the hot path's statements. Core inserts because the ORM's unit of work
# costs about a millisecond a comment more and nothing here needs the identity map.
_INSERT_COMMENT = insert(Comment.__table__).returning(Comment.__table__.c.id)
_INSERT_AUDIT = InsertWithEvent(AuditEvent.__table__)
_STORED_BEFORE = select(
    exists().where(Comment.dedupe_key == bindparam("key")).label("duplicate"),
    exists()
    .where(
        Comment.site_id == bindparam("site_id"),
        Comment.author_email == bindparam("email"),
        Comment.status == Status.APPROVED,
    )
    .label("known"),
)


@dataclass(frozen=True)
class Assessment:
    """What the comment itself says, worked out before the database is asked."""

    clean: CleanHtml
    score: Score | None  # None: no classifier could score it (the intake fails closed)


def dedupe_key(site_id: int, data: CommentIn) -> str:
    """Hash what makes two comments duplicates: site, post, parent, author and text."""
    return dedupe_key_of(
        site_id, data.post_id, data.parent_id, data.author_name, data.author_email, data.content
    )


def dedupe_key_of(
    site_id: int,
    post_id: str,
    parent_id: int | None,
    author_name: str,
    author_email: str,
    content: str,
) -> str:
    """Hash a comment's duplicate-defining parts (the intake's and the import's key)."""
    parts = (
        str(site_id),
        post_id,
        str(parent_id or ""),
        author_name.casefold(),
        author_email.casefold(),
        content,
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def duplicate_problem() -> Problem:
    """Return the 409 answered for a comment already stored."""
    return Problem(
        409,
        "Duplicate comment",
        "The same author already posted this text on this post.",
        type="/problems/duplicate-comment",
    )


def check_parent(session: Session, site: SiteIdentity, data: CommentIn) -> None:
    """Refuse a parent that is missing, on another post or site, or spam."""
    if data.parent_id is None:
        return
    parent = session.get(Comment, data.parent_id)
    if parent is None or parent.site_id != site.id:
        raise invalid({"parent_id": ["is not a comment of this site"]})
    if parent.post_id != data.post_id:
        raise invalid({"parent_id": ["belongs to another post"]})
    if parent.status is Status.SPAM:
        raise invalid({"parent_id": ["is a spam comment"]})


def claim_flood_slots(
    session: Session, site: SiteIdentity, data: CommentIn, now: datetime, seconds: int
) -> None:
    """Record this comment's time per IP and email, or raise 429 if one is too recent.

    One upsert per key: the row lock (PostgreSQL) or the write lock (SQLite) makes
    concurrent submissions from several processes see each other. A window of 0 s
    turns the check off.
    """
    if seconds <= 0:
        return
    kinds = {FloodMark.key_of(site.id, FloodKind.EMAIL, data.author_email): FloodKind.EMAIL}
    if data.author_ip:
        kinds[FloodMark.key_of(site.id, FloodKind.IP, data.author_ip)] = FloodKind.IP
    keys = list(kinds)
    cutoff = now - timedelta(seconds=seconds)
    claimed = set(session.scalars(_FLOOD_UPSERTS[len(keys)], _flood_params(keys, now, cutoff)))
    for key, kind in kinds.items():
        if key in claimed:
            continue
        last = session.scalar(select(FloodMark.last_at).where(FloodMark.key == key))
        wait = seconds - (now - last).total_seconds() if last else seconds
        retry = max(1, math.ceil(wait))
        raise Problem(
            429,
            "Too many comments",
            f"Comments from the same {kind} must be {seconds} s apart; retry in {retry} s.",
            type="/problems/flood",
            headers={"Retry-After": str(retry)},
        )


def _flood_upsert(count: int) -> TextClause:
    # Text SQL (valid for SQLite and PostgreSQL) because SQLAlchemy cannot cache the
    # compiled form of a multi-row upsert, and compiling it costs milliseconds a request.
    rows = ", ".join(f"(:key{i}, :now)" for i in range(count))
    return text(
        f"INSERT INTO flood_marks (key, last_at) VALUES {rows} "  # noqa: S608 (no input)
        "ON CONFLICT (key) DO UPDATE SET last_at = excluded.last_at "
        "WHERE flood_marks.last_at <= :cutoff RETURNING key"
    ).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("cutoff", type_=UTCDateTime()))


# One statement per key count (email, or email and IP), built once so that its cache key
# is computed once per process rather than per comment.
_FLOOD_UPSERTS = {count: _flood_upsert(count) for count in (1, 2)}


def _flood_params(keys: list[str], now: datetime, cutoff: datetime) -> dict[str, object]:
    return {"now": now, "cutoff": cutoff, **{f"key{i}": key for i, key in enumerate(keys)}}


def stored_before(
    session: Session, site: SiteIdentity, data: CommentIn, key: str
) -> tuple[bool, bool]:
    """Return (is a duplicate, author has an approved comment here) in one query."""
    params = {"key": key, "site_id": site.id, "email": data.author_email}
    row = session.execute(_STORED_BEFORE, params).one()
    return bool(row.duplicate), bool(row.known)


def score_comment(
    holder: ClassifierHolder, data: CommentIn, links_from: float | None
) -> Score | None:
    """Score with the active classifier; None when it cannot (the intake fails closed).

    A comment scored at least `links_from` is also scored without its links.
    """
    doc = Doc(
        content=data.content,
        author_name=data.author_name,
        author_email=data.author_email,
        author_url=data.author_url,
    )
    try:
        return holder.score(doc, links_from)
    except ClassifierUnavailable:
        return None


def assess(holder: ClassifierHolder, data: CommentIn, settings: ModerationSettings) -> Assessment:
    """Sanitize and score a comment (steps 5 and 7): CPU only, no database.

    Its words are scored without its links from the hold threshold up: the links-alone
    rule needs them at the spam threshold, and the settings preview below it.
    """
    return Assessment(
        clean=clean_comment_html(data.content),
        score=score_comment(holder, data, settings.hold_threshold),
    )


def received_signals(data: CommentIn, assessment: Assessment, known_author: bool) -> Signals:
    """Return the decision's inputs for a comment as received (its fields, links, score)."""
    return Signals(
        fields=rule_fields(
            author_name=data.author_name,
            author_email=data.author_email,
            author_url=data.author_url,
            content=data.content,
            author_ip=data.author_ip,
            user_agent=data.user_agent,
        ),
        link_count=assessment.clean.link_count,
        score=assessment.score,
        known_author=known_author,
    )


def submit_comment(
    session: Session,
    site: SiteIdentity,
    data: CommentIn,
    assessment: Assessment,
    *,
    settings: ModerationSettings,
    now: datetime,
    flood_seconds: int,
) -> CommentOut:
    """Run the database steps (parent, 3, 4, 6, 8, 9) and write the comment (no commit)."""
    check_parent(session, site, data)
    key = dedupe_key(site.id, data)
    duplicate, known = stored_before(session, site, data, key)
    if duplicate:
        raise duplicate_problem()
    claim_flood_slots(session, site, data, now, flood_seconds)

    score = assessment.score
    verdict = decide(received_signals(data, assessment, known), settings)
    row: dict[str, Any] = {
        "site_id": site.id,
        "post_id": data.post_id,
        "parent_id": data.parent_id,
        "author_name": data.author_name,
        "author_email": data.author_email,
        "author_url": data.author_url,
        "author_ip": data.author_ip,
        "user_agent": data.user_agent,
        "referrer": data.referrer,
        "permalink": data.permalink,
        "content_raw": data.content,
        "content_html": assessment.clean.html,
        **verdict_columns(verdict, score),
        "dedupe_key": None if verdict.status is Status.REJECTED else key,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    try:
        comment_id = session.execute(_INSERT_COMMENT, row).scalar_one()
    except IntegrityError:  # a concurrent twin won the unique dedupe_key
        raise duplicate_problem() from None
    # A Core insert: the ORM's mapper events that keep the reason rows do not see it.
    insert_rows(
        session, rows_for(comment_id, row["reasons"], verdict.status, now, row["spam_score"])
    )
    audit = {
        "comment_id": comment_id,
        "actor": site_actor(site.name),
        "user_id": None,
        "at": now,
        "from_status": None,
        "to_status": verdict.status,
        "note": "received",
    }
    # The outbox: comment.created commits with the comment or not at all.
    endpoints = subscribers(session, site.id, EventType.CREATED)
    event = None
    if endpoints:
        about = public_fields(comment_id, row, site.name)
        dialect = session.get_bind().dialect.name
        event = event_row(site.id, endpoints, EventType.CREATED, about, None, now, dialect)
    _INSERT_AUDIT.execute(session, audit, event)
    if verdict.status is Status.PENDING:
        note_held(session)  # moderators who get each comment hear of it after the commit
    return CommentOut.model_validate({**row, "id": comment_id})
