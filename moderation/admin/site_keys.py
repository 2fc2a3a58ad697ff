"""A site's keys on the admin pages: revoking it, and giving it a new Akismet key.

Both are confirmed on a page of their own first (see `confirm`): revoking cannot be
undone, and a new Akismet key stops the old one at once (the site's Akismet plugin
must be given the new one). A first Akismet key replaces nothing and needs no question.
"""

from __future__ import annotations

from flask import Response
from flask import flash
from flask import redirect
from flask import url_for

from moderation.accounts import revoke_site
from moderation.admin.actions import find_site
from moderation.admin.confirm import REPLACE
from moderation.admin.confirm import REVOKE
from moderation.admin.confirm import Question
from moderation.admin.confirm import ask
from moderation.admin.confirm import back_to
from moderation.admin.confirm import confirmed
from moderation.admin.pages import admin_page
from moderation.admin.pages import bp
from moderation.admin.pages import flash_problem
from moderation.admin.views import sites_page_with
from moderation.akismet.keys import issue_akismet_key
from moderation.auth import forget_site_keys
from moderation.db import get_session
from moderation.problems import Problem
from moderation.tables import Site


def _revoke_question(site: Site) -> Question:
    return Question(
        title=f"Revoke the key of {site.name}?",
        consequence="The site's comments are refused from now on (its site key and its"
        " Akismet key), until you create a new site and put its key in the site's"
        " settings. This cannot be undone.",
        action_url=url_for("admin.revoke_site_form", site_id=site.id),
        answer=REVOKE,
        button=f"Revoke the key of {site.name}",
        cancel_url=url_for("admin.sites_page"),
        nav_page="sites",
    )


def _replace_question(site: Site) -> Question:
    return Question(
        title=f"Give {site.name} a new Akismet key?",
        consequence="The new key replaces the current one at once: until the site's"
        " Akismet plugin is given the new key, its checks are refused.",
        action_url=url_for("admin.issue_akismet_key_form", site_id=site.id),
        answer=REPLACE,
        button=f"Replace the Akismet key of {site.name}",
        cancel_url=url_for("admin.sites_page"),
        nav_page="sites",
    )


def _active_site(site_id: int) -> Site | None:
    """Return the site, or None (flashed) when it is revoked."""
    site = find_site(get_session(), site_id)
    if site.revoked_at is not None:
        flash(f"The key of {site.name} is revoked.", "info")
        return None
    return site


@bp.get("/sites/<int:site_id>/revoke")
@admin_page
def confirm_revoke_page(site_id: int) -> Response:
    """Ask whether to revoke a site's key (a revoked site goes back to the list)."""
    site = _active_site(site_id)
    return ask(_revoke_question(site)) if site else redirect(url_for("admin.sites_page"))


@bp.post("/sites/<int:site_id>/revoke")
@admin_page
def revoke_site_form(site_id: int) -> Response:
    """Revoke a site's key once confirmed; unconfirmed, show the confirmation page."""
    if not confirmed(REVOKE):
        return back_to(url_for("admin.confirm_revoke_page", site_id=site_id))
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


@bp.get("/sites/<int:site_id>/akismet-key")
@admin_page
def confirm_akismet_key_page(site_id: int) -> Response:
    """Ask whether to replace a site's Akismet key."""
    site = _active_site(site_id)
    return ask(_replace_question(site)) if site else redirect(url_for("admin.sites_page"))


@bp.post("/sites/<int:site_id>/akismet-key")
@admin_page
def issue_akismet_key_form(site_id: int) -> Response:
    """Give a site a new Akismet key and show it once; replacing one needs the confirmation."""
    site = _active_site(site_id)
    if site is None:
        return redirect(url_for("admin.sites_page"))
    if site.akismet_key_hash is not None and not confirmed(REPLACE):
        return back_to(url_for("admin.confirm_akismet_key_page", site_id=site_id))
    session = get_session()
    key = issue_akismet_key(session, site)
    session.commit()
    forget_site_keys()
    return sites_page_with(akismet_site=site, akismet_key=key)
