"""Admin pages for webhooks: endpoints (disabled ones flagged), delivery log, redeliver."""

from __future__ import annotations

from flask import Response
from flask import current_app
from flask import flash
from flask import redirect
from flask import url_for
from sqlalchemy import select

from moderation.admin.pages import admin_page
from moderation.admin.pages import bp
from moderation.admin.pages import render_page
from moderation.db import get_session
from moderation.problems import Problem
from moderation.tables import Site
from moderation.tables import WebhookDelivery
from moderation.tables import WebhookEndpoint
from moderation.webhooks.delivery import sweep
from moderation.webhooks.endpoints import EndpointPatch
from moderation.webhooks.endpoints import change_endpoint
from moderation.webhooks.endpoints import delivery_log
from moderation.webhooks.endpoints import redeliver
from moderation.webhooks.outbox import forget_endpoints


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = get_session().get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise Problem(404, "Not Found", f"There is no webhook endpoint {endpoint_id}.")
    return endpoint


@bp.get("/webhooks")
@admin_page
def webhooks_page() -> Response:
    """List every site's endpoints; endpoints disabled for failing are flagged at the top."""
    rows = get_session().execute(
        select(WebhookEndpoint, Site.name)
        .join(Site, Site.id == WebhookEndpoint.site_id)
        .order_by(Site.name, WebhookEndpoint.id)
    )
    endpoints = [(endpoint, name) for endpoint, name in rows]
    disabled = [(e, n) for e, n in endpoints if not e.enabled and e.disabled_reason]
    return render_page(
        "admin/webhooks.html", page="webhooks", endpoints=endpoints, disabled=disabled
    )


@bp.get("/webhooks/<int:endpoint_id>")
@admin_page
def webhook_log_page(endpoint_id: int) -> Response:
    """Show an endpoint's newest deliveries with a redeliver button each."""
    endpoint = _endpoint(endpoint_id)
    site = get_session().get(Site, endpoint.site_id)
    return render_page(
        "admin/webhook_log.html",
        page="webhooks",
        endpoint=endpoint,
        site_name=site.name if site else "",
        log=delivery_log(get_session(), endpoint_id),
    )


@bp.post("/webhooks/deliveries/<int:delivery_id>/redeliver")
@admin_page
def redeliver_form(delivery_id: int) -> Response:
    """Send a delivery's event to its endpoint again (same webhook-id)."""
    session = get_session()
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise Problem(404, "Not Found", f"There is no delivery {delivery_id}.")
    again = redeliver(session, delivery)
    session.commit()
    flash(f"Event {delivery.event.msg_id} queued again (delivery {again.id}).", "info")
    return redirect(url_for("admin.webhook_log_page", endpoint_id=delivery.endpoint_id))


@bp.post("/webhooks/<int:endpoint_id>/enable")
@admin_page
def enable_webhook_form(endpoint_id: int) -> Response:
    """Enable an endpoint again; what waited for it is sent."""
    session = get_session()
    endpoint = _endpoint(endpoint_id)
    change_endpoint(session, endpoint, EndpointPatch(enabled=True), allow_private=True)
    session.commit()
    forget_endpoints(current_app)
    sweep(current_app._get_current_object(), endpoint_id=endpoint_id)  # type: ignore[attr-defined]
    flash(f"Endpoint {endpoint_id} is enabled again.", "info")
    return redirect(url_for("admin.webhooks_page"))
