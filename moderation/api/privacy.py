"""A commenter's data: export it (admin: every site; site: its own) and erase it (site)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask import request
from pydantic import BaseModel

from moderation.api.admin.helpers import PREFIX
from moderation.api.admin.schemas import ErasureOut
from moderation.api.openapi_parts import json_body
from moderation.api.openapi_parts import json_response
from moderation.api.openapi_parts import problems
from moderation.api.views import bp
from moderation.auth import current_principal
from moderation.auth import require_role
from moderation.auth import require_site
from moderation.bodies import parse_json_object
from moderation.db import get_session
from moderation.exports import CommenterExport
from moderation.exports import CommenterIn
from moderation.exports import export_commenter
from moderation.retention import erase_commenter
from moderation.schemas import validate_model
from moderation.tables import Role
from moderation.tables import utcnow

PRIVACY_MODELS: list[type[BaseModel]] = [CommenterIn, CommenterExport]


@bp.post(f"{PREFIX}/exports")
@require_role(Role.ADMIN)
def export_commenter_everywhere() -> dict[str, Any]:
    """Return everything stored about one address, on every site (JSON)."""
    body = validate_model(CommenterIn, parse_json_object(request))
    export = export_commenter(get_session(), body.author_email, now=utcnow())
    return export.model_dump(mode="json")


@bp.post("/exports")
@require_site
def export_commenter_of_site() -> dict[str, Any]:
    """Return everything the calling site's comments hold about one address (JSON)."""
    body = validate_model(CommenterIn, parse_json_object(request))
    site = current_principal().site
    export = export_commenter(get_session(), body.author_email, now=utcnow(), site_id=site.id)
    return export.model_dump(mode="json")


@bp.post("/erasures")
@require_site
def erase_commenter_of_site() -> dict[str, Any]:
    """Delete one address's comments on the calling site, with their history and marks."""
    body = validate_model(CommenterIn, parse_json_object(request))
    site = current_principal().site
    session = get_session()
    result = erase_commenter(session, body.author_email, site_id=site.id)
    session.commit()
    # The address itself is not logged: the log would keep what was just erased.
    current_app.logger.warning(
        "erasure by site %s: %d comments deleted", site.name, result.comments_deleted
    )
    return ErasureOut(**vars(result)).model_dump(mode="json")


def openapi_paths() -> dict[str, Any]:
    """Return the OpenAPI path items of the export and site erasure endpoints."""
    body = json_body(CommenterIn, required=True)
    bad = problems(
        _400="Malformed body.",
        _413="Body over 1 MiB.",
        _415="Not JSON.",
        _422="Invalid fields, named in errors.",
    )
    site_auth = problems(_401="Missing, unknown or revoked key.", _403="Not a site key.")
    return {
        "/api/v1/admin/exports": {
            "post": {
                "operationId": "export_commenter_everywhere",
                "summary": "Export one commenter's data on every site (admin).",
                "requestBody": body,
                "responses": {
                    "200": json_response(CommenterExport, "Their comments, oldest first."),
                    **bad,
                    **problems(_401="No token or session.", _403="Not an admin."),
                },
            }
        },
        "/api/v1/exports": {
            "post": {
                "operationId": "export_commenter_of_site",
                "summary": "Export one commenter's data on the calling site (site key).",
                "requestBody": body,
                "responses": {
                    "200": json_response(CommenterExport, "Their comments, oldest first."),
                    **bad,
                    **site_auth,
                },
            }
        },
        "/api/v1/erasures": {
            "post": {
                "operationId": "erase_commenter_of_site",
                "summary": "Erase one commenter's data on the calling site (site key).",
                "description": "Their comments on this site, with audit trail, earlier"
                " texts and flood marks; other people's replies stay as top-level comments.",
                "requestBody": body,
                "responses": {
                    "200": json_response(ErasureOut, "What was deleted."),
                    **bad,
                    **site_auth,
                },
            }
        },
    }
