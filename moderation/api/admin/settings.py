"""Admin routes for the moderation settings and their preview."""

from __future__ import annotations

from typing import Any

from moderation.admin.actions import SettingsPatch
from moderation.admin.actions import merge_settings
from moderation.admin.actions import read_only_session
from moderation.admin.preview import preview_settings
from moderation.api.admin.helpers import PREFIX
from moderation.api.admin.helpers import actor
from moderation.api.admin.helpers import json_body
from moderation.api.admin.schemas import preview_out
from moderation.api.admin.schemas import settings_out
from moderation.api.views import bp
from moderation.auth import require_role
from moderation.db import get_session
from moderation.schemas import validate_model
from moderation.settings import load_settings
from moderation.settings import save_settings
from moderation.tables import Role


@bp.get(f"{PREFIX}/settings")
@require_role(Role.ADMIN)
def get_settings() -> dict[str, Any]:
    """Return the settings stored in the database."""
    return settings_out(load_settings(get_session())).model_dump(mode="json")


@bp.patch(f"{PREFIX}/settings")
@require_role(Role.ADMIN)
def update_settings() -> dict[str, Any]:
    """Change some settings; every worker applies them within SETTINGS_TTL_SECONDS."""
    patch = validate_model(SettingsPatch, json_body())
    session = get_session()
    merged = merge_settings(load_settings(session), patch)
    changes = {key: getattr(merged, key) for key in patch.model_dump(exclude_none=True)}
    saved = save_settings(session, changes, actor())
    session.commit()
    return settings_out(saved).model_dump(mode="json")


@bp.post(f"{PREFIX}/settings/preview")
@require_role(Role.ADMIN)
def preview_settings_change() -> dict[str, Any]:
    """Show what the given settings would have decided for the last 1,000 comments."""
    patch = validate_model(SettingsPatch, json_body())
    with read_only_session() as session:  # a preview changes nothing
        current = load_settings(session)
        proposed = merge_settings(current, patch)
        preview = preview_settings(session, current, proposed)
    return preview_out(preview, proposed).model_dump(mode="json")
