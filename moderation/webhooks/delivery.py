"""Delivering the outbox: dispatch runs claim due deliveries in batches and send them.

A commit that wrote events wakes the worker (`wake.Waker`: at most one queue message
per WEBHOOKS_WAKE_SECONDS per web process, not one per event). The woken `dispatch` task
makes the events' deliveries (see `fanout`), claims due deliveries a batch at a time
(see `claims`), sends them on kept-alive
connections, stores the outcomes in one transaction a batch, and lingers for
WEBHOOKS_LINGER_SECONDS (at least the wake window) before it ends, so a commit whose
wake-up was folded into an earlier one is still seen. A failed attempt schedules a
dispatch at its retry time, and a sweep every minute wakes a dispatch for anything
overdue (a lost message, a worker that died holding leases).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from datetime import timedelta

from flask import Flask
from sqlalchemy import Select
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation import db
from moderation import taskqueue
from moderation.tables import DeliveryStatus
from moderation.tables import WebhookDelivery
from moderation.tables import utcnow
from moderation.webhooks.claims import Claim
from moderation.webhooks.claims import Policy
from moderation.webhooks.claims import claim
from moderation.webhooks.claims import claim_batch
from moderation.webhooks.claims import claimable
from moderation.webhooks.claims import line_heads
from moderation.webhooks.claims import release
from moderation.webhooks.claims import worker_name
from moderation.webhooks.fanout import fanout_waits
from moderation.webhooks.outcomes import finish_batch
from moderation.webhooks.sender import Connections
from moderation.webhooks.sender import Outcome

logger = logging.getLogger(__name__)

DISPATCH = "webhook_dispatch"
SWEEP = "webhook_sweep"
SLOTS = "moderation.webhooks.dispatch_slots"
D = WebhookDelivery
_MAX_WAKES = 100


class Slots:
    """The dispatch runs of this worker process: how many at once, the wake-ups they saw,
    and when their shared linger started.

    A wake-up that finds every slot taken, or a run waiting for events to gather, starts
    no run: it bumps `wanted`, and a run ends only after a quiet linger (nothing sent by
    any run, no wake-up since it last looked). While events trickle in, one run gathers
    them into batches, and a run whose batch was not full leaves if another is gathering;
    more runs go on only while each is busy sending (a backlog, a slow receiver). Fewer,
    larger batches: each is a SQLite write transaction that the intake waits for.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.running = 0
        self.wanted = 0
        self.gathering = 0
        self.linger_from = time.monotonic()
        self._lock = threading.Lock()

    def enter(self) -> int | None:
        """Count a wake-up; return its number if a run starts, else None (see the class)."""
        with self._lock:
            self.wanted += 1
            if self.running >= self.size or self.gathering:
                return None
            self.running += 1
            self.linger_from = time.monotonic()  # a new run lingers a full linger
            return self.wanted

    def restart_linger(self) -> None:
        """A run sent something: every run's linger counts from now."""
        with self._lock:
            self.linger_from = time.monotonic()

    def lingered(self) -> float:
        """Return the seconds since the linger started (a send, a run's start, a wake-up)."""
        with self._lock:
            return time.monotonic() - self.linger_from

    @contextmanager
    def gather(self) -> Iterator[None]:
        """Mark a run waiting for events to gather: a wake-up meanwhile starts no run."""
        with self._lock:
            self.gathering += 1
        try:
            yield
        finally:
            with self._lock:
                self.gathering -= 1

    def leave_if_quiet(self, seen: int) -> int | None:
        """End the run if no wake-up came since `seen` (None); else return the newest one."""
        with self._lock:
            if self.wanted == seen:
                self.running -= 1
                return None
            self.linger_from = time.monotonic()  # the wake-up's work may come: linger anew
            return self.wanted

    def leave_if_another_gathers(self) -> bool:
        """End this run if another is gathering (it lingers for both); True if ended."""
        with self._lock:
            if self.gathering:
                self.running -= 1
                return True
            return False

    def leave(self) -> None:
        """End the run whatever came meanwhile (it failed; the sweep picks its work up)."""
        with self._lock:
            self.running -= 1


def send_batch(
    app: Flask,
    batch: list[Claim],
    connections: Connections,
    worker: str,
    policy: Policy,
    *,
    claim_next: bool = False,
) -> tuple[int, list[Claim]]:
    """Send a claimed batch in order, store the outcomes; return how many were attempted,
    and the next batch when `claim_next` asked for it (see outcomes.finish_batch)."""
    results: list[tuple[Claim, Outcome]] = []
    for number, held in enumerate(batch):
        # Never send on a lease that could run out mid-send: give the rest back.
        if held.lease_until - utcnow() < timedelta(seconds=policy.timeout):
            release(app, batch[number:], worker)
            break
        results.append(
            (
                held,
                connections.send(held.url, held.secret, held.msg_id, held.body, utcnow()),
            )
        )
    retries, following = finish_batch(app, results, worker, policy, claim_next=claim_next)
    # One wake-up a second that retries fall due in (a dispatch takes all that is due).
    for second in sorted({_next_second(at) for at in retries}):
        taskqueue.enqueue(app, DISPATCH, eta=second)
    return len(results), following


def _next_second(at: datetime) -> datetime:
    """Return the start of the second after `at` (wake-ups are grouped by second)."""
    return at.replace(microsecond=0) + timedelta(seconds=1)


def work_waits(app: Flask) -> bool:
    """Return whether events wait for fan-out or a delivery is due and unclaimed.

    One read: an idle poll never takes SQLite's write lock.
    """
    with db.new_session(app) as session:
        dialect = session.get_bind().dialect.name
        return bool(session.scalar(db.prepared(app, _work_waits, dialect), {"now": utcnow()}))


def _work_waits(dialect_name: str) -> Select[tuple[bool]]:
    """Whether a delivery is claimable at :now or an event waits for its fan-out."""
    return select(or_(exists().where(*claimable()), fanout_waits(dialect_name)))


def dispatch(app: Flask) -> int:
    """Send every due delivery, a batch at a time, until quiet for the linger; return sent.

    Several runs share a backlog (up to WEBHOOKS_DISPATCHERS per worker process); without
    one, a single run gathers events into batches and lingers for all (see Slots).
    """
    slots: Slots = app.extensions[SLOTS]
    seen = slots.enter()
    if seen is None:
        return 0  # every slot is busy; a running dispatch sees the work (see Slots)
    policy = Policy.of(app.config)
    worker = worker_name()
    sent = attempted = 0
    following: list[Claim] = []  # claimed with the last full batch's outcomes
    with Connections(timeout=policy.timeout, allow_private=policy.allow_private) as connections:
        while True:
            try:
                batch = following or (
                    claim_batch(app, worker, policy, fan_out=True) if work_waits(app) else []
                )
                # A full batch means a backlog: its outcomes and the next claim share a
                # transaction. Otherwise the gather wait below lets events collect first.
                attempted, following = (
                    send_batch(
                        app,
                        batch,
                        connections,
                        worker,
                        policy,
                        claim_next=len(batch) == policy.batch,
                    )
                    if batch
                    else (0, [])
                )
            except BaseException:
                slots.leave()
                raise
            sent += attempted
            if attempted:
                slots.restart_linger()
                if attempted == policy.batch:
                    continue  # a backlog: go on at once
            if slots.leave_if_another_gathers():
                return sent  # no backlog: one run gathers and lingers for all
            if slots.lingered() < policy.linger:
                # The wait lets the next batch gather several events: fewer transactions.
                with slots.gather():
                    time.sleep(policy.gather)
                continue
            newer = slots.leave_if_quiet(seen)
            if newer is None:
                return sent
            seen = newer


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
    """Send one delivery now, then those of the same comment waiting behind it; return sent.

    A direct call (the worker sends through `dispatch`): for an operator's shell and tests.
    """
    policy = Policy.of(app.config)
    worker = worker_name()
    sent = 0
    current: int | None = delivery_id
    with Connections(timeout=policy.timeout, allow_private=policy.allow_private) as connections:
        while current is not None:
            held = claim(app, current, worker, policy)
            if held is None:
                return sent
            sent += send_batch(app, [held], connections, worker, policy)[0]
            with db.new_session(app) as session:
                status = session.scalar(select(D.status).where(D.id == held.delivery_id))
                if status is DeliveryStatus.PENDING:
                    return sent  # it failed and waits for its retry: the line waits too
                current = next_in_line(session, held)
    return sent


def wake_dispatch(app: Flask, at: datetime | None = None) -> bool:
    """Put a dispatch on the queue (now, or at `at`); False if the queue is down."""
    return taskqueue.enqueue(app, DISPATCH, eta=at)


def sweep(
    app: Flask, *, overdue_seconds: float | None = None, endpoint_id: int | None = None
) -> int:
    """Wake a dispatch if line heads wait (overdue ones only, if asked); return how many wait."""
    now = utcnow()
    with db.new_session(app) as session:
        heads = line_heads(session, endpoint_id=endpoint_id)
        if session.scalar(select(fanout_waits(session.get_bind().dialect.name))):
            wake_dispatch(app)  # events whose deliveries were never made (a lost wake-up)
    if overdue_seconds is not None:
        heads = [h for h in heads if h[1] <= now - timedelta(seconds=overdue_seconds)]
    # One wake-up now for what is due, and one a second that something falls due in
    # later (a lease that runs out, a retry); each dispatch takes all that is due by then.
    wakes = {None if at <= now else _next_second(at) for _, at in heads}
    for at in sorted(wakes, key=lambda w: (w is not None, w))[:_MAX_WAKES]:
        wake_dispatch(app, at)
    return len(heads)


def periodic_sweep(app: Flask) -> int:
    """Every minute: wake a dispatch for deliveries overdue by WEBHOOKS_SWEEP_AFTER_SECONDS."""
    return sweep(app, overdue_seconds=Policy.of(app.config).sweep_after)


def catch_up(app: Flask) -> None:
    """At a worker's start: wake a dispatch for every pending line head (a dead worker's work)."""
    count = sweep(app)
    if count:
        logger.info("worker start: %d webhook deliveries wait; dispatching", count)
