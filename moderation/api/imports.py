"""History import: a site's past comments, stored as decided comments (site key or admin)."""

from __future__ import annotations

import time
from typing import Any

from flask import current_app
from flask import request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from moderation.api.views import bp
from moderation.auth import current_principal
from moderation.auth import require_role
from moderation.auth import require_site
from moderation.auth import site_actor
from moderation.db import get_session
from moderation.imports import ImportTooSlow
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
IN_PARTS = "send the history in smaller parts, or import it with `flask comments import`"


def _too_large(detail: str) -> Problem:
    return Problem(413, "Content Too Large", detail, type="/problems/import-too-large")


def _import(site_id: int, who: str) -> dict[str, Any]:
    """Read the body in the format its Content-Type names, store it, commit once."""
    request.max_content_length = IMPORT_MAX_BYTES
    seconds = float(current_app.config["IMPORT_SECONDS"])
    deadline = time.monotonic() + seconds
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
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise _too_large(f"An import body may be at most 32 MiB: {IN_PARTS}.") from None
    try:
        rows = read_rows(raw, fmt, deadline=deadline)
        session = get_session()
        result = import_comments(
            session, site_id, rows, actor=who, now=utcnow(), deadline=deadline
        )
    except MalformedImport as exc:
        raise Problem(400, "Malformed body", str(exc), type="/problems/malformed-body") from None
    except RowsInvalid as exc:
        raise invalid(exc.errors, "Some rows are invalid; nothing was imported.") from None
    except ImportTooSlow:
        # Past the budget the request would outlive the server's worker timeout.
        get_session().rollback()
        raise _too_large(
            f"This import did not finish within {seconds:g} s and nothing was imported:"
            f" {IN_PARTS}."
        ) from None
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
    name = request.args.get("site")
    if name is None:
        raise invalid({"site": ["is required (the site's name, ?site=NAME)"]})
    session = get_session()
    site_id = session.scalar(select(Site.id).where(Site.name == name.strip()))
    if site_id is None:
        raise Problem(404, "Not Found", f"There is no site named {name!r}.")
    return _import(site_id, current_principal().label)
