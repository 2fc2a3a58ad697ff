"""Webhooks: endpoints per site, a transactional outbox, signed deliveries on the task queue.

Emit an event inside the transaction that changes a comment with
`record_event(session, comment, EventType.X, extra={...})` (or `status_changed(...)`);
the deliveries are enqueued after that transaction commits.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from moderation import db
from moderation import taskqueue
from moderation.tables import EventType
from moderation.webhooks.delivery import DELIVER
from moderation.webhooks.delivery import SWEEP
from moderation.webhooks.delivery import catch_up
from moderation.webhooks.delivery import deliver
from moderation.webhooks.delivery import periodic_sweep
from moderation.webhooks.outbox import ENDPOINT_CACHE
from moderation.webhooks.outbox import NEW_DELIVERIES
from moderation.webhooks.outbox import EndpointCache
from moderation.webhooks.outbox import record_event
from moderation.webhooks.outbox import status_changed
from moderation.webhooks.outbox import take_new_deliveries

__all__ = ["EventType", "init_app", "record_event", "status_changed"]


def init_app(app: Flask) -> None:
    """Register the delivery tasks and enqueue each transaction's deliveries after its commit."""
    ttl = float(app.config["WEBHOOKS_ENDPOINTS_TTL_SECONDS"])
    app.extensions[ENDPOINT_CACHE] = EndpointCache(ttl)
    taskqueue.register(app, DELIVER, deliver)
    taskqueue.register(app, SWEEP, periodic_sweep, every_minute=True)
    taskqueue.on_worker_start(app, catch_up)

    def after_commit(session: Session) -> None:
        for delivery_id in take_new_deliveries(session):
            taskqueue.enqueue(app, DELIVER, delivery_id)

    def after_rollback(session: Session) -> None:
        session.info.pop(NEW_DELIVERIES, None)

    for key in (db.SESSIONMAKER, db.WRITE_SESSIONMAKER):
        event.listen(app.extensions[key], "after_commit", after_commit)
        event.listen(app.extensions[key], "after_rollback", after_rollback)
