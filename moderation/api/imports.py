"""History import: a site's past comments, stored as decided comments (site key or admin)."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from moderation.api.views import bp
from moderation.auth import current_principal
from moderation.auth import require_role
from moderation.auth import require_site
from moderation.auth import site_actor
from moderation.db import get_session
from moderation.imports import MalformedImport
from moderation.imports import RowsInvalid
from moderation.imports import import_comments
from moderation.imports import read_rows
from moderation.imports.rows import MEDIA_TYPES
from moderation.problems import Problem
from moderation.problems import invalid
from moderation.tables import Role
from moderation.tables import Site
from moderation.tables import utcnow

# A history is bigger than one comment: bodies up to this size (the app's limit is 1 MiB).
IMPORT_MAX_BYTES = 32 * 1024 * 1024


def _import(site_id: int, who: str) -> dict[str, Any]:
    """Read the body in the format its Content-Type names, store it, commit once."""
    request.max_content_length = IMPORT_MAX_BYTES
    fmt = MEDIA_TYPES.get(request.mimetype)
    if fmt is None:
        accepted = ", ".join(MEDIA_TYPES)
        raise Problem(
            415,
            "Unsupported Media Type",
            f"Content-Type {request.mimetype or 'none'} is not accepted: send {accepted}.",
        )
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise Problem(415, "Unsupported Media Type", "Only UTF-8 bodies are accepted.")
    try:
        rows = read_rows(request.get_data(cache=False), fmt)
    except MalformedImport as exc:
        raise Problem(400, "Malformed body", str(exc), type="/problems/malformed-body") from None
    except RowsInvalid as exc:
        raise invalid(exc.errors, "Some rows are invalid; nothing was imported.") from None
    session = get_session()
    result = import_comments(session, site_id, rows, actor=who, now=utcnow())
    try:
        session.commit()
    except IntegrityError:  # a concurrent import of the same rows won
        session.rollback()
        raise Problem(
            409, "Conflict", "Another import of these comments ran at the same time: retry."
        ) from None
    return {
        "imported": result.imported,
        "already_present": result.already_present,
        "ids": result.ids,
    }


@bp.post("/imports")
@require_site
def import_site_history() -> dict[str, Any]:
    """Import the calling site's past comments with their final statuses."""
    site = current_principal().site
    return _import(site.id, site_actor(site.name))


@bp.post("/admin/imports")
@require_role(Role.ADMIN)
def import_history() -> dict[str, Any]:
    """Import a site's past comments (?site=NAME) with their final statuses."""
    name = (request.args.get("site") or "").strip()
    if not name:
        raise invalid({"site": ["is required (the site's name, ?site=NAME)"]})
    session = get_session()
    site_id = session.scalar(select(Site.id).where(Site.name == name))
    if site_id is None:
        raise invalid({"site": [f"there is no site named {name!r}"]})
    return _import(site_id, current_principal().label)
