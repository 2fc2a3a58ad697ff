"""Listing the review queue: filters, sorts, keyset cursors and counts per status."""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy import bindparam
from sqlalchemy import cast
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import literal_column
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import tuple_
from sqlalchemy import union_all
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from moderation.db import LIKE_ESCAPE
from moderation.db import escape_like
from moderation.storable import in_id_range
from moderation.tables import Comment
from moderation.tables import Status

# A comment without a score sorts below every scored one (scores are 0..1).
NO_SCORE = -1.0


class Sort(enum.StrEnum):
    """The queue's orders: newest first (default), oldest first, highest spam score first."""

    NEWEST = "newest"
    OLDEST = "oldest"
    SCORE = "score"


@dataclass(frozen=True)
class QueueFilter:
    """Which comments a queue listing shows; status None means every status."""

    status: Status | None = Status.PENDING
    post_id: str | None = None
    site_id: int | None = None
    q: str | None = None
    author_email: str | None = None
    author_ip: str | None = None
    reason: str | None = None


def score_key() -> ColumnElement[float]:
    """Return the score sort's key (the expression ix_comments_status_score is built on)."""
    return func.coalesce(Comment.spam_score, literal_column(repr(NO_SCORE)))


@dataclass(frozen=True)
class Cursor:
    """A keyset position: the sort, and the last (key, id) of the previous page."""

    created_at: datetime | None
    id: int
    sort: Sort = Sort.NEWEST
    score: float | None = None

    def encode(self) -> str:
        """Return the opaque form handed to clients."""
        if self.sort is Sort.SCORE:
            raw = f"score|{self.score!r}|{self.id}"
        elif self.sort is Sort.OLDEST:
            raw = f"oldest|{self.created_at.isoformat() if self.created_at else ''}|{self.id}"
        else:  # the form cursors had before sorts existed
            raw = f"{self.created_at.isoformat() if self.created_at else ''}|{self.id}"
        return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        """Parse a cursor this module encoded, or raise ValueError."""
        try:
            padded = value + "=" * (-len(value) % 4)
            raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
            parts = raw.split("|")
            if len(parts) == 2:
                parts = [Sort.NEWEST.value, *parts]
            name, key, ident = parts
            sort = Sort(name)
            comment_id = int(ident)
            if not in_id_range(comment_id):
                raise ValueError("not a comment id")
            if sort is Sort.SCORE:
                score = float(key)
                if not NO_SCORE <= score <= 1.0:  # also refuses nan
                    raise ValueError("score out of range")
                return cls(None, comment_id, sort, score)
            created_at = datetime.fromisoformat(key)
            if created_at.tzinfo is None:
                raise ValueError("naive time")
        except (ValueError, UnicodeError, binascii.Error):
            raise ValueError("not a queue cursor") from None
        return cls(created_at, comment_id, sort)


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue in the asked order, and where the next one starts."""

    items: list[Comment]
    next_cursor: Cursor | None


def search_text() -> ColumnElement[str]:
    """Return what the search reads: name, email and text, lower-cased.

    The same expression as tables.SEARCH_TEXT_SQL, which PostgreSQL's trigram index
    (ix_comments_search_trgm) is built on, so that LIKE '%word%' can use it.
    """
    space = literal_column("' '")
    return (
        func.lower(Comment.author_name)
        .concat(space)
        .concat(func.lower(Comment.author_email))
        .concat(space)
        .concat(func.lower(Comment.content_raw))
    )


def _has_reason(dialect: str, code: str) -> ColumnElement[bool]:
    """Return 'one of the comment's reasons has this code' in the database's own JSON."""
    if dialect == "postgresql":
        # jsonb containment; ix_comments_reasons_gin (migration 0016) is built on it.
        return cast(Comment.reasons, JSONB).contains([{"code": code}])
    return text(
        "EXISTS (SELECT 1 FROM json_each(comments.reasons) AS reason"
        " WHERE json_extract(reason.value, '$.code') = :reason_code)"
    ).bindparams(bindparam("reason_code", code))


def _conditions(
    session: Session, queue: QueueFilter, *, with_status: bool = True
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if with_status and queue.status is not None:
        conditions.append(Comment.status == queue.status)
    if queue.site_id is not None:
        conditions.append(Comment.site_id == queue.site_id)
    if queue.post_id is not None:
        conditions.append(Comment.post_id == queue.post_id)
    if queue.author_email is not None:
        conditions.append(Comment.author_email == queue.author_email)
    if queue.author_ip is not None:
        conditions.append(Comment.author_ip == queue.author_ip)
    if queue.reason is not None:
        conditions.append(_has_reason(session.get_bind().dialect.name, queue.reason))
    if queue.q:
        pattern = "%" + escape_like(queue.q.strip()) + "%"
        conditions.append(search_text().like(func.lower(pattern), escape=LIKE_ESCAPE))
    return conditions


def _after(cursor: Cursor) -> ColumnElement[bool]:
    """Return 'comes after the cursor' in the cursor's own order (a row comparison)."""
    if cursor.sort is Sort.SCORE:
        return tuple_(score_key(), Comment.id) < tuple_(literal(cursor.score), literal(cursor.id))
    here = tuple_(literal(cursor.created_at, Comment.created_at.type), literal(cursor.id))
    if cursor.sort is Sort.OLDEST:
        return tuple_(Comment.created_at, Comment.id) > here
    return tuple_(Comment.created_at, Comment.id) < here


def list_queue(
    session: Session,
    queue: QueueFilter,
    *,
    cursor: Cursor | None = None,
    limit: int = 50,
    sort: Sort = Sort.NEWEST,
) -> QueuePage:
    """Return one page of comments in `sort` order, after `cursor` (keyset pagination).

    :raises ValueError: the cursor belongs to another sort.
    """
    stmt = select(Comment).where(*_conditions(session, queue))
    if cursor is not None:
        if cursor.sort is not sort:
            raise ValueError("the cursor belongs to another sort")
        stmt = stmt.where(_after(cursor))
    if sort is Sort.SCORE:
        stmt = stmt.order_by(score_key().desc(), Comment.id.desc())
    elif sort is Sort.OLDEST:
        stmt = stmt.order_by(Comment.created_at.asc(), Comment.id.asc())
    else:
        stmt = stmt.order_by(Comment.created_at.desc(), Comment.id.desc())
    rows = list(session.scalars(stmt.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more else None
    if last is None:
        return QueuePage(rows, None)
    if sort is Sort.SCORE:
        score = last.spam_score if last.spam_score is not None else NO_SCORE
        return QueuePage(rows, Cursor(None, last.id, sort, score))
    return QueuePage(rows, Cursor(last.created_at, last.id, sort))


def count_by_status(
    session: Session,
    queue: QueueFilter,
    *,
    limit: int | None,
    exact: frozenset[Status] = frozenset(),
) -> dict[Status, int]:
    """Count the comments of every status that match the filter's other criteria.

    Each count of a status not in `exact` stops at `limit` (None: exact): a capped count
    reads at most `limit` index entries per status, so the tabs stay fast with millions of
    comments. A count equal to `limit` means "at least that many".
    """
    conditions = _conditions(session, queue, with_status=False)
    parts = []
    for status in Status:
        matching = select(Comment.id).where(Comment.status == status, *conditions)
        if limit is not None and status not in exact:
            matching = matching.limit(limit)
        inner = matching.subquery()
        parts.append(
            select(literal(status.value).label("status"), func.count().label("n")).select_from(
                inner
            )
        )
    return {Status(status): count for status, count in session.execute(union_all(*parts))}
