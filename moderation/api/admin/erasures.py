"""Admin route that erases a commenter's data (the brief's only deletion besides purge)."""

from __future__ import annotations

from typing import Any

from flask import current_app

from moderation.api.admin.helpers import PREFIX
from moderation.api.admin.helpers import actor
from moderation.api.admin.helpers import json_body
from moderation.api.admin.schemas import ErasureIn
from moderation.api.admin.schemas import ErasureOut
from moderation.api.views import bp
from moderation.auth import require_role
from moderation.db import get_session
from moderation.retention import erase_commenter
from moderation.schemas import validate_model
from moderation.tables import Role


@bp.post(f"{PREFIX}/erasures")
@require_role(Role.ADMIN)
def erase() -> dict[str, Any]:
    """Delete every comment of one address, with its audit trail and flood marks."""
    request = validate_model(ErasureIn, json_body())
    session = get_session()
    result = erase_commenter(session, request.author_email)
    session.commit()
    # The address itself is not logged: the log would keep what was just erased.
    current_app.logger.warning(
        "erasure by %s: %d comments deleted", actor(), result.comments_deleted
    )
    return ErasureOut(**vars(result)).model_dump(mode="json")
