"""The transactional outbox: record_event() writes an event in the change's own transaction.

Call it wherever a comment changes, with the session that makes the change, before the
view commits: the event rows commit or roll back with the change, so a site is never
told of a change that did not happen and never misses one that did. Nothing is sent
here; after the commit, the delivery worker is woken (see `wake.Waker`), and a sweep
finds any delivery whose wake-up was lost.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask
from flask import current_app
from flask import has_app_context
from sqlalchemy import Table
from sqlalchemy import bindparam
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from moderation.db import json_text
from moderation.tables import Comment
from moderation.tables import EventType
from moderation.tables import Site
from moderation.tables import WebhookEndpoint
from moderation.tables import WebhookEvent
from moderation.tables import utcnow
from moderation.webhooks.fanout import marks_events

# session.info key: this transaction wrote events; wake the worker after it commits.
NEW_EVENTS = "moderation.webhooks.new_events"


def new_msg_id() -> str:
    """Return a new webhook-id: milliseconds then 96 random bits, so ids sort by time.

    No index keeps ids unique (it cost each change a b-tree insert and a WAL page or
    more): two ids are equal only if their millisecond and their 96 random bits are.
    """
    return f"msg_{time.time_ns() // 1_000_000:012x}{secrets.token_hex(12)}"


def comment_data(comment: Comment, site_name: str) -> dict[str, Any]:
    """Return a comment's public fields as the webhooks send them (no e-mail, no IP)."""
    return public_fields(comment.id, {name: getattr(comment, name) for name in _PUBLIC}, site_name)


_PUBLIC = (
    "post_id",
    "parent_id",
    "status",
    "spam_score",
    "reasons",
    "content_html",
    "author_name",
    "author_url",
    "created_at",
)


def public_fields(comment_id: int, values: Mapping[str, Any], site_name: str) -> dict[str, Any]:
    """Return the public fields of a comment given as column values (the intake's row)."""
    created_at = values["created_at"]
    return {
        "id": comment_id,
        "site": site_name,
        "post_id": values["post_id"],
        "parent_id": values["parent_id"],
        "status": str(values["status"]),
        "spam_score": values["spam_score"],
        "reasons": list(values["reasons"] or []),
        "content_html": values["content_html"],
        "author_name": values["author_name"],
        "author_url": values["author_url"],
        "created_at": created_at.isoformat() if created_at else None,
    }


def erased_data(comment: Comment, site_name: str) -> dict[str, Any]:
    """Return what an erasure event tells: which comment, nothing of what was erased."""
    return {"id": comment.id, "site": site_name, "post_id": comment.post_id}


_ENDPOINTS = WebhookEndpoint.__table__
_INSERT_EVENT = insert(WebhookEvent.__table__)


@dataclass(frozen=True)
class RecordedEvent:
    """An event just written to the outbox (its id comes with the commit)."""

    msg_id: str
    type: EventType
    payload: dict[str, Any]


ENDPOINT_CACHE = "moderation.webhooks.endpoints"
Listing = list[tuple[int, list[str]]]


class EndpointCache:
    """Per-process memory of each site's enabled endpoints, trusted for `ttl` seconds.

    Saves the intake a query per comment. Changes made in this process (the API, the
    admin page, a delivery disabling an endpoint) clear it at once; other processes and
    hosts see them within WEBHOOKS_ENDPOINTS_TTL_SECONDS.
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._sites: dict[int, tuple[float, Listing]] = {}

    def get(self, site_id: int) -> Listing | None:
        """Return the site's endpoints if read less than ttl seconds ago."""
        entry = self._sites.get(site_id)
        if entry is None or self._clock() - entry[0] >= self.ttl:
            return None
        return entry[1]

    def put(self, site_id: int, listing: Listing) -> None:
        """Remember the site's endpoints as just read."""
        if self.ttl > 0:
            self._sites[site_id] = (self._clock(), listing)

    def clear(self) -> None:
        """Forget everything (an endpoint changed in this process)."""
        self._sites.clear()


def forget_endpoints(app: Flask) -> None:
    """Drop this process's remembered endpoints, so a change here applies at once."""
    cache = app.extensions.get(ENDPOINT_CACHE)
    if cache is not None:
        cache.clear()


def _listing(session: Session, site_id: int) -> Listing:
    cache: EndpointCache | None = (
        current_app.extensions.get(ENDPOINT_CACHE) if has_app_context() else None
    )
    listing = cache.get(site_id) if cache is not None else None
    if listing is None:
        rows = session.execute(
            select(_ENDPOINTS.c.id, _ENDPOINTS.c.events).where(
                _ENDPOINTS.c.site_id == site_id, _ENDPOINTS.c.enabled.is_(True)
            )
        )
        listing = [(endpoint_id, list(events or [])) for endpoint_id, events in rows]
        if cache is not None:
            cache.put(site_id, listing)
    return listing


def subscribers(session: Session, site_id: int, event_type: EventType) -> list[int]:
    """Return the ids of the site's enabled endpoints that want this event."""
    return [e for e, events in _listing(session, site_id) if str(event_type) in events]


def record_event(
    session: Session,
    comment: Comment,
    event_type: EventType,
    extra: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
    site_name: str | None = None,
) -> RecordedEvent | None:
    """Write `event_type` for `comment` into the outbox of this transaction (no commit).

    `comment` must be flushed (it has an id). `extra` goes into `data` beside "comment"
    (comment.status_changed passes old_status, new_status, actor, note). `site_name`
    saves a query when the caller knows it. Returns the event, or None when no endpoint
    of the comment's site wants it (nothing written).
    """
    endpoints = subscribers(session, comment.site_id, event_type)
    if not endpoints:
        return None
    if site_name is None:
        site = session.get(Site, comment.site_id)
        site_name = site.name if site is not None else ""
    about = (
        erased_data(comment, site_name)
        if event_type is EventType.ERASED
        else comment_data(comment, site_name)
    )
    connection = session.connection()
    dialect = connection.dialect.name
    row = event_row(comment.site_id, endpoints, event_type, about, extra, now or utcnow(), dialect)
    connection.execute(_INSERT_EVENT, row)
    session.info[NEW_EVENTS] = True
    return RecordedEvent(row["msg_id"], event_type, row["payload"])


def event_row(
    site_id: int,
    endpoints: list[int],
    event_type: EventType,
    about: dict[str, Any],
    extra: dict[str, Any] | None,
    now: datetime,
    dialect_name: str,
) -> dict[str, Any]:
    """Return the outbox row of an event about the comment described by `about`.

    The database (`dialect_name`) decides whether the row is flagged for the fan-out
    (see `fanout.marks_events`; SQLite finds new events past its cursor instead).
    """
    return {
        "msg_id": new_msg_id(),
        "site_id": site_id,
        "comment_id": about["id"],
        "type": event_type,
        "payload": {
            "type": str(event_type),
            "timestamp": now.isoformat(),
            "data": {"comment": about, **(extra or {})},
        },
        "created_at": now,
        # The deliveries are made by the worker (see `fanout`), not in this transaction.
        "endpoint_ids": endpoints,
        "fanout_pending": marks_events(dialect_name),
    }


class InsertWithEvent:
    """Insert a row of `table` and, when there is one, an outbox row in the same transaction.

    The intake's hot path (built once per table at import). On PostgreSQL both rows go in
    one statement (the row's insert as a data-modifying CTE), so an event costs no round
    trip of its own. SQLite has no such CTE; there the event goes through the driver's
    own cursor, its values bound by the columns' own SQLAlchemy types with the engine's
    JSON serializer (`db.json_text`), which spares the request SQLAlchemy's execution
    path (about half of what an event cost it, counted with callgrind).
    """

    def __init__(self, table: Table) -> None:
        columns = [c for c in table.c if not c.primary_key]
        self.alone = insert(table)
        companion = insert(table).values(
            {c.name: bindparam(f"row_{c.name}", type_=c.type) for c in columns}
        )
        events = [c for c in WebhookEvent.__table__.c if not c.primary_key]
        self.together = (
            insert(WebhookEvent.__table__)
            .values({c.name: bindparam(f"event_{c.name}", type_=c.type) for c in events})
            .add_cte(companion.cte(f"{table.name}_row"))
        )
        sqlite_dialect = sqlite.dialect(json_serializer=json_text)
        self.sqlite_event = (
            f"INSERT INTO webhook_events ({', '.join(c.name for c in events)})"  # noqa: S608
            f" VALUES ({', '.join('?' for _ in events)})"
        )
        # dialect_impl: a TypeDecorator's own bind_processor would use its generic impl
        # (UTCDateTime would hand pysqlite a datetime, stored without a zero fraction).
        self.sqlite_binds = [
            (c.name, c.type.dialect_impl(sqlite_dialect).bind_processor(sqlite_dialect))
            for c in events
        ]

    def execute(self, session: Session, row: dict[str, Any], event: dict[str, Any] | None) -> None:
        """Insert `row`, and `event` (an `event_row`) unless it is None."""
        connection = session.connection()
        if event is None:
            connection.execute(self.alone, row)
            return
        if connection.dialect.name == "postgresql":
            params = {f"row_{k}": v for k, v in row.items()}
            params.update({f"event_{k}": v for k, v in event.items()})
            connection.execute(self.together, params)
        else:
            connection.execute(self.alone, row)
            values = [bind(event[k]) if bind else event[k] for k, bind in self.sqlite_binds]
            connection.connection.dbapi_connection.execute(self.sqlite_event, values)
        session.info[NEW_EVENTS] = True


def status_changed(
    session: Session,
    comment: Comment,
    old_status: str | None,
    actor: str,
    note: str | None,
    *,
    now: datetime | None = None,
) -> WebhookEvent | None:
    """Record comment.status_changed (old and new status, who, note)."""
    extra = {
        "old_status": None if old_status is None else str(old_status),
        "new_status": str(comment.status),
        "actor": actor,
        "note": note,
    }
    return record_event(session, comment, EventType.STATUS_CHANGED, extra, now=now)


def take_new_events(session: Session) -> bool:
    """Return whether this session's transaction wrote events or deliveries; forget it."""
    return bool(session.info.pop(NEW_EVENTS, False))
