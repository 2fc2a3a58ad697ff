"""Fan-out: turn outbox events into one pending delivery per endpoint that wanted them.

The change's transaction writes only the event row (see `outbox`); the worker makes its
deliveries here, oldest event first, so the deliveries of one comment are numbered in the
order its events happened, which is the order they are sent in (see `claims`). One
fan-out runs at a time: PostgreSQL takes a transaction-scoped advisory lock (a second
worker skips the turn), SQLite has one writer anyway.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Exists

from moderation import db
from moderation.tables import DeliveryStatus
from moderation.tables import WebhookDelivery
from moderation.tables import WebhookEndpoint
from moderation.tables import WebhookEvent
from moderation.tables import utcnow

E = WebhookEvent
# pg_try_advisory_xact_lock key for "one fan-out at a time" ("whfo" in ASCII).
_FANOUT_LOCK = 0x7768666F


def fanout_waits() -> Exists:
    """Return the condition "an event waits for its deliveries to be made"."""
    return exists().where(E.fanout_pending.is_(True))


def fan_out(app: Flask, limit: int = 500) -> int:
    """Make the deliveries of up to `limit` waiting events in a transaction of their own."""
    with db.new_session(app, write=True) as session:
        done = fan_out_in(session, limit)
        session.commit()
    return done


def fan_out_in(session: Session, limit: int = 500) -> int:
    """Make the deliveries of up to `limit` waiting events in `session`; return how many.

    Takes the turn first: on PostgreSQL another transaction fanning out makes this one
    return 0 (the next turn sees what is left).
    """
    if session.get_bind().dialect.name == "postgresql" and not session.scalar(
        select(func.pg_try_advisory_xact_lock(_FANOUT_LOCK))
    ):
        return 0
    events = session.execute(
        select(E.id, E.comment_id, E.endpoint_ids, E.created_at)
        .where(E.fanout_pending.is_(True))
        .order_by(E.id)
        .limit(limit)
    ).all()
    if not events:
        return 0
    now = utcnow()
    wanted = {endpoint for event in events for endpoint in event.endpoint_ids or []}
    existing = set(
        session.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.id.in_(wanted)))
    )
    deliveries = [
        {
            "event_id": event.id,
            "endpoint_id": endpoint,
            "comment_id": event.comment_id,
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": event.created_at,  # the retry window counts from the change
        }
        for event in events
        for endpoint in event.endpoint_ids or []
        if endpoint in existing  # an endpoint deleted since takes nothing
    ]
    if deliveries:
        session.execute(insert(WebhookDelivery), deliveries)
    session.execute(
        update(E)
        .where(E.id.in_([event.id for event in events]))
        .values(fanout_pending=False)
        .execution_options(synchronize_session=False)
    )
    return len(events)
