"""Admin routes for classifier versions: list, promote, roll back."""

from __future__ import annotations

from typing import Any

from moderation import retraining
from moderation.admin.actions import promote_version
from moderation.admin.actions import rollback_version
from moderation.api.admin.helpers import PREFIX
from moderation.api.admin.helpers import actor
from moderation.api.admin.helpers import json_body
from moderation.api.admin.schemas import ModelVersionList
from moderation.api.admin.schemas import PromoteIn
from moderation.api.admin.schemas import PromotionOut
from moderation.api.admin.schemas import version_out
from moderation.api.views import bp
from moderation.auth import require_role
from moderation.db import get_session
from moderation.schemas import validate_model
from moderation.tables import Role


@bp.get(f"{PREFIX}/model-versions")
@require_role(Role.ADMIN)
def list_model_versions() -> dict[str, Any]:
    """Return every classifier version with its metrics, newest first."""
    versions = retraining.list_versions(get_session())
    active = next((v.id for v in versions if v.active), None)
    out = ModelVersionList(active_id=active, items=[version_out(v) for v in versions])
    return out.model_dump(mode="json")


@bp.post(f"{PREFIX}/model-versions/<int:version_id>/promote")
@require_role(Role.ADMIN)
def promote_model_version(version_id: int) -> dict[str, Any]:
    """Make a version active unless it is worse than the active one (409; `force` overrides)."""
    body = validate_model(PromoteIn, json_body())
    result = promote_version(version_id, force=body.force, who=actor())
    out = PromotionOut(
        version=version_out(result.version),
        previous_id=result.previous_id,
        forced=result.forced,
        comparison=result.comparison,
    )
    return out.model_dump(mode="json")


@bp.post(f"{PREFIX}/model-versions/rollback")
@require_role(Role.ADMIN)
def rollback_model_version() -> dict[str, Any]:
    """Make the previously active version active again (409 when there is none)."""
    result = rollback_version(actor())
    out = PromotionOut(
        version=version_out(result.version),
        previous_id=result.previous_id,
        forced=False,
        comparison=None,
    )
    return out.model_dump(mode="json")
