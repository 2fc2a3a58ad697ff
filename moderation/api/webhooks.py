"""Webhook endpoints API: a site manages its own endpoints, an admin any site's."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask import request
from flask import url_for
from sqlalchemy import select

from moderation.api.views import bp
from moderation.api.webhooks_openapi import EndpointCreated
from moderation.auth import Principal
from moderation.auth import PrincipalKind
from moderation.auth import check_role
from moderation.auth import current_principal
from moderation.auth import site_principal
from moderation.bodies import parse_json_object
from moderation.db import get_session
from moderation.problems import Problem
from moderation.problems import invalid
from moderation.schemas import validate_model
from moderation.tables import Role
from moderation.tables import Site
from moderation.tables import WebhookEndpoint
from moderation.webhooks.delivery import sweep
from moderation.webhooks.endpoint_secrets import signing_secret
from moderation.webhooks.endpoints import EndpointIn
from moderation.webhooks.endpoints import EndpointPatch
from moderation.webhooks.endpoints import change_endpoint
from moderation.webhooks.endpoints import create_endpoint
from moderation.webhooks.endpoints import endpoint_out
from moderation.webhooks.outbox import forget_endpoints

PATH = "/webhooks"


def _caller() -> Principal:
    """Return the caller if it is a site or an admin; 401/403 otherwise."""
    principal = current_principal()
    if principal is not None and principal.kind is PrincipalKind.SITE:
        return principal
    if principal is None:
        site_principal("Send a site key or an admin's API token as a Bearer token.")
    return check_role(principal, Role.ADMIN)


def _allow_private() -> bool:
    return bool(current_app.config["WEBHOOKS_ALLOW_PRIVATE"])


def _site_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(get_session().execute(select(Site.id, Site.name).where(Site.id.in_(ids))).all())


def _load(endpoint_id: int, caller: Principal) -> WebhookEndpoint:
    endpoint = get_session().get(WebhookEndpoint, endpoint_id)
    if endpoint is None or (caller.site is not None and endpoint.site_id != caller.site.id):
        raise Problem(404, "Not Found", f"There is no webhook endpoint {endpoint_id}.")
    return endpoint


@bp.post(PATH)
def create_webhook() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Register an endpoint; the answer holds its signing secret (shown only here)."""
    caller = _caller()
    data = validate_model(EndpointIn, parse_json_object(request))
    session = get_session()
    if caller.site is not None:
        if data.site is not None and data.site != caller.site.name:
            raise invalid({"site": ["a site key registers endpoints for its own site only"]})
        site = session.get(Site, caller.site.id)
    else:
        if data.site is None:
            raise invalid({"site": ["an admin must name the site"]})
        site = session.scalar(select(Site).where(Site.name == data.site))
        if site is None:
            raise invalid({"site": [f"there is no site {data.site!r}"]})
    if site is None:  # the key's site went away meanwhile
        raise Problem(404, "Not Found", "The site of this key no longer exists.")
    endpoint = create_endpoint(session, site, data, allow_private=_allow_private())
    session.commit()
    forget_endpoints(current_app)
    secret = signing_secret(current_app.config["SECRET_KEY"], endpoint.secret)
    body = EndpointCreated(**endpoint_out(endpoint, site.name), secret=secret)
    location = url_for("api.get_webhook", endpoint_id=endpoint.id)
    return body.model_dump(mode="json"), 201, {"Location": location}


@bp.get(PATH)
def list_webhooks() -> dict[str, Any]:
    """List the caller's site's endpoints (an admin: every site's, or ?site=NAME)."""
    caller = _caller()
    stmt = select(WebhookEndpoint).order_by(WebhookEndpoint.id)
    session = get_session()
    if caller.site is not None:
        stmt = stmt.where(WebhookEndpoint.site_id == caller.site.id)
    elif name := request.args.get("site"):
        stmt = stmt.join(Site, Site.id == WebhookEndpoint.site_id).where(Site.name == name)
    endpoints = list(session.scalars(stmt))
    names = _site_names({e.site_id for e in endpoints})
    return {"items": [endpoint_out(e, names[e.site_id]) for e in endpoints]}


@bp.get(f"{PATH}/<int:endpoint_id>")
def get_webhook(endpoint_id: int) -> dict[str, Any]:
    """Return one endpoint (without its secret)."""
    endpoint = _load(endpoint_id, _caller())
    return endpoint_out(endpoint, _site_names({endpoint.site_id})[endpoint.site_id])


@bp.patch(f"{PATH}/<int:endpoint_id>")
def change_webhook(endpoint_id: int) -> dict[str, Any]:
    """Change an endpoint's URL, events or enabled flag (enabling resumes its deliveries)."""
    endpoint = _load(endpoint_id, _caller())
    data = validate_model(EndpointPatch, parse_json_object(request))
    session = get_session()
    reenabled = change_endpoint(session, endpoint, data, allow_private=_allow_private())
    session.commit()
    forget_endpoints(current_app)
    if reenabled:
        sweep(current_app._get_current_object(), endpoint_id=endpoint.id)  # type: ignore[attr-defined]
    return endpoint_out(endpoint, _site_names({endpoint.site_id})[endpoint.site_id])


@bp.delete(f"{PATH}/<int:endpoint_id>")
def delete_webhook(endpoint_id: int) -> tuple[str, int]:
    """Delete an endpoint and its delivery log."""
    endpoint = _load(endpoint_id, _caller())
    session = get_session()
    session.delete(endpoint)
    session.commit()
    forget_endpoints(current_app)
    return "", 204
