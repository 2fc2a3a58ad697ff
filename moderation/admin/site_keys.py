"""Revoking a site's key: a confirmation page, then a POST that carries the confirmation.

Works without JavaScript: the sites list links to the confirmation page (a GET that
changes nothing), whose form (CSRF-protected) says it confirms; a POST without that
answer only leads back to the question.
"""

from __future__ import annotations

from flask import Response
from flask import flash
from flask import redirect
from flask import request
from flask import url_for

from moderation.accounts import revoke_site
from moderation.admin.actions import find_site
from moderation.admin.pages import admin_page
from moderation.admin.pages import bp
from moderation.admin.pages import flash_problem
from moderation.admin.pages import render_page
from moderation.auth import forget_site_keys
from moderation.db import get_session
from moderation.problems import Problem

CONFIRMED = "revoke"  # the value of the confirmation page's button


@bp.get("/sites/<int:site_id>/revoke")
@admin_page
def confirm_revoke_page(site_id: int) -> Response:
    """Ask whether to revoke a site's key (a revoked site goes back to the list)."""
    site = find_site(get_session(), site_id)
    if site.revoked_at is not None:
        flash(f"The key of {site.name} is already revoked.", "info")
        return redirect(url_for("admin.sites_page"))
    return render_page("admin/confirm_revoke.html", 200, page="sites", site=site)


@bp.post("/sites/<int:site_id>/revoke")
@admin_page
def revoke_site_form(site_id: int) -> Response:
    """Revoke a site's key once confirmed; unconfirmed, show the confirmation page."""
    if request.form.get("confirm") != CONFIRMED:
        return redirect(url_for("admin.confirm_revoke_page", site_id=site_id), 303)
    session = get_session()
    try:
        site = revoke_site(session, find_site(session, site_id).name)
        session.commit()
        forget_site_keys()
    except Problem as problem:
        flash_problem(problem)
    else:
        flash(f"The key of {site.name} is revoked.", "info")
    return redirect(url_for("admin.sites_page"))
