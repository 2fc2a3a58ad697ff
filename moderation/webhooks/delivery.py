"""Delivering the outbox: claim a delivery with a lease, send it, retry with backoff, in order.

At least once: a delivery is marked delivered only after the receiver answered 2xx, so a
worker that dies mid-send leaves it pending; its lease runs out and another worker (or
the same one restarted) sends it again, with the same webhook-id. Two workers never send
one delivery at once: each claims the row first (PostgreSQL: SELECT … FOR UPDATE SKIP
LOCKED, then the lease; SQLite: one atomic UPDATE), and the lease outlives the send's
timeout. Events of one comment go to an endpoint in order: a delivery is claimable only
when no earlier delivery of the same comment to the same endpoint is still pending, and a
worker that finishes one goes on with the next of that comment.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import aliased

from moderation import db
from moderation import taskqueue
from moderation.tables import DeliveryStatus
from moderation.tables import WebhookDelivery
from moderation.tables import WebhookEndpoint
from moderation.tables import WebhookEvent
from moderation.tables import utcnow
from moderation.webhooks.outbox import forget_endpoints
from moderation.webhooks.sender import Outcome
from moderation.webhooks.sender import send

logger = logging.getLogger(__name__)

DELIVER = "webhook_deliver"
SWEEP = "webhook_sweep"
D = WebhookDelivery


@dataclass(frozen=True)
class Policy:
    """Timings of deliveries (WEBHOOKS_* settings; tests shrink them)."""

    timeout: float
    retry_base: float
    retry_max: float
    retry_window: float
    lease: float
    sweep_after: float
    allow_private: bool

    @classmethod
    def of(cls, config: Any) -> Policy:
        """Read the policy from the app's config."""
        return cls(
            timeout=float(config["WEBHOOKS_TIMEOUT_SECONDS"]),
            retry_base=float(config["WEBHOOKS_RETRY_BASE_SECONDS"]),
            retry_max=float(config["WEBHOOKS_RETRY_MAX_SECONDS"]),
            retry_window=float(config["WEBHOOKS_RETRY_WINDOW_SECONDS"]),
            lease=float(config["WEBHOOKS_LEASE_SECONDS"]),
            sweep_after=float(config["WEBHOOKS_SWEEP_AFTER_SECONDS"]),
            allow_private=bool(config["WEBHOOKS_ALLOW_PRIVATE"]),
        )

    def backoff(self, attempts: int, rng: random.Random | None = None) -> float:
        """Return the wait before the next attempt: exponential, capped, half of it jittered."""
        delay = min(self.retry_base * 2 ** max(attempts - 1, 0), self.retry_max)
        return delay / 2 + (rng or random).uniform(0, delay / 2)


@dataclass(frozen=True)
class Claim:
    """A delivery this worker holds the lease of, with what it needs to send it."""

    delivery_id: int
    endpoint_id: int
    comment_id: int
    url: str
    secret: str
    msg_id: str
    payload: dict[str, Any]


def worker_name() -> str:
    """Return host:pid:thread, naming the claimer in the row."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _line_head() -> tuple[Any, ...]:
    """Conditions of a pending delivery first in its comment's line to an enabled endpoint."""
    earlier = aliased(WebhookDelivery)
    enabled = select(WebhookEndpoint.id).where(WebhookEndpoint.enabled.is_(True))
    return (
        D.status == DeliveryStatus.PENDING,
        D.endpoint_id.in_(enabled),
        ~exists().where(
            earlier.endpoint_id == D.endpoint_id,
            earlier.comment_id == D.comment_id,
            earlier.status == DeliveryStatus.PENDING,
            earlier.id < D.id,
        ),
    )


def _claimable(now: datetime) -> tuple[Any, ...]:
    return (
        *_line_head(),
        D.next_attempt_at <= now,
        or_(D.lease_until.is_(None), D.lease_until < now),
    )


def claim(app: Flask, delivery_id: int, worker: str, policy: Policy) -> Claim | None:
    """Take the lease of a due delivery at the head of its comment's line, or return None."""
    now = utcnow()
    lease = {
        "lease_until": now + timedelta(seconds=policy.lease),
        "claimed_by": worker,
        "attempts": D.attempts + 1,
        "last_attempt_at": now,
    }
    with db.new_session(app, write=True) as session:
        if session.get_bind().dialect.name == "postgresql":
            locked = session.scalar(
                select(D.id)
                .where(D.id == delivery_id, *_claimable(now))
                .with_for_update(skip_locked=True)
            )
            if locked is None:
                return None
            session.execute(update(D).where(D.id == delivery_id).values(**lease))
        else:
            result = session.execute(
                update(D)
                .where(D.id == delivery_id, *_claimable(now))
                .values(**lease)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                session.rollback()
                return None
        row = session.execute(
            select(WebhookEndpoint.url, WebhookEndpoint.secret, WebhookEvent.msg_id)
            .add_columns(WebhookEvent.payload, D.endpoint_id, D.comment_id)
            .join(WebhookEndpoint, WebhookEndpoint.id == D.endpoint_id)
            .join(WebhookEvent, WebhookEvent.id == D.event_id)
            .where(D.id == delivery_id)
        ).one()
        session.commit()
    return Claim(delivery_id, row[4], row[5], row[0], row[1], row[2], row[3])


def finish(
    app: Flask, held: Claim, outcome: Outcome, worker: str, policy: Policy
) -> tuple[bool, datetime | None]:
    """Store an attempt's outcome; return (line may go on, retry time if one is due)."""
    now = utcnow()
    with db.new_session(app, write=True) as session:
        # The delivery and its endpoint in one query (was two lookups per delivery).
        found = session.execute(
            select(D, WebhookEndpoint)
            .outerjoin(WebhookEndpoint, WebhookEndpoint.id == D.endpoint_id)
            .where(D.id == held.delivery_id)
        ).first()
        delivery, endpoint = found if found is not None else (None, None)
        if (
            delivery is None
            or delivery.status is not DeliveryStatus.PENDING
            or delivery.claimed_by != worker
        ):
            logger.info("delivery %s was taken over meanwhile", held.delivery_id)
            return False, None
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        delivery.lease_until = None
        retry_at = None
        if outcome.delivered:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = now
            if endpoint is not None:
                endpoint.failing_since = None
        else:
            if endpoint is not None and endpoint.failing_since is None:
                endpoint.failing_since = now
            retry_at = now + timedelta(seconds=policy.backoff(delivery.attempts))
            if retry_at > delivery.created_at + timedelta(seconds=policy.retry_window):
                delivery.status = DeliveryStatus.FAILED
                retry_at = None
                if endpoint is not None:
                    _disable(endpoint, now, delivery, outcome)
            else:
                delivery.next_attempt_at = retry_at
        session.commit()
    if delivery.status is DeliveryStatus.FAILED:
        forget_endpoints(app)  # the endpoint was disabled: stop recording events for it here
    return delivery.status is not DeliveryStatus.PENDING, retry_at


def _disable(
    endpoint: WebhookEndpoint, now: datetime, delivery: WebhookDelivery, outcome: Outcome
) -> None:
    endpoint.enabled = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = (
        f"delivery {delivery.id} still failed after {delivery.attempts} attempts"
        f" ({outcome.error or outcome.status_code}); fix the receiver, then enable it again"
    )
    logger.warning("webhook endpoint %s disabled: %s", endpoint.id, endpoint.disabled_reason)


def next_in_line(session: Session, held: Claim) -> int | None:
    """Return the next pending delivery of the same comment to the same endpoint."""
    return session.scalar(
        select(D.id)
        .where(
            D.endpoint_id == held.endpoint_id,
            D.comment_id == held.comment_id,
            D.status == DeliveryStatus.PENDING,
            D.id > held.delivery_id,
        )
        .order_by(D.id)
        .limit(1)
    )


def deliver(app: Flask, delivery_id: int) -> int:
    """Send a delivery, then the deliveries of the same comment waiting behind it; return sent."""
    policy = Policy.of(app.config)
    worker = worker_name()
    sent = 0
    current: int | None = delivery_id
    while current is not None:
        held = claim(app, current, worker, policy)
        if held is None:
            return sent
        outcome = send(
            held.url,
            held.secret,
            held.msg_id,
            held.payload,
            at=utcnow(),
            timeout=policy.timeout,
            allow_private=policy.allow_private,
        )
        sent += 1
        done, retry_at = finish(app, held, outcome, worker, policy)
        if retry_at is not None:
            taskqueue.enqueue(app, DELIVER, held.delivery_id, eta=retry_at)
        if not done:
            return sent
        with db.new_session(app) as session:
            current = next_in_line(session, held)
    return sent


def line_heads(session: Session, *, endpoint_id: int | None = None) -> list[tuple[int, datetime]]:
    """Return (id, due time) of each pending delivery first in its comment's line."""
    stmt = (
        select(D.id, D.next_attempt_at, D.lease_until)
        .where(*_line_head())
        .order_by(D.id)
        .limit(10_000)
    )
    if endpoint_id is not None:
        stmt = stmt.where(D.endpoint_id == endpoint_id)
    return [
        (row.id, max(row.next_attempt_at, row.lease_until or row.next_attempt_at))
        for row in session.execute(stmt)
    ]


def sweep(
    app: Flask, *, overdue_seconds: float | None = None, endpoint_id: int | None = None
) -> int:
    """Enqueue the line heads whose task was lost (overdue), or all of them; return how many."""
    now = utcnow()
    with db.new_session(app) as session:
        heads = line_heads(session, endpoint_id=endpoint_id)
    count = 0
    for delivery_id, due in heads:
        if overdue_seconds is not None and due > now - timedelta(seconds=overdue_seconds):
            continue
        taskqueue.enqueue(app, DELIVER, delivery_id, eta=due if due > now else None)
        count += 1
    return count


def periodic_sweep(app: Flask) -> int:
    """Every minute: enqueue deliveries overdue by WEBHOOKS_SWEEP_AFTER_SECONDS (lost tasks)."""
    return sweep(app, overdue_seconds=Policy.of(app.config).sweep_after)


def catch_up(app: Flask) -> None:
    """At a worker's start: enqueue every pending line head (work a dead worker left)."""
    count = sweep(app)
    if count:
        logger.info("worker start: %d webhook deliveries put back on the queue", count)
