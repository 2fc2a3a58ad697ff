"""Admin routes for sites (API keys) and user accounts."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import select

from moderation.accounts import AccountError
from moderation.accounts import create_site
from moderation.accounts import create_user
from moderation.accounts import issue_token
from moderation.accounts import revoke_site
from moderation.admin.actions import UserPatch
from moderation.admin.actions import change_user
from moderation.admin.actions import find_site
from moderation.admin.actions import find_user
from moderation.api.admin.helpers import PREFIX
from moderation.api.admin.helpers import json_body
from moderation.api.admin.schemas import SiteCreated
from moderation.api.admin.schemas import SiteIn
from moderation.api.admin.schemas import SiteList
from moderation.api.admin.schemas import TokenOut
from moderation.api.admin.schemas import UserIn
from moderation.api.admin.schemas import UserList
from moderation.api.admin.schemas import site_out
from moderation.api.admin.schemas import user_out
from moderation.api.views import bp
from moderation.auth import current_principal
from moderation.auth import forget_site_keys
from moderation.auth import require_role
from moderation.db import get_session
from moderation.problems import Problem
from moderation.problems import invalid
from moderation.schemas import validate_model
from moderation.tables import Role
from moderation.tables import Site
from moderation.tables import User


def account_problem(exc: AccountError, field: str) -> Problem:
    """Turn an account error into a 409 (exists already) or a 422 naming the field."""
    message = str(exc)
    if "exists already" in message:
        return Problem(409, "Conflict", message, type="/problems/exists")
    return invalid({field: [message]})


# --- sites ---


@bp.get(f"{PREFIX}/sites")
@require_role(Role.ADMIN)
def list_sites() -> dict[str, Any]:
    """Return every site (keys are never shown again)."""
    sites = get_session().scalars(select(Site).order_by(Site.name))
    return SiteList(items=[site_out(s) for s in sites]).model_dump(mode="json")


@bp.post(f"{PREFIX}/sites")
@require_role(Role.ADMIN)
def create_site_key() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Create a site and answer its key, shown only this once."""
    body = validate_model(SiteIn, json_body())
    session = get_session()
    try:
        site, key = create_site(session, body.name)
    except AccountError as exc:
        raise account_problem(exc, "name") from None
    session.commit()
    out = SiteCreated(**site_out(site).model_dump(), key=key)
    headers = {"Location": url_for("api.list_sites"), "Cache-Control": "no-store"}
    return out.model_dump(mode="json"), 201, headers


@bp.post(f"{PREFIX}/sites/<int:site_id>/revoke")
@require_role(Role.ADMIN)
def revoke_site_key(site_id: int) -> dict[str, Any]:
    """Revoke a site's key: its calls are refused from now on."""
    session = get_session()
    site = revoke_site(session, find_site(session, site_id).name)
    session.commit()
    forget_site_keys()
    return site_out(site).model_dump(mode="json")


# --- users ---


@bp.get(f"{PREFIX}/users")
@require_role(Role.ADMIN)
def list_users() -> dict[str, Any]:
    """Return every account."""
    users = get_session().scalars(select(User).order_by(User.email))
    return UserList(items=[user_out(u) for u in users]).model_dump(mode="json")


@bp.post(f"{PREFIX}/users")
@require_role(Role.ADMIN)
def create_account() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Create a moderator or admin account."""
    body = validate_model(UserIn, json_body())
    session = get_session()
    try:
        user = create_user(session, body.email, body.password, body.role)
    except AccountError as exc:
        field = "password" if "password" in str(exc) else "email"
        raise account_problem(exc, field) from None
    session.commit()
    location = url_for("api.update_account", user_id=user.id)
    return user_out(user).model_dump(mode="json"), 201, {"Location": location}


@bp.patch(f"{PREFIX}/users/<int:user_id>")
@require_role(Role.ADMIN)
def update_account(user_id: int) -> dict[str, Any]:
    """Change an account's role, disabled flag or password (sessions end on the last two)."""
    patch = validate_model(UserPatch, json_body())
    session = get_session()
    user = find_user(session, user_id)
    principal = current_principal()
    change_user(session, user, patch, principal.user if principal else None)
    session.commit()
    return user_out(user).model_dump(mode="json")


@bp.post(f"{PREFIX}/users/<int:user_id>/token")
@require_role(Role.ADMIN)
def issue_account_token(user_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Issue a personal API token for an account (replacing its old one), shown once."""
    session = get_session()
    user = find_user(session, user_id)
    if user.disabled:
        raise Problem(409, "Conflict", "A disabled account gets no token.")
    token = issue_token(session, user)
    session.commit()
    return TokenOut(user_id=user.id, token=token).model_dump(), 201, {"Cache-Control": "no-store"}
