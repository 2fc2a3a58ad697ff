"""The admin part of the OpenAPI document (moderation/api/openapi.py adds it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from moderation.admin.actions import SettingsPatch
from moderation.admin.actions import TrainingJobIn
from moderation.admin.actions import UserPatch
from moderation.api.admin.schemas import ErasureIn
from moderation.api.admin.schemas import ErasureOut
from moderation.api.admin.schemas import ModelVersionList
from moderation.api.admin.schemas import PreviewOut
from moderation.api.admin.schemas import PromoteIn
from moderation.api.admin.schemas import PromotionOut
from moderation.api.admin.schemas import SettingsOut
from moderation.api.admin.schemas import SiteCreated
from moderation.api.admin.schemas import SiteIn
from moderation.api.admin.schemas import SiteList
from moderation.api.admin.schemas import SiteOut
from moderation.api.admin.schemas import TokenOut
from moderation.api.admin.schemas import TrainingJobList
from moderation.api.admin.schemas import TrainingJobOut
from moderation.api.admin.schemas import UserIn
from moderation.api.admin.schemas import UserList
from moderation.api.admin.schemas import UserOut

# --- OpenAPI: moderation/api/openapi.py adds these models and paths to its document ---

ADMIN_MODELS: list[type[BaseModel]] = [
    SiteOut,
    SettingsPatch,
    SettingsOut,
    PreviewOut,
    TrainingJobIn,
    TrainingJobOut,
    TrainingJobList,
    ModelVersionList,
    PromoteIn,
    PromotionOut,
    SiteIn,
    SiteCreated,
    SiteList,
    UserIn,
    UserPatch,
    UserOut,
    UserList,
    TokenOut,
    ErasureIn,
    ErasureOut,
]
_REF = "#/components/schemas/{model}"


def _body(model: type[BaseModel]) -> dict[str, Any]:
    schema = {"$ref": _REF.format(model=model.__name__)}
    return {"required": False, "content": {"application/json": {"schema": schema}}}


def _ok(model: type[BaseModel], description: str) -> dict[str, Any]:
    schema = {"$ref": _REF.format(model=model.__name__)}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Problem"}
    content = {"application/problem+json": {"schema": schema}}
    return {"description": description, "content": content}


def _op(
    op_id: str,
    summary: str,
    responses: dict[str, Any],
    body: type[BaseModel] | None = None,
    params: tuple[str, ...] = (),
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "tags": ["admin"],
        "responses": {
            **responses,
            "401": _problem("No credentials."),
            "403": _problem("Not an admin."),
        },
    }
    if body is not None:
        operation["requestBody"] = _body(body)
        operation["responses"]["422"] = _problem("Invalid fields, named in errors.")
    if params:
        operation["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}
            for name in params
        ]
    return operation


def openapi_paths() -> dict[str, Any]:
    """Return the admin part of the OpenAPI paths."""
    root = "/api/v1/admin"
    not_found = _problem("No such item.")
    return {
        f"{root}/training-jobs": {
            "post": _op(
                "create_training_job",
                "Queue a retraining.",
                {
                    "202": _ok(TrainingJobOut, "Queued; see Location."),
                    "409": _problem("A job is already open."),
                },
                TrainingJobIn,
            ),
            "get": _op("list_training_jobs", "Latest jobs.", {"200": _ok(TrainingJobList, "")}),
        },
        f"{root}/training-jobs/{{job_id}}": {
            "get": _op(
                "get_training_job",
                "A job's status, log and version.",
                {"200": _ok(TrainingJobOut, ""), "404": not_found},
                params=("job_id",),
            )
        },
        f"{root}/model-versions": {
            "get": _op(
                "list_model_versions", "Versions with metrics.", {"200": _ok(ModelVersionList, "")}
            )
        },
        f"{root}/model-versions/{{version_id}}/promote": {
            "post": _op(
                "promote_model_version",
                "Make a version active (refused when worse unless force).",
                {
                    "200": _ok(PromotionOut, "Promoted."),
                    "404": not_found,
                    "409": _problem("Worse than the active version, or not loadable."),
                },
                PromoteIn,
                ("version_id",),
            )
        },
        f"{root}/model-versions/rollback": {
            "post": _op(
                "rollback_model_version",
                "Reactivate the previously active version.",
                {"200": _ok(PromotionOut, ""), "409": _problem("Nothing to roll back to.")},
            )
        },
        f"{root}/settings": {
            "get": _op("get_settings", "Current settings.", {"200": _ok(SettingsOut, "")}),
            "patch": _op(
                "update_settings", "Change settings.", {"200": _ok(SettingsOut, "")}, SettingsPatch
            ),
        },
        f"{root}/settings/preview": {
            "post": _op(
                "preview_settings_change",
                "Decide the last 1,000 comments under proposed settings.",
                {"200": _ok(PreviewOut, "")},
                SettingsPatch,
            )
        },
        f"{root}/erasures": {
            "post": _op(
                "erase_commenter",
                "Delete every comment of an email address (replies by others stay).",
                {"200": _ok(ErasureOut, "Erased.")},
                ErasureIn,
            )
        },
        f"{root}/sites": {
            "get": _op("list_sites", "Sites.", {"200": _ok(SiteList, "")}),
            "post": _op(
                "create_site_key",
                "Create a site; its key is shown once.",
                {"201": _ok(SiteCreated, ""), "409": _problem("Name taken.")},
                SiteIn,
            ),
        },
        f"{root}/sites/{{site_id}}/revoke": {
            "post": _op(
                "revoke_site_key",
                "Revoke a site's key.",
                {"200": _ok(SiteOut, ""), "404": not_found},
                params=("site_id",),
            )
        },
        f"{root}/users": {
            "get": _op("list_users", "Accounts.", {"200": _ok(UserList, "")}),
            "post": _op(
                "create_account",
                "Create an account.",
                {"201": _ok(UserOut, ""), "409": _problem("Email taken.")},
                UserIn,
            ),
        },
        f"{root}/users/{{user_id}}": {
            "patch": _op(
                "update_account",
                "Change role, disabled or password.",
                {"200": _ok(UserOut, ""), "404": not_found, "409": _problem("Last admin.")},
                UserPatch,
                ("user_id",),
            )
        },
        f"{root}/users/{{user_id}}/token": {
            "post": _op(
                "issue_account_token",
                "Issue a personal API token (shown once).",
                {"201": _ok(TokenOut, ""), "404": not_found},
                params=("user_id",),
            )
        },
    }
