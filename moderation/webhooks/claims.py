"""Claiming deliveries with a lease, a batch at a time (`outcomes` stores what they got).

At least once: a delivery is marked delivered only after the receiver answered 2xx, so a
worker that dies mid-send leaves it pending; its lease runs out and another worker (or
the same one restarted) sends it again, with the same webhook-id. Two workers never send
one delivery at once: each claims rows first (PostgreSQL: SELECT … FOR UPDATE SKIP
LOCKED, then the lease; SQLite: one atomic UPDATE … RETURNING), and the lease outlives
every send of the batch. Events of one comment go to an endpoint in order: a delivery is
claimable only when no earlier delivery of the same comment to the same endpoint is
still pending, so a batch holds at most one delivery of each comment's line.
"""

from __future__ import annotations

import os
import random
import socket
import threading
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import Integer
from sqlalchemy import Select
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import Update
from sqlalchemy import bindparam
from sqlalchemy import cast
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import aliased

from moderation import db
from moderation.tables import DeliveryStatus
from moderation.tables import UTCDateTime
from moderation.tables import WebhookDelivery
from moderation.tables import WebhookEndpoint
from moderation.tables import WebhookEvent
from moderation.tables import utcnow
from moderation.webhooks.endpoint_secrets import signing_secret
from moderation.webhooks.fanout import fan_out_in

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
    batch: int
    linger: float
    gather: float

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
            batch=int(config["WEBHOOKS_BATCH"]),
            linger=float(config["WEBHOOKS_LINGER_SECONDS"]),
            gather=float(config["WEBHOOKS_GATHER_SECONDS"]),
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
    body: str  # the event's JSON as stored: sent and signed as it is, never decoded
    lease_until: datetime


def worker_name() -> str:
    """Return host:pid:thread, naming the claimer in the row."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def line_head() -> tuple[Any, ...]:
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


def claimable() -> tuple[Any, ...]:
    """Conditions of a delivery a worker may claim at :now (due, unleased, first in line)."""
    now = bindparam("now", type_=UTCDateTime())
    return (
        *line_head(),
        D.next_attempt_at <= now,
        or_(D.lease_until.is_(None), D.lease_until < now),
    )


def _due(batch: int, only: bool) -> Select[tuple[int]]:
    """Ids of up to `batch` claimable deliveries, oldest first (with `only`: just :only)."""
    due = select(D.id).where(*claimable()).order_by(D.id).limit(batch)
    return due.where(D.id == bindparam("only", type_=Integer())) if only else due


def _lease() -> dict[str, Any]:
    """The SET clause of a claim: the lease to :lease_to for :claimer, one attempt more."""
    return {
        "lease_until": bindparam("lease_to", type_=UTCDateTime()),
        "claimed_by": bindparam("claimer", type_=String()),
        "attempts": D.attempts + 1,
        "last_attempt_at": bindparam("now", type_=UTCDateTime()),
    }


def _claim_sqlite(batch: int, only: bool) -> Update:
    """SQLite: lease the due deliveries in one atomic UPDATE … RETURNING."""
    return (
        update(D)
        .where(D.id.in_(_due(batch, only).scalar_subquery()))
        .values(**_lease())
        .returning(D.id)
        .execution_options(synchronize_session=False)
    )


def _due_postgresql(batch: int, only: bool) -> Select[tuple[int]]:
    """PostgreSQL: lock the due deliveries no other worker has locked."""
    return _due(batch, only).with_for_update(of=D, skip_locked=True)


def _lease_postgresql() -> Update:
    """PostgreSQL: lease the deliveries :ids this transaction locked."""
    return (
        update(D)
        .where(D.id.in_(bindparam("ids", expanding=True)))
        .values(**_lease())
        .execution_options(synchronize_session=False)
    )


def _claimed() -> Select[tuple[int, int, int, str, str, str, str]]:
    """What sending the deliveries :ids takes: endpoint, secret's salt, event and its text.

    The payload is read as the JSON text it was stored as: decoding it only to encode it
    again cost the worker about a tenth of a delivery (measured with callgrind).
    """
    return (
        select(
            D.id,
            D.endpoint_id,
            D.comment_id,
            WebhookEndpoint.url,
            WebhookEndpoint.secret,
            WebhookEvent.msg_id,
            cast(WebhookEvent.payload, Text),
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == D.endpoint_id)
        .join(WebhookEvent, WebhookEvent.id == D.event_id)
        .where(D.id.in_(bindparam("ids", expanding=True)))
        .order_by(D.id)
    )


def claim_batch(
    app: Flask, worker: str, policy: Policy, *, only: int | None = None, fan_out: bool = False
) -> list[Claim]:
    """Lease up to policy.batch due line heads (or delivery `only`), oldest first.

    With `fan_out`, first make the deliveries of waiting events, in the same transaction.
    """
    with db.new_session(app, write=True) as session:
        ids, lease_until = claim_in(app, session, worker, policy, only=only, fan_out=fan_out)
        session.commit()  # the leases, and what the fan-out made
    return read_claims(app, ids, lease_until)


def claim_in(
    app: Flask,
    session: Session,
    worker: str,
    policy: Policy,
    *,
    only: int | None = None,
    fan_out: bool = False,
) -> tuple[list[int], datetime]:
    """Lease the due line heads in the session's write transaction; return ids and lease end."""
    now = utcnow()
    lease_until = now + timedelta(seconds=policy.lease)
    values = {"now": now, "lease_to": lease_until, "claimer": worker, "only": only}
    shape = (policy.batch, only is not None)
    if fan_out:
        fan_out_in(app, session, now=now)  # due at once: claimed below
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.scalars(db.prepared(app, _due_postgresql, *shape), values))
        if ids:
            session.execute(db.prepared(app, _lease_postgresql), {**values, "ids": ids})
    else:
        ids = list(session.scalars(db.prepared(app, _claim_sqlite, *shape), values))
    return ids, lease_until


def read_claims(app: Flask, ids: list[int], lease_until: datetime) -> list[Claim]:
    """Read what sending the leased deliveries takes, after the leasing transaction.

    The leases keep these rows ours, and SQLite's one write lock (which the intake needs
    too) is not held while the rows are read and built.
    """
    if not ids:
        return []
    with db.new_session(app) as session:
        rows = session.execute(db.prepared(app, _claimed), {"ids": ids}).all()
    key = app.config["SECRET_KEY"]
    # The row keeps only its salt; a batch's claims mostly share a few endpoints.
    derived: dict[str, str] = {}
    claims = []
    for delivery_id, endpoint_id, comment_id, url, stored, msg_id, body in rows:
        secret = derived.get(stored) or derived.setdefault(stored, signing_secret(key, stored))
        claims.append(
            Claim(delivery_id, endpoint_id, comment_id, url, secret, msg_id, body, lease_until)
        )
    return claims


def claim(app: Flask, delivery_id: int, worker: str, policy: Policy) -> Claim | None:
    """Take the lease of one due delivery at the head of its comment's line, or return None."""
    held = claim_batch(app, worker, policy, only=delivery_id)
    return held[0] if held else None


def release(app: Flask, unsent: list[Claim], worker: str) -> None:
    """Give back leases of claims this worker will not send now (the attempt is not counted)."""
    if not unsent:
        return
    with db.new_session(app, write=True) as session:
        session.execute(
            update(D)
            .where(D.id.in_([c.delivery_id for c in unsent]), D.claimed_by == worker)
            .where(D.status == DeliveryStatus.PENDING)
            .values(lease_until=None, attempts=D.attempts - 1)
            .execution_options(synchronize_session=False)
        )
        session.commit()


def line_heads(session: Session, *, endpoint_id: int | None = None) -> list[tuple[int, datetime]]:
    """Return (id, due time) of each pending delivery first in its comment's line."""
    stmt = (
        select(D.id, D.next_attempt_at, D.lease_until)
        .where(*line_head())
        .order_by(D.id)
        .limit(10_000)
    )
    if endpoint_id is not None:
        stmt = stmt.where(D.endpoint_id == endpoint_id)
    return [
        (row.id, max(row.next_attempt_at, row.lease_until or row.next_attempt_at))
        for row in session.execute(stmt)
    ]
