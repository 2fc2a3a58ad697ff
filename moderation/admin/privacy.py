"""Admin page that erases a commenter's data (the same service as POST /admin/erasures)."""

from __future__ import annotations

from flask import Response
from flask import current_app
from flask import request

from moderation.admin.pages import admin_page
from moderation.admin.pages import bp
from moderation.admin.pages import checked
from moderation.admin.pages import render_page
from moderation.auth import current_principal
from moderation.db import get_session
from moderation.retention import erase_commenter

EMAIL_MAX = 100


def _privacy_page(status: int = 200, **context: object) -> Response:
    return render_page("admin/privacy.html", status, page="privacy", **context)


@bp.get("/privacy")
@admin_page
def privacy_page() -> Response:
    """Show the erasure form and what purging keeps or deletes."""
    return _privacy_page()


@bp.post("/privacy/erase")
@admin_page
def erase_form() -> Response:
    """Erase every comment of one address once the admin has confirmed it."""
    email = request.form.get("author_email", "").strip()
    if not 3 <= len(email) <= EMAIL_MAX:
        error = f"Give the commenter's email address (3 to {EMAIL_MAX} characters)."
        return _privacy_page(422, error=error, email=email)
    if not checked("confirm"):
        error = "Tick the box to confirm: erased comments cannot be restored."
        return _privacy_page(422, error=error, email=email)
    session = get_session()
    result = erase_commenter(session, email)
    session.commit()
    current_app.logger.warning(
        "erasure by %s: %d comments deleted", current_principal().label, result.comments_deleted
    )
    return _privacy_page(result=result, erased=email)
