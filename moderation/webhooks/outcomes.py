"""Storing what each attempt got: delivered, a retry with backoff, or failed for good.

A delivery is marked delivered only after the receiver answered 2xx (at least once, see
`claims`); a failed attempt waits for its retry, and one still failing after the retry
window fails for good and disables its endpoint, which the admin page then shows.
"""

from __future__ import annotations

import logging
from datetime import datetime
from datetime import timedelta

from flask import Flask
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Update
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from moderation import db
from moderation.tables import DeliveryStatus
from moderation.tables import UTCDateTime
from moderation.tables import WebhookDelivery
from moderation.tables import WebhookEndpoint
from moderation.tables import utcnow
from moderation.webhooks.claims import Claim
from moderation.webhooks.claims import Policy
from moderation.webhooks.claims import claim_in
from moderation.webhooks.claims import read_claims
from moderation.webhooks.outbox import forget_endpoints
from moderation.webhooks.sender import Outcome

logger = logging.getLogger(__name__)

D = WebhookDelivery


def finish_batch(
    app: Flask,
    results: list[tuple[Claim, Outcome]],
    worker: str,
    policy: Policy,
    *,
    claim_next: bool = False,
) -> tuple[list[datetime], list[Claim]]:
    """Store the outcomes of a batch's attempts in one transaction; return the retry times due.

    With `claim_next` (a backlog: the batch was full), the same transaction also makes the
    waiting events' deliveries and claims the next batch, returned second: one write
    transaction a batch instead of two, so the intake waits less for SQLite's write lock.
    """
    now = utcnow()
    delivered = [(c, o) for c, o in results if o.delivered]
    failed = [(c, o) for c, o in results if not o.delivered]
    retries: list[datetime] = []
    disabled = False
    with db.new_session(app, write=True) as session:
        by_code: dict[int | None, list[int]] = {}
        for held, outcome in delivered:
            by_code.setdefault(outcome.status_code, []).append(held.delivery_id)
        for code, ids in by_code.items():
            session.execute(
                db.prepared(app, _delivered),
                {"ids": ids, "claimer": worker, "now": now, "code": code},
            )
        if delivered:
            endpoints = sorted({c.endpoint_id for c, _ in delivered})
            session.execute(db.prepared(app, _endpoints_answer), {"endpoints": endpoints})
        for held, outcome in failed:
            retry_at, disabled_now = _failed(session, held, outcome, worker, policy, now)
            disabled |= disabled_now
            if retry_at is not None:
                retries.append(retry_at)
        ids, lease_until = (
            claim_in(app, session, worker, policy, fan_out=True) if claim_next else ([], now)
        )
        session.commit()
    if disabled:
        forget_endpoints(app)  # an endpoint was disabled: stop recording events for it here
    return retries, read_claims(app, ids, lease_until)


def _delivered() -> Update:
    """Mark the deliveries :ids that :claimer holds delivered at :now with HTTP :code."""
    return (
        update(D)
        .where(
            D.id.in_(bindparam("ids", expanding=True)),
            D.claimed_by == bindparam("claimer", type_=String()),
            D.status == DeliveryStatus.PENDING,
        )
        .values(
            status=DeliveryStatus.DELIVERED,
            delivered_at=bindparam("now", type_=UTCDateTime()),
            lease_until=None,
            last_status_code=bindparam("code", type_=Integer()),
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )


def _endpoints_answer() -> Update:
    """The endpoints :endpoints answered: no longer failing."""
    return (
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id.in_(bindparam("endpoints", expanding=True)))
        .where(WebhookEndpoint.failing_since.is_not(None))
        .values(failing_since=None)
        .execution_options(synchronize_session=False)
    )


def _failed(
    session: Session, held: Claim, outcome: Outcome, worker: str, policy: Policy, now: datetime
) -> tuple[datetime | None, bool]:
    """Store a failed attempt: retry later, or fail it and disable its endpoint."""
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
        return None, False
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    delivery.lease_until = None
    if endpoint is not None and endpoint.failing_since is None:
        endpoint.failing_since = now
    retry_at = now + timedelta(seconds=policy.backoff(delivery.attempts))
    if retry_at <= delivery.created_at + timedelta(seconds=policy.retry_window):
        delivery.next_attempt_at = retry_at
        return retry_at, False
    delivery.status = DeliveryStatus.FAILED
    if endpoint is None:
        return None, False
    _disable(endpoint, now, delivery, outcome)
    return None, True


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
