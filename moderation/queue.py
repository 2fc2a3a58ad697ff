"""The review queue: apply moderators' decisions; sites, parents and history of comments.

Listing, sorting and counting live in moderation.listing (re-exported here).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from moderation.auth import Principal
from moderation.intake import dedupe_key
from moderation.intake import duplicate_problem
from moderation.listing import Cursor as Cursor
from moderation.listing import QueueFilter as QueueFilter
from moderation.listing import QueuePage as QueuePage
from moderation.listing import Sort as Sort
from moderation.listing import count_by_status as count_by_status
from moderation.listing import list_queue as list_queue
from moderation.listing import search_text as search_text
from moderation.problems import Problem
from moderation.problems import invalid
from moderation.schemas import CommentIn
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import Site
from moderation.tables import Status
from moderation.tables import utcnow
from moderation.webhooks.outbox import status_changed

EXCERPT_CHARS = 240
MAX_BULK = 200
SEARCH_MAX = 200


class Action(enum.StrEnum):
    """What a moderator can do to a comment ("not spam" is approve on a spam comment).

    PENDING ("back to pending", also what undo sends) puts a comment back in the queue;
    it is no label for retraining, which reads only approved and spam comments.
    """

    APPROVE = "approve"
    REJECT = "reject"
    SPAM = "spam"
    PENDING = "pending"

    @property
    def status(self) -> Status:
        """Return the status this action gives a comment."""
        return {
            Action.APPROVE: Status.APPROVED,
            Action.REJECT: Status.REJECTED,
            Action.SPAM: Status.SPAM,
            Action.PENDING: Status.PENDING,
        }[self]


@dataclass(frozen=True)
class DecisionRequest:
    """One decision of a bulk request."""

    comment_id: int
    action: Action
    expected_version: int | None = None


@dataclass(frozen=True)
class DecisionResult:
    """A comment after a decision; changed is False when it already had that status."""

    comment: Comment
    changed: bool
    event: AuditEvent | None


def site_names(session: Session) -> dict[int, str]:
    """Return every site's name by id (a short table)."""
    return {site_id: name for site_id, name in session.execute(select(Site.id, Site.name))}


def find_site_id(session: Session, name: str) -> int | None:
    """Return the id of the site with this name, if there is one."""
    return session.scalar(select(Site.id).where(Site.name == name))


def parents_of(session: Session, comments: Sequence[Comment]) -> dict[int, Comment]:
    """Load the parents of the replies among `comments`, by id, in one query."""
    ids = {c.parent_id for c in comments if c.parent_id is not None}
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(Comment).where(Comment.id.in_(ids)))}


def history(session: Session, comment_id: int) -> list[AuditEvent]:
    """Return a comment's audit events, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.comment_id == comment_id)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    )


def not_found(comment_id: int) -> Problem:
    """Return the 404 for a comment that does not exist."""
    return Problem(404, "Not Found", f"There is no comment {comment_id}.")


def stale(comment: Comment, expected: int | None) -> Problem:
    """Return the 409 answered when the comment changed since the moderator saw it."""
    seen = f"version {expected}" if expected is not None else "the version you saw"
    return Problem(
        409,
        "Comment changed meanwhile",
        f"Comment {comment.id} was changed by someone else since {seen}: it is now"
        f" {comment.status} (version {comment.version}). Nothing was changed; reload it"
        " and decide again.",
        type="/problems/stale-decision",
        comment_id=comment.id,
        current_status=str(comment.status),
        current_version=comment.version,
    )


def _restore_dedupe_key(session: Session, comment: Comment) -> None:
    """Give a comment leaving `rejected` its duplicate key again, or raise 409 on a clash."""
    data = CommentIn.model_construct(
        post_id=comment.post_id,
        parent_id=comment.parent_id,
        author_name=comment.author_name,
        author_email=comment.author_email,
        content=comment.content_raw,
    )
    key = dedupe_key(comment.site_id, data)
    clash = session.scalar(
        select(Comment.id).where(Comment.dedupe_key == key, Comment.id != comment.id).limit(1)
    )
    if clash is not None:
        problem = duplicate_problem()
        problem.detail = (
            f"Comment {clash} has the same author and text on this post and is not rejected;"
            f" comment {comment.id} can only stay rejected while it exists."
        )
        problem.extensions["duplicate_of"] = clash
        raise problem
    comment.dedupe_key = key


def apply_decision(
    session: Session,
    comment_id: int,
    action: Action,
    expected_version: int | None,
    actor: Principal,
    note: str | None,
    *,
    now: datetime | None = None,
) -> DecisionResult:
    """Change a comment's status and record the audit event (flushes, never commits).

    :raises Problem: 404 unknown comment, 409 stale version or duplicate clash.
    """
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise not_found(comment_id)
    if expected_version is not None and comment.version != expected_version:
        raise stale(comment, expected_version)
    target = action.status
    previous = comment.status
    if previous is target:
        return DecisionResult(comment, changed=False, event=None)
    now = now or utcnow()
    if target is Status.REJECTED:
        # A rejected comment does not block the same text from being posted again.
        comment.dedupe_key = None
    elif previous is Status.REJECTED:
        _restore_dedupe_key(session, comment)
    comment.status = target
    comment.updated_at = now
    event = AuditEvent(
        comment_id=comment.id,
        actor=actor.label,
        user_id=actor.user.id if actor.user is not None else None,
        at=now,
        from_status=previous,
        to_status=target,
        note=note,
    )
    session.add(event)
    try:
        session.flush()
    except StaleDataError:
        # Another transaction committed a new version between our read and write.
        session.rollback()
        fresh = session.get(Comment, comment_id)
        raise stale(fresh or comment, expected_version) from None
    except IntegrityError:
        raise duplicate_problem() from None
    # The outbox: the sites hear of the change only if it commits.
    status_changed(session, comment, previous, actor.label, note, now=now)
    return DecisionResult(comment, changed=True, event=event)


def apply_decisions(
    session: Session,
    requests: Sequence[DecisionRequest],
    actor: Principal,
    note: str | None,
    *,
    now: datetime | None = None,
) -> list[DecisionResult]:
    """Apply every decision or none: any unknown, stale or clashing comment fails them all."""
    ids = [r.comment_id for r in requests]
    if not ids:
        raise invalid({"decisions": ["must name at least one comment"]})
    if len(ids) > MAX_BULK:
        raise invalid({"decisions": [f"must name at most {MAX_BULK} comments"]})
    if len(set(ids)) != len(ids):
        raise invalid({"decisions": ["names a comment more than once"]})
    found = {c.id: c for c in session.scalars(select(Comment).where(Comment.id.in_(ids)))}
    errors: dict[str, list[str]] = {}
    for request in requests:
        comment = found.get(request.comment_id)
        if comment is None:
            errors[str(request.comment_id)] = ["there is no such comment"]
        elif request.expected_version is not None and comment.version != request.expected_version:
            errors[str(request.comment_id)] = [
                f"changed meanwhile: now {comment.status}, version {comment.version}"
                f" (you saw version {request.expected_version})"
            ]
    if errors:
        only_missing = all(int(key) not in found for key in errors)
        raise _bulk_problem(errors, 404 if only_missing else 409)
    now = now or utcnow()
    results = []
    for request in requests:
        try:
            results.append(
                apply_decision(
                    session,
                    request.comment_id,
                    request.action,
                    request.expected_version,
                    actor,
                    note,
                    now=now,
                )
            )
        except Problem as problem:
            raise _bulk_problem({str(request.comment_id): [problem.detail]}, 409) from None
    return results


def _bulk_problem(errors: dict[str, list[str]], status: int) -> Problem:
    names = ", ".join(errors)
    return Problem(
        status,
        "Decisions not applied",
        f"No decision was applied, because of comment(s) {names}.",
        type="/problems/bulk-decision",
        errors=errors,
    )


def excerpt(comment: Comment, limit: int = EXCERPT_CHARS) -> str:
    """Return the start of a comment as plain text (for showing a reply's parent)."""
    text = Markup(comment.content_html).striptags()  # noqa: S704 (made plain text, not output)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
