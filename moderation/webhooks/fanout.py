"""Fan-out: turn outbox events into one pending delivery per endpoint that wanted them.

The change's transaction writes only the event row (see `outbox`); the worker makes its
deliveries here, oldest event first, so the deliveries of one comment are numbered in the
order its events happened, which is the order they are sent in (see `claims`). One
fan-out runs at a time: PostgreSQL takes a transaction-scoped advisory lock (a second
worker skips the turn), SQLite has one writer anyway.

What waits differs by database (see `marks_events`): PostgreSQL flags each new event
`fanout_pending` (a partial index finds them); SQLite gives ids in commit order and
never twice, so the waiting events are those past the cursor row, and the change that
writes an event writes no index entry for it.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from sqlalchemy import ColumnElement
from sqlalchemy import FromClause
from sqlalchemy import Insert
from sqlalchemy import Integer
from sqlalchemy import Select
from sqlalchemy import Update
from sqlalchemy import bindparam
from sqlalchemy import cast
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy import update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Exists
from sqlalchemy.sql.expression import TableValuedAlias

from moderation import db
from moderation.tables import DeliveryStatus
from moderation.tables import UTCDateTime
from moderation.tables import WebhookDelivery
from moderation.tables import WebhookEndpoint
from moderation.tables import WebhookEvent
from moderation.tables import WebhookFanoutCursor
from moderation.tables import utcnow

D = WebhookDelivery
E = WebhookEvent
C = WebhookFanoutCursor
# pg_try_advisory_xact_lock key for "one fan-out at a time" ("whfo" in ASCII).
_FANOUT_LOCK = 0x7768666F


def marks_events(dialect_name: str) -> bool:
    """Return whether new events are flagged fanout_pending (else found past the cursor).

    PostgreSQL: yes, a sequence hands ids out before commit, so a later id can commit
    first and no cursor could tell what waits. SQLite: no, one writer at a time gives
    ids in commit order and AUTOINCREMENT never gives one twice.
    """
    return dialect_name == "postgresql"


def fanout_waits(dialect_name: str) -> Exists:
    """Return the condition "an event waits for its deliveries to be made"."""
    if marks_events(dialect_name):
        return exists().where(E.fanout_pending.is_(True))
    return exists().where(E.id > _cursor())


def waits_for_fanout(session: Session, event_id: int) -> bool:
    """Return whether the event's deliveries are still to be made."""
    if marks_events(session.get_bind().dialect.name):
        return bool(session.scalar(select(E.fanout_pending).where(E.id == event_id)))
    return event_id > session.scalar(select(_cursor()))


def _cursor() -> ColumnElement[int]:
    """SQLite: the id of the last event fanned out (0 before the first)."""
    return func.coalesce(select(C.event_id).where(C.id == 1).scalar_subquery(), 0)


def fan_out(app: Flask, limit: int = 500) -> int:
    """Make the deliveries of up to `limit` waiting events in a transaction of their own."""
    with db.new_session(app, write=True) as session:
        done = fan_out_in(app, session, limit)
        session.commit()
    return done


def fan_out_in(app: Flask, session: Session, limit: int = 500, now: datetime | None = None) -> int:
    """Make the deliveries of up to `limit` waiting events in `session`; return how many.

    Takes the turn first: on PostgreSQL another transaction fanning out makes this one
    return 0 (the next turn sees what is left). The deliveries are due at `now`. The work
    is set-based SQL, no rows through Python: on SQLite it holds the write lock that the
    intake needs too, so it must be short.
    """
    values = {"now": now or utcnow(), "limit": limit}
    if session.get_bind().dialect.name == "postgresql":
        if not session.scalar(select(func.pg_try_advisory_xact_lock(_FANOUT_LOCK))):
            return 0
        return int(session.scalar(db.prepared(app, _fan_out_postgresql), values))
    # SQLite: this transaction holds the write lock, so no event can come in between.
    count, last = session.execute(db.prepared(app, _take_sqlite), values).one()
    if count:
        session.execute(db.prepared(app, _fan_out_sqlite), {**values, "last": last})
        session.execute(db.prepared(app, _advance_sqlite), {"last": last})
    return int(count)


def _take_postgresql() -> Update:
    """PostgreSQL: UPDATE clearing the flag of up to :limit waiting events, oldest first."""
    waiting = (
        select(E.id)
        .where(E.fanout_pending.is_(True))
        .order_by(E.id)
        .limit(bindparam("limit", type_=Integer()))
    )
    return (
        update(E)
        .where(E.id.in_(waiting.scalar_subquery()))
        .values(fanout_pending=False)
        .execution_options(synchronize_session=False)
    )


def _fan_out_postgresql() -> Select[tuple[int]]:
    """One statement, so one snapshot: the events marked are the events fanned out."""
    columns = (E.id, E.comment_id, E.endpoint_ids, E.created_at)
    taken = _take_postgresql().returning(*columns).cte("taken")
    wanted = (
        func.json_array_elements_text(taken.c.endpoint_ids)
        .table_valued("value", with_ordinality="position")
        .render_derived()
    )
    made = _deliveries(taken, wanted, cast(wanted.c.value, Integer), wanted.c.position)
    return select(func.count()).select_from(taken).add_cte(made.cte())


def _take_sqlite() -> Select[tuple[int, int | None]]:
    """SQLite: how many events past the cursor the turn takes (:limit at most), and the last."""
    taken = (
        select(E.id)
        .where(E.id > _cursor())
        .order_by(E.id)
        .limit(bindparam("limit", type_=Integer()))
        .subquery()
    )
    return select(func.count(), func.max(taken.c.id))


def _advance_sqlite() -> Insert:
    """SQLite: move the cursor to event :last (its row is made the first time)."""
    upsert = sqlite_insert(C).values(id=1, event_id=bindparam("last", type_=Integer()))
    return upsert.on_conflict_do_update(
        index_elements=[C.id], set_={"event_id": upsert.excluded.event_id}
    )


def _fan_out_sqlite() -> Insert:
    """SQLite: make the deliveries of the events past the cursor up to event :last."""
    wanted = func.json_each(E.endpoint_ids).table_valued("value", "key")
    taken = (E.id > _cursor(), E.id <= bindparam("last", type_=Integer()))
    return _deliveries(E.__table__, wanted, wanted.c.value, wanted.c.key, *taken)


def _deliveries(
    events: FromClause,
    wanted: TableValuedAlias,
    endpoint_id: ColumnElement[int],
    position: ColumnElement[int],
    *criteria: ColumnElement[bool],
) -> Insert:
    """INSERT … SELECT one pending delivery per event and wanted endpoint, in event order.

    The deliveries are due at :now. An endpoint deleted since the event takes nothing
    (the join drops it); the retry window counts from the change (the event's time).
    """
    rows = (
        select(
            events.c.id,
            endpoint_id,
            events.c.comment_id,
            literal(DeliveryStatus.PENDING, D.status.type),
            literal(0),
            bindparam("now", type_=UTCDateTime()),
            events.c.created_at,
        )
        .select_from(events)
        .join(wanted, true())
        .join(WebhookEndpoint, WebhookEndpoint.id == endpoint_id)
        .where(*criteria)
        .order_by(events.c.id, position)
    )
    columns = ["event_id", "endpoint_id", "comment_id", "status", "attempts"]
    # The table, not the entity: with bound values, an ORM insert would be a bulk insert.
    return insert(D.__table__).from_select([*columns, "next_attempt_at", "created_at"], rows)
