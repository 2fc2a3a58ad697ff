"""A site replaces a comment's text: the pipeline decides it again, the old text is kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from moderation.auth import SiteIdentity
from moderation.auth import site_actor
from moderation.decisions import apply_verdict
from moderation.decisions import decide
from moderation.intake import Assessment
from moderation.intake import dedupe_key
from moderation.intake import duplicate_problem
from moderation.intake import received_signals
from moderation.problems import Problem
from moderation.rescore import known_author
from moderation.schemas import CommentIn
from moderation.settings import ModerationSettings
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import CommentRevision
from moderation.tables import EventType
from moderation.tables import Status
from moderation.webhooks import record_event
from moderation.webhooks import status_changed

# The audit events of a re-check are the pipeline's, like a re-score's: a verdict on new
# text is not a moderator's label (retraining.labels counts site events as labels).
RECHECK_ACTOR = "classifier"


@dataclass(frozen=True)
class EditResult:
    """A comment after an edit; changed is False when the text was the same."""

    comment: Comment
    changed: bool
    revision: CommentRevision | None


def edited_input(comment: Comment, content: str) -> CommentIn:
    """Return the comment as the intake would have received it with the new text."""
    return CommentIn.model_construct(
        post_id=comment.post_id,
        parent_id=comment.parent_id,
        author_name=comment.author_name,
        author_email=comment.author_email,
        author_url=comment.author_url,
        content=content,
        author_ip=comment.author_ip,
        user_agent=comment.user_agent,
        referrer=comment.referrer,
        permalink=comment.permalink,
    )


def replace_content(
    session: Session,
    site: SiteIdentity,
    comment: Comment,
    data: CommentIn,
    assessment: Assessment,
    *,
    settings: ModerationSettings,
    expected_version: int | None,
    now: datetime,
) -> EditResult:
    """Store the new text, decide the comment again and keep the old text (flushes only).

    :raises Problem: 409 when the version is stale or the new text duplicates a comment.
    """
    if expected_version is not None and comment.version != expected_version:
        raise Problem(
            409,
            "Comment changed meanwhile",
            f"Comment {comment.id} is at version {comment.version}, not {expected_version}.",
            type="/problems/stale-decision",
            current_version=comment.version,
        )
    if data.content == comment.content_raw:
        return EditResult(comment, changed=False, revision=None)
    key = dedupe_key(comment.site_id, data)
    clash = session.scalar(
        select(Comment.id).where(Comment.dedupe_key == key, Comment.id != comment.id).limit(1)
    )
    if clash is not None:
        raise duplicate_problem()
    verdict = decide(received_signals(data, assessment, known_author(session, comment)), settings)
    revision = CommentRevision(
        comment_id=comment.id,
        at=now,
        actor=site_actor(site.name),
        content_raw=comment.content_raw,
        content_html=comment.content_html,
    )
    session.add(revision)
    previous = comment.status
    note = f"edited by {site_actor(site.name)}: text replaced and checked again"
    comment.content_raw = data.content
    comment.content_html = assessment.clean.html
    apply_verdict(comment, verdict, assessment.score)
    comment.dedupe_key = None if verdict.status is Status.REJECTED else key
    comment.updated_at = now
    session.add(
        AuditEvent(
            comment_id=comment.id,
            actor=RECHECK_ACTOR,
            user_id=None,
            at=now,
            from_status=previous,
            to_status=verdict.status,
            note=note,
        )
    )
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise Problem(
            409,
            "Comment changed meanwhile",
            f"Comment {comment.id} was changed by someone else; fetch it and edit again.",
            type="/problems/stale-decision",
        ) from None
    except IntegrityError:
        raise duplicate_problem() from None
    extra = {"old_status": str(previous), "new_status": str(verdict.status)}
    record_event(session, comment, EventType.EDITED, extra, now=now)
    if verdict.status is not previous:
        status_changed(session, comment, previous, RECHECK_ACTOR, note, now=now)
    return EditResult(comment, changed=True, revision=revision)


def revisions(session: Session, comment_id: int) -> list[CommentRevision]:
    """Return a comment's earlier texts, oldest first."""
    return list(
        session.scalars(
            select(CommentRevision)
            .where(CommentRevision.comment_id == comment_id)
            .order_by(CommentRevision.at, CommentRevision.id)
        )
    )
