"""Keep comment_reasons (the reason filter's index rows) in step with each comment.

Every ORM write of a comment's reasons, status, score or time rewrites its rows (mapper
events, installed by init_app, so no path that sets them can forget); the intake's Core
insert, which bypasses the ORM, calls insert_rows itself. Deleting a comment deletes its
rows (ON DELETE CASCADE).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import Connection
from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy import insert
from sqlalchemy import inspect

from moderation.listing import NO_SCORE
from moderation.tables import Comment
from moderation.tables import CommentReason
from moderation.tables import Status

# What a comment's rows copy; a change to any of them rewrites the rows.
COPIED = ("reasons", "status", "spam_score", "created_at")


def reason_codes(reasons: Iterable[Any] | None) -> list[str]:
    """Return the distinct codes of a stored reasons list, sorted."""
    codes = {
        reason.get("code")
        for reason in reasons or []
        if isinstance(reason, Mapping) and isinstance(reason.get("code"), str)
    }
    return sorted(codes)


def rows_for(
    comment_id: int,
    reasons: Iterable[Any] | None,
    status: Status,
    created_at: datetime,
    spam_score: float | None,
) -> list[dict[str, Any]]:
    """Return the comment_reasons rows of one comment."""
    score = NO_SCORE if spam_score is None else spam_score
    return [
        {
            "comment_id": comment_id,
            "code": code,
            "status": status,
            "created_at": created_at,
            "score": score,
        }
        for code in reason_codes(reasons)
    ]


def insert_rows(connection: Any, rows: list[dict[str, Any]]) -> None:
    """Insert reason rows (a Session or a Connection); nothing when there are none."""
    if rows:
        connection.execute(insert(CommentReason.__table__), rows)


def _rows_of(comment: Comment) -> list[dict[str, Any]]:
    return rows_for(
        comment.id, comment.reasons, comment.status, comment.created_at, comment.spam_score
    )


def _after_insert(_mapper: Any, connection: Connection, comment: Comment) -> None:
    insert_rows(connection, _rows_of(comment))


def _after_update(_mapper: Any, connection: Connection, comment: Comment) -> None:
    attrs = inspect(comment).attrs
    if not any(attrs[name].history.has_changes() for name in COPIED):
        return
    table = CommentReason.__table__
    connection.execute(delete(table).where(table.c.comment_id == comment.id))
    insert_rows(connection, _rows_of(comment))


def init_app(_app: Flask) -> None:
    """Install the mapper events that keep the rows (once per process, whatever the apps)."""
    for name, listener in (("after_insert", _after_insert), ("after_update", _after_update)):
        if not event.contains(Comment, name, listener):
            event.listen(Comment, name, listener)
