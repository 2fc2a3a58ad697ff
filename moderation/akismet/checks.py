"""What comment-check and the submissions do to stored comments (services: no commit).

A comment checked again (the same site, post, author and text) is the stored one: it
answers its verdict, and with a recheck_reason (WordPress's "Check for spam") it goes
through the decision step again, unless a moderator has decided it. A submission decides
the comment it names (its guid, else the same text), or, for a comment never checked
here, is kept as a labelled example for retraining (akismet_reports), never a comment.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation import storable
from moderation.akismet.fields import STAND_IN_DOMAIN
from moderation.akismet.fields import comment_in
from moderation.akismet.fields import has_email
from moderation.api.comments import take_comment
from moderation.auth import SITE_ACTOR_PREFIX
from moderation.auth import Principal
from moderation.auth import SiteIdentity
from moderation.classifier import ClassifierUnavailable
from moderation.classifier import get_holder
from moderation.db import LIKE_ESCAPE
from moderation.db import escape_like
from moderation.db import get_session
from moderation.intake import dedupe_key
from moderation.problems import Problem
from moderation.queue import Action
from moderation.queue import apply_decision
from moderation.rescore import apply_score
from moderation.rescore import doc_of
from moderation.schemas import CommentIn
from moderation.settings import current_settings
from moderation.tables import AkismetReport
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import Status


@dataclass(frozen=True)
class Outcome:
    """What comment-check answers: the stored comment's id, status and score."""

    comment_id: int | None
    status: Status
    spam_score: float | None
    status_label: str
    note: str = ""

    @classmethod
    def of(cls, comment: Comment, note: str = "") -> Outcome:
        """Return the outcome a stored comment answers."""
        status = Status(comment.status)
        return cls(comment.id, status, comment.spam_score, str(status), note)

    def discard(self, threshold: float) -> bool:
        """Say whether the spam is blatant: scored at or above the discard threshold."""
        return (
            self.status is Status.SPAM
            and self.spam_score is not None
            and self.spam_score >= threshold
        )


def find_stored(
    session: Session, site: SiteIdentity, data: CommentIn, real_email: bool
) -> Comment | None:
    """Return the site's stored, not rejected comment with the same post, author and text."""
    if real_email:
        key = dedupe_key(site.id, data)
        return session.scalar(select(Comment).where(Comment.dedupe_key == key))
    stand_in = "%@" + escape_like(STAND_IN_DOMAIN)
    return session.scalar(
        select(Comment)
        .where(
            Comment.site_id == site.id,
            Comment.post_id == data.post_id,
            Comment.author_name == data.author_name,
            Comment.content_raw == data.content,
            Comment.author_email.like(stand_in, escape=LIKE_ESCAPE),
            Comment.status != Status.REJECTED,
        )
        .order_by(Comment.id.desc())
        .limit(1)
    )


def moderator_decided(session: Session, comment_id: int) -> bool:
    """Say whether a moderator (a user, or the site's own moderators) set its status."""
    by_site = and_(
        AuditEvent.actor.startswith(SITE_ACTOR_PREFIX), AuditEvent.from_status.is_not(None)
    )
    stmt = select(
        exists().where(
            AuditEvent.comment_id == comment_id,
            or_(AuditEvent.user_id.is_not(None), by_site),
        )
    )
    return bool(session.scalar(stmt))


def recheck(session: Session, comment: Comment) -> str:
    """Decide a stored comment again with the active classifier; return what happened."""
    if comment.status is Status.REJECTED or moderator_decided(session, comment.id):
        return "Rechecked: a moderator decided this comment; it keeps that status."
    settings = current_settings(session)
    try:
        score = get_holder().score(doc_of(comment), settings.hold_threshold)
    except ClassifierUnavailable:
        return "Rechecked: no classifier can score now; the comment stays held."
    apply_score(session, comment, score, settings)
    return "Rechecked with the active classifier."


def check(site: SiteIdentity, data: CommentIn, fields: dict[str, str]) -> Outcome:
    """Run comment-check: the stored comment if checked before, else the intake."""
    session = get_session()
    real_email = has_email(fields)
    stored = find_stored(session, site, data, real_email)
    if stored is not None:
        note = ""
        if fields.get("recheck_reason", "").strip():
            note = recheck(session, stored)
        return Outcome.of(stored, note)
    try:
        comment = take_comment(site, data)
    except Problem as problem:
        session.rollback()  # nothing half-written survives (a flood mark, say)
        if problem.status == 409:  # checked meanwhile by a concurrent call
            stored = find_stored(session, site, data, real_email)
            if stored is not None:
                return Outcome.of(stored)
        if problem.status == 429:  # too soon after this commenter's last comment
            return Outcome(None, Status.SPAM, None, "flood", problem.detail)
        raise
    return Outcome(comment.id, Status(comment.status), comment.spam_score, str(comment.status))


def _named_comment(
    session: Session, site: SiteIdentity, fields: dict[str, str], data: CommentIn | None
) -> int | None:
    comment_id = storable.parse_id(fields.get("guid"))
    if comment_id is not None:
        found = session.scalar(
            select(Comment.id).where(Comment.id == comment_id, Comment.site_id == site.id)
        )
        if found is not None:
            return found
    if data is None:
        return None
    stored = find_stored(session, site, data, has_email(fields))
    return stored.id if stored is not None else None


def submit(site: SiteIdentity, actor: Principal, action: Action, fields: dict[str, str]) -> str:
    """Decide the comment a submission names, or keep it as a labelled example.

    Returns what was done: "decided", "unchanged" (a decision that cannot apply) or
    "example".
    """
    session = get_session()
    try:
        data: CommentIn | None = comment_in(fields)
    except ValidationError:
        data = None
    comment_id = _named_comment(session, site, fields, data)
    if comment_id is not None:
        method = "submit-spam" if action is Action.SPAM else "submit-ham"
        try:
            with session.begin_nested():
                apply_decision(session, comment_id, action, None, actor, f"Akismet {method}")
        except Problem:  # e.g. approving it would clash with a live duplicate
            return "unchanged"
        return "decided"
    if data is None or not fields.get("comment_content", "").strip():
        return "unchanged"  # nothing to learn from
    session.add(
        AkismetReport(
            site_id=site.id,
            spam=action is Action.SPAM,
            post_id=data.post_id,
            author_name=data.author_name,
            author_email=data.author_email,
            author_url=data.author_url,
            author_ip=data.author_ip,
            user_agent=data.user_agent,
            content=data.content,
        )
    )
    return "example"
