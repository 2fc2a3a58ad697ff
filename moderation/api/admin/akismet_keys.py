"""Admin routes for a site's Akismet-style key: issue (shown once) and revoke."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.akismet.keys import issue_akismet_key
from moderation.akismet.keys import revoke_akismet_key
from moderation.api.admin.helpers import PREFIX
from moderation.api.admin.schemas import AkismetKeyOut
from moderation.api.views import bp
from moderation.auth import forget_site_keys
from moderation.auth import require_role
from moderation.db import get_session
from moderation.problems import Problem
from moderation.tables import Role
from moderation.tables import Site


def site_named(session: Session, name: str) -> Site:
    """Return the unrevoked site with this name or raise 404 / 409."""
    site = session.scalar(select(Site).where(Site.name == name))
    if site is None:
        raise Problem(404, "Not Found", f"There is no site named {name!r}.")
    if site.revoked_at is not None:
        raise Problem(409, "Conflict", f"The site {name!r} is revoked.", type="/problems/revoked")
    return site


@bp.post(f"{PREFIX}/sites/<name>/akismet-key")
@require_role(Role.ADMIN)
def issue_site_akismet_key(name: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Give the site a new Akismet key (12 hex characters), shown only this once."""
    session = get_session()
    site = site_named(session, name)
    key = issue_akismet_key(session, site)
    session.commit()
    forget_site_keys()  # the key it replaces stops working in this worker at once
    out = AkismetKeyOut(site=site.name, akismet_key=key)
    return out.model_dump(mode="json"), 201, {"Cache-Control": "no-store"}


@bp.delete(f"{PREFIX}/sites/<name>/akismet-key")
@require_role(Role.ADMIN)
def revoke_site_akismet_key(name: str) -> tuple[str, int]:
    """Remove the site's Akismet key: calls with it are refused from now on."""
    session = get_session()
    site = site_named(session, name)
    revoke_akismet_key(site)
    session.commit()
    forget_site_keys()
    return "", 204
