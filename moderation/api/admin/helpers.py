"""What every admin route uses: the URL prefix, the JSON body and the acting admin."""

from __future__ import annotations

from typing import Any

from flask import request

from moderation.auth import current_principal
from moderation.bodies import parse_json_object

PREFIX = "/admin"


def json_body() -> dict[str, Any]:
    """Return the request's JSON object body ({} when empty), or raise 400/415."""
    return parse_json_object(request)


def actor() -> str:
    """Return the label of the admin making this request."""
    principal = current_principal()
    return principal.label if principal else "anonymous"
