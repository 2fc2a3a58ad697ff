"""The webhooks part of the OpenAPI document: paths and the models they answer with."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from moderation.api.openapi_parts import json_body
from moderation.api.openapi_parts import json_response
from moderation.api.openapi_parts import param
from moderation.api.openapi_parts import problems
from moderation.webhooks.endpoints import EndpointIn
from moderation.webhooks.endpoints import EndpointPatch


class EndpointOut(BaseModel):
    """A webhook endpoint as listed (never its secret)."""

    id: int
    site: str
    url: str
    events: list[str]
    enabled: bool
    created_at: str | None
    failing_since: str | None
    disabled_at: str | None
    disabled_reason: str | None


class EndpointCreated(EndpointOut):
    """A new endpoint, with its signing secret: shown only in this answer."""

    secret: str


class EndpointList(BaseModel):
    """The endpoints the caller may see."""

    items: list[EndpointOut]


WEBHOOK_MODELS: list[type[BaseModel]] = [
    EndpointIn,
    EndpointPatch,
    EndpointOut,
    EndpointCreated,
    EndpointList,
]


def openapi_paths() -> dict[str, Any]:
    """Return the webhooks part of the OpenAPI paths."""
    one = [param("endpoint_id", "path", "integer", "The endpoint.")]
    auth = {"_401": "No site key or admin token.", "_403": "Neither a site nor an admin."}
    return {
        "/api/v1/webhooks": {
            "post": {
                "operationId": "create_webhook",
                "summary": "Register an endpoint (site key: its own site; admin: names the site).",
                "requestBody": json_body(EndpointIn, required=True),
                "responses": {
                    "201": json_response(EndpointCreated, "Registered; the secret is shown once."),
                    **problems(
                        **auth,
                        _400="Malformed body.",
                        _409="Too many endpoints for the site.",
                        _415="Not JSON.",
                        _422="Invalid or forbidden URL, unknown event or site.",
                    ),
                },
            },
            "get": {
                "operationId": "list_webhooks",
                "summary": "List endpoints (a site: its own; an admin: all, or ?site=NAME).",
                "parameters": [param("site", "query", "string", "An admin's filter by site.")],
                "responses": {
                    "200": json_response(EndpointList, "The endpoints."),
                    **problems(**auth),
                },
            },
        },
        "/api/v1/webhooks/{endpoint_id}": {
            "get": {
                "operationId": "get_webhook",
                "parameters": one,
                "responses": {
                    "200": json_response(EndpointOut, "The endpoint."),
                    **problems(**auth, _404="No such endpoint for this caller."),
                },
            },
            "patch": {
                "operationId": "change_webhook",
                "summary": "Change URL, events or enabled (enabling resumes deliveries).",
                "parameters": one,
                "requestBody": json_body(EndpointPatch, required=True),
                "responses": {
                    "200": json_response(EndpointOut, "The changed endpoint."),
                    **problems(
                        **auth,
                        _400="Malformed body.",
                        _404="No such endpoint for this caller.",
                        _415="Not JSON.",
                        _422="Invalid fields.",
                    ),
                },
            },
            "delete": {
                "operationId": "delete_webhook",
                "parameters": one,
                "responses": {
                    "204": {"description": "Deleted, with its delivery log."},
                    **problems(**auth, _404="No such endpoint for this caller."),
                },
            },
        },
    }
