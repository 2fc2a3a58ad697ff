"""Webhooks: endpoints per site, a transactional outbox, signed deliveries on the task queue.

Emit an event inside the transaction that changes a comment with
`record_event(session, comment, EventType.X, extra={...})` (or `status_changed(...)`);
after that transaction commits, the delivery worker is woken (see `wake` and `delivery`).
"""

from __future__ import annotations

from flask import Flask

from moderation import taskqueue
from moderation.tables import EventType
from moderation.wake import Waker
from moderation.wake import wake_after_commit
from moderation.webhooks.delivery import DISPATCH
from moderation.webhooks.delivery import SLOTS
from moderation.webhooks.delivery import SWEEP
from moderation.webhooks.delivery import Slots
from moderation.webhooks.delivery import catch_up
from moderation.webhooks.delivery import dispatch
from moderation.webhooks.delivery import periodic_sweep
from moderation.webhooks.delivery import wake_dispatch
from moderation.webhooks.outbox import ENDPOINT_CACHE
from moderation.webhooks.outbox import EndpointCache
from moderation.webhooks.outbox import record_event
from moderation.webhooks.outbox import status_changed
from moderation.webhooks.outbox import take_new_events

__all__ = ["EventType", "init_app", "record_event", "status_changed"]

WAKER = "moderation.webhooks.waker"


def init_app(app: Flask) -> None:
    """Register the delivery tasks, and wake the worker after commits that added deliveries."""
    ttl = float(app.config["WEBHOOKS_ENDPOINTS_TTL_SECONDS"])
    app.extensions[ENDPOINT_CACHE] = EndpointCache(ttl)
    app.extensions[SLOTS] = Slots(int(app.config["WEBHOOKS_DISPATCHERS"]))
    waker = Waker(lambda: wake_dispatch(app), float(app.config["WEBHOOKS_WAKE_SECONDS"]))
    app.extensions[WAKER] = waker
    taskqueue.register(app, DISPATCH, dispatch)
    taskqueue.register(app, SWEEP, periodic_sweep, every_minute=True)
    taskqueue.on_worker_start(app, catch_up)
    wake_after_commit(app, waker, take_new_events)
