"""What every admin page shares: the blueprint, its navigation, the admin check, rendering."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import flash
from flask import render_template
from flask import request

from moderation.auth import current_principal
from moderation.auth import page_role
from moderation.problems import Problem
from moderation.tables import Role

bp = Blueprint("admin", __name__, url_prefix="/admin")
NAV = (
    ("admin.versions_page", "Classifier"),
    ("admin.settings_page", "Settings"),
    ("admin.sites_page", "Sites"),
    ("admin.users_page", "Users"),
    ("admin.webhooks_page", "Webhooks"),
    ("admin.privacy_page", "Privacy"),
)


# Send anonymous visitors to sign in; let only admins in (CSRF checked on posts).
admin_page = page_role(Role.ADMIN)


def render_page(template: str, status: int = 200, **context: Any) -> Response:
    """Render an admin page with its navigation; never cached (keys, tokens, emails)."""
    body = render_template(
        template,
        nav=NAV,
        user=current_principal().label,
        **context,
    )
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # keys, tokens and emails: never cached
    return response


def flash_problem(problem: Problem) -> None:
    """Show a problem (and the fields it names) as an error message on the next page."""
    errors = problem.extensions.get("errors") or {}
    details = "; ".join(f"{key}: {', '.join(msgs)}" for key, msgs in errors.items())
    flash(f"{problem.detail} {details}".strip(), "error")


def checked(name: str) -> bool:
    """Return whether a checkbox of the posted form is ticked."""
    return request.form.get(name) in ("on", "true", "1", "yes")
