"""Listing the review queue: filters, sorts, keyset cursors and counts per status."""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import literal_column
from sqlalchemy import select
from sqlalchemy import tuple_
from sqlalchemy import union_all
from sqlalchemy.orm import Session

from moderation.db import LIKE_ESCAPE
from moderation.db import escape_like
from moderation.storable import in_id_range
from moderation.tables import Comment
from moderation.tables import CommentReason
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


def _conditions(queue: QueueFilter) -> list[ColumnElement[bool]]:
    """Return the filter's conditions on comments but status and reason (see _matching)."""
    conditions: list[ColumnElement[bool]] = []
    if queue.site_id is not None:
        conditions.append(Comment.site_id == queue.site_id)
    if queue.post_id is not None:
        conditions.append(Comment.post_id == queue.post_id)
    if queue.author_email is not None:
        conditions.append(Comment.author_email == queue.author_email)
    if queue.author_ip is not None:
        conditions.append(Comment.author_ip == queue.author_ip)
    if queue.q:
        pattern = "%" + escape_like(queue.q.strip()) + "%"
        conditions.append(search_text().like(func.lower(pattern), escape=LIKE_ESCAPE))
    return conditions


@dataclass(frozen=True)
class _Keys:
    """The columns a listing sorts and pages by: the comment's, or its reason rows' copies."""

    created_at: Any
    score: Any
    id: Any

    @classmethod
    def of(cls, queue: QueueFilter) -> _Keys:
        """Return comment_reasons' keys when the filter has a reason, else the comment's."""
        if queue.reason is not None:
            return cls(CommentReason.created_at, CommentReason.score, CommentReason.comment_id)
        return cls(Comment.created_at, score_key(), Comment.id)


def _after(keys: _Keys, cursor: Cursor) -> ColumnElement[bool]:
    """Return 'comes after the cursor' in the cursor's own order (a row comparison)."""
    if cursor.sort is Sort.SCORE:
        return tuple_(keys.score, keys.id) < tuple_(literal(cursor.score), literal(cursor.id))
    here = tuple_(literal(cursor.created_at, Comment.created_at.type), literal(cursor.id))
    if cursor.sort is Sort.OLDEST:
        return tuple_(keys.created_at, keys.id) > here
    return tuple_(keys.created_at, keys.id) < here


def _matching(queue: QueueFilter, *columns: Any, status: Status | None) -> Select[Any]:
    """Select `columns` of the comments that match the filter, with `status` if given.

    With a reason, the statement starts from that reason's rows (whose index holds code,
    status and the sort keys), and reads comments only for the filter's other criteria or
    for the page's columns.
    """
    conditions = _conditions(queue)
    if queue.reason is None:
        if status is not None:
            conditions.insert(0, Comment.status == status)
        return select(*columns).where(*conditions)
    stmt = select(*columns).select_from(CommentReason).where(CommentReason.code == queue.reason)
    if status is not None:
        stmt = stmt.where(CommentReason.status == status)
    if conditions or any(column is Comment for column in columns):
        stmt = stmt.join(Comment, Comment.id == CommentReason.comment_id).where(*conditions)
    return stmt


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
    keys = _Keys.of(queue)
    stmt = _matching(queue, Comment, status=queue.status)
    if cursor is not None:
        if cursor.sort is not sort:
            raise ValueError("the cursor belongs to another sort")
        stmt = stmt.where(_after(keys, cursor))
    if sort is Sort.SCORE:
        stmt = stmt.order_by(keys.score.desc(), keys.id.desc())
    elif sort is Sort.OLDEST:
        stmt = stmt.order_by(keys.created_at.asc(), keys.id.asc())
    else:
        stmt = stmt.order_by(keys.created_at.desc(), keys.id.desc())
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
    comments. A count equal to `limit` means "at least that many". With a reason, each
    count reads that reason's index rows of one status (exact ones included).
    """
    key = _Keys.of(queue).id
    parts = []
    for status in Status:
        matching = _matching(queue, key, status=status)
        if limit is not None and status not in exact:
            matching = matching.limit(limit)
        inner = matching.subquery()
        parts.append(
            select(literal(status.value).label("status"), func.count().label("n")).select_from(
                inner
            )
        )
    return {Status(status): count for status, count in session.execute(union_all(*parts))}
