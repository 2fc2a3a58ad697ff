"""Undo: a moderator's latest decision that is still current, read from the audit trail.

The trail is the undo history, so undo survives a reload, a new tab or another browser.
A moderator's requests (one decision, or a bulk one: its events share one time) are read
newest first; an undo request (note "undo") cancels the decision request before it, so
pressing undo again walks further back. A decision is still current while its comment has
the status it gave and nobody else (another moderator, a site, the classifier) changed
the comment since; a decision that is no longer current is passed over, never reverted
over someone else's change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.auth import Principal
from moderation.problems import Problem
from moderation.queue import Action
from moderation.queue import DecisionRequest
from moderation.queue import DecisionResult
from moderation.queue import apply_decisions
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import utcnow

UNDO_NOTE = "undo"
# How far back undo reaches: this many of the moderator's requests, within this time.
UNDO_DEPTH = 50
UNDO_WINDOW = timedelta(days=1)


def nothing_to_undo() -> Problem:
    """Return the 404 of an undo with no decision left to undo."""
    return Problem(
        404,
        "Nothing to undo",
        f"You have made no decision in the last {UNDO_WINDOW.days * 24} hours that is still"
        " current and not undone already.",
        type="/problems/nothing-to-undo",
    )


def _requests(session: Session, user_id: int, since: datetime) -> list[list[AuditEvent]]:
    """Return the user's latest requests (events grouped by time), newest first."""
    limit = UNDO_DEPTH * 20
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.user_id == user_id,
            AuditEvent.from_status.is_not(None),
            AuditEvent.at >= since,
        )
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    ).all()
    grouped: list[list[AuditEvent]] = []
    for event in events:
        if grouped and grouped[-1][0].at == event.at:
            grouped[-1].append(event)
        elif len(grouped) < UNDO_DEPTH:
            grouped.append([event])
        else:
            return grouped
    if len(events) == limit and grouped:
        grouped.pop()  # the last request may go on past the events read: never half of it
    return grouped


def _still_current(
    session: Session, user_id: int, events: Sequence[AuditEvent]
) -> list[tuple[AuditEvent, int]]:
    """Return (event, comment version) of the events whose comment nobody else changed
    since and that still has their status."""
    ids = [event.comment_id for event in events]
    found = {
        row.id: row
        for row in session.execute(
            select(Comment.id, Comment.status, Comment.version).where(Comment.id.in_(ids))
        )
    }
    oldest = min(event.id for event in events)
    others_after = dict(
        session.execute(
            select(AuditEvent.comment_id, func.max(AuditEvent.id))
            .where(
                AuditEvent.comment_id.in_(ids),
                AuditEvent.id > oldest,
                or_(AuditEvent.user_id.is_(None), AuditEvent.user_id != user_id),
            )
            .group_by(AuditEvent.comment_id)
        ).all()
    )
    return [
        (event, found[event.comment_id].version)
        for event in events
        if event.comment_id in found
        and found[event.comment_id].status is event.to_status
        and others_after.get(event.comment_id, 0) < event.id
    ]


def latest_undoable(
    session: Session, user_id: int, *, now: datetime | None = None
) -> list[tuple[AuditEvent, int]]:
    """Return (event, comment version) of the user's latest decision still current, if any."""
    since = (now or utcnow()) - UNDO_WINDOW
    undone = 0
    for request in _requests(session, user_id, since):
        if all(event.note == UNDO_NOTE for event in request):
            undone += 1
            continue
        if undone:
            undone -= 1
            continue
        current = _still_current(session, user_id, request)
        if current:
            return sorted(current, key=lambda pair: pair[0].id)
    return []


def undo_latest(session: Session, actor: Principal) -> list[DecisionResult]:
    """Put back the comments of the actor's latest current decision (flushes, never commits).

    :raises Problem: 404 nothing to undo; 409 a comment changed meanwhile.
    """
    if actor.user is None:
        raise nothing_to_undo()
    events = latest_undoable(session, actor.user.id)
    if not events:
        raise nothing_to_undo()
    back = {action.status: action for action in Action}
    requests = [
        DecisionRequest(event.comment_id, back[event.from_status], version)
        for event, version in events
    ]
    return apply_decisions(session, requests, actor, UNDO_NOTE)
