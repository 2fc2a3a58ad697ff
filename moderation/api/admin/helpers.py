"""What every admin route uses: the URL prefix, the JSON body and the acting admin."""

from __future__ import annotations

from typing import Any

from flask import request

from moderation.auth import current_principal
from moderation.bodies import parse_json
from moderation.problems import Problem

PREFIX = "/admin"


def json_body() -> dict[str, Any]:
    """Return the JSON object body ({} when empty), or raise 400/415."""
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    if request.mimetype != "application/json":
        raise Problem(
            415,
            "Unsupported Media Type",
            f"Content-Type {request.mimetype or 'none'} is not accepted: send application/json.",
        )
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise Problem(400, "Malformed body", "The JSON body must be an object.")
    return body


def actor() -> str:
    """Return the label of the admin making this request."""
    principal = current_principal()
    return principal.label if principal else "anonymous"
