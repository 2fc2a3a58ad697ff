"""Webhook endpoints: create (secret shown once), list, change, delete, redeliver."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.problems import Problem
from moderation.problems import invalid
from moderation.tables import DeliveryStatus
from moderation.tables import EventType
from moderation.tables import Site
from moderation.tables import WebhookDelivery
from moderation.tables import WebhookEndpoint
from moderation.tables import WebhookEvent
from moderation.tables import utcnow
from moderation.webhooks.addresses import AddressRefused
from moderation.webhooks.addresses import resolve
from moderation.webhooks.endpoint_secrets import new_salt
from moderation.webhooks.outbox import NEW_EVENTS

MAX_ENDPOINTS_PER_SITE = 20
HTTP_URL = "^[Hh][Tt][Tt][Pp][Ss]?://"  # what the document says; check_receiver decides


class EndpointIn(BaseModel):
    """A new endpoint: where, which events; an admin names the site."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000, json_schema_extra={"pattern": HTTP_URL})
    events: list[EventType] = Field(
        min_length=1, max_length=len(EventType), json_schema_extra={"uniqueItems": True}
    )
    site: str | None = Field(default=None, min_length=1, max_length=100)


class EndpointPatch(BaseModel):
    """A change to an endpoint: any of its URL, events, enabled."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        default=None, min_length=1, max_length=2000, json_schema_extra={"pattern": HTTP_URL}
    )
    events: list[EventType] | None = Field(
        default=None,
        min_length=1,
        max_length=len(EventType),
        json_schema_extra={"uniqueItems": True},
    )
    # Strict: "yes", "false" or 0 are not booleans (lax pydantic would read them as one).
    enabled: bool | None = Field(default=None, strict=True)


def check_receiver(url: str, *, allow_private: bool) -> None:
    """Raise a 422 naming `url` unless it is an http(s) URL resolving to allowed addresses."""
    try:
        resolve(url, allow_private=allow_private)
    except AddressRefused as exc:
        raise invalid({"url": [str(exc)]}) from None


def _unique_events(events: list[EventType]) -> list[str]:
    if len(set(events)) != len(events):
        raise invalid({"events": ["names an event more than once"]})
    return [str(e) for e in events]


def endpoint_out(endpoint: WebhookEndpoint, site_name: str) -> dict[str, Any]:
    """Serialize an endpoint (without its secret)."""

    def stamp(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": endpoint.id,
        "site": site_name,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "enabled": endpoint.enabled,
        "created_at": stamp(endpoint.created_at),
        "failing_since": stamp(endpoint.failing_since),
        "disabled_at": stamp(endpoint.disabled_at),
        "disabled_reason": endpoint.disabled_reason,
    }


def create_endpoint(
    session: Session, site: Site, data: EndpointIn, *, allow_private: bool
) -> WebhookEndpoint:
    """Add an endpoint to a site (flushes); `endpoint_secrets.signing_secret` gives its secret."""
    events = _unique_events(data.events)
    check_receiver(data.url, allow_private=allow_private)
    count = session.scalar(
        select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.site_id == site.id)
    )
    if count >= MAX_ENDPOINTS_PER_SITE:
        raise Problem(
            409,
            "Too many endpoints",
            f"Site {site.name} already has {count} webhook endpoints (at most"
            f" {MAX_ENDPOINTS_PER_SITE}); delete one first.",
        )
    endpoint = WebhookEndpoint(
        site_id=site.id,
        url=data.url,
        events=events,
        secret=new_salt(),  # the secret itself is derived (see endpoint_secrets)
        enabled=True,
        created_at=utcnow(),
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def change_endpoint(
    session: Session, endpoint: WebhookEndpoint, data: EndpointPatch, *, allow_private: bool
) -> bool:
    """Apply a patch (flushes); return True when the endpoint was enabled again."""
    if data.url is not None:
        check_receiver(data.url, allow_private=allow_private)
        endpoint.url = data.url
    if data.events is not None:
        endpoint.events = _unique_events(data.events)
    reenabled = False
    if data.enabled is not None and data.enabled != endpoint.enabled:
        endpoint.enabled = data.enabled
        if data.enabled:
            reenabled = True
            endpoint.disabled_at = None
            endpoint.disabled_reason = None
            endpoint.failing_since = None
        else:
            endpoint.disabled_at = utcnow()
            endpoint.disabled_reason = "disabled by hand"
    session.flush()
    return reenabled


def redeliver(session: Session, delivery: WebhookDelivery) -> WebhookDelivery:
    """Queue the same event to the same endpoint again (same webhook-id; flushes)."""
    now = utcnow()
    again = WebhookDelivery(
        event_id=delivery.event_id,
        endpoint_id=delivery.endpoint_id,
        comment_id=delivery.comment_id,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(again)
    session.flush()
    session.info[NEW_EVENTS] = True
    return again


def delivery_log(
    session: Session, endpoint_id: int, limit: int = 50
) -> list[tuple[WebhookDelivery, WebhookEvent]]:
    """Return an endpoint's newest deliveries with their events."""
    rows = session.execute(
        select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return [(d, e) for d, e in rows]
