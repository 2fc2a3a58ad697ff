"""The admin part of the OpenAPI document (moderation/api/openapi.py adds it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from moderation.admin.actions import SettingsPatch
from moderation.admin.actions import TrainingJobIn
from moderation.admin.actions import UserPatch
from moderation.api.admin.schemas import AkismetKeyOut
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
from moderation.api.openapi_parts import json_body
from moderation.api.openapi_parts import json_response
from moderation.api.openapi_parts import problem

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
    AkismetKeyOut,
]


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
            "401": problem("No credentials."),
            "403": problem("Not an admin."),
        },
    }
    if body is not None:
        operation["requestBody"] = json_body(body)
        operation["responses"]["422"] = problem("Invalid fields, named in errors.")
    if params:
        operation["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}
            for name in params
        ]
    return operation


def openapi_paths() -> dict[str, Any]:
    """Return the admin part of the OpenAPI paths."""
    root = "/api/v1/admin"
    not_found = problem("No such item.")
    return {
        f"{root}/training-jobs": {
            "post": _op(
                "create_training_job",
                "Queue a retraining.",
                {
                    "202": json_response(TrainingJobOut, "Queued; see Location."),
                    "409": problem("A job is already open."),
                },
                TrainingJobIn,
            ),
            "get": _op(
                "list_training_jobs", "Latest jobs.", {"200": json_response(TrainingJobList, "")}
            ),
        },
        f"{root}/training-jobs/{{job_id}}": {
            "get": _op(
                "get_training_job",
                "A job's status, log and version.",
                {"200": json_response(TrainingJobOut, ""), "404": not_found},
                params=("job_id",),
            )
        },
        f"{root}/model-versions": {
            "get": _op(
                "list_model_versions",
                "Versions with metrics.",
                {"200": json_response(ModelVersionList, "")},
            )
        },
        f"{root}/model-versions/{{version_id}}/promote": {
            "post": _op(
                "promote_model_version",
                "Make a version active (refused when worse unless force).",
                {
                    "200": json_response(PromotionOut, "Promoted."),
                    "404": not_found,
                    "409": problem("Worse than the active version, or not loadable."),
                },
                PromoteIn,
                ("version_id",),
            )
        },
        f"{root}/model-versions/rollback": {
            "post": _op(
                "rollback_model_version",
                "Reactivate the previously active version.",
                {
                    "200": json_response(PromotionOut, ""),
                    "409": problem("Nothing to roll back to."),
                },
            )
        },
        f"{root}/settings": {
            "get": _op(
                "get_settings", "Current settings.", {"200": json_response(SettingsOut, "")}
            ),
            "patch": _op(
                "update_settings",
                "Change settings.",
                {"200": json_response(SettingsOut, "")},
                SettingsPatch,
            ),
        },
        f"{root}/settings/preview": {
            "post": _op(
                "preview_settings_change",
                "Decide the last 1,000 comments under proposed settings.",
                {"200": json_response(PreviewOut, "")},
                SettingsPatch,
            )
        },
        f"{root}/erasures": {
            "post": _op(
                "erase_commenter",
                "Delete every comment of an email address (replies by others stay).",
                {"200": json_response(ErasureOut, "Erased.")},
                ErasureIn,
            )
        },
        f"{root}/sites": {
            "get": _op("list_sites", "Sites.", {"200": json_response(SiteList, "")}),
            "post": _op(
                "create_site_key",
                "Create a site; its key is shown once.",
                {"201": json_response(SiteCreated, ""), "409": problem("Name taken.")},
                SiteIn,
            ),
        },
        f"{root}/sites/{{site_id}}/revoke": {
            "post": _op(
                "revoke_site_key",
                "Revoke a site's key.",
                {"200": json_response(SiteOut, ""), "404": not_found},
                params=("site_id",),
            )
        },
        f"{root}/sites/{{name}}/akismet-key": {
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "post": _op(
                "issue_site_akismet_key",
                "Give the site a new Akismet key (12 hex characters), shown once.",
                {
                    "201": json_response(AkismetKeyOut, ""),
                    "404": not_found,
                    "409": problem("The site is revoked."),
                },
            ),
            "delete": _op(
                "revoke_site_akismet_key",
                "Remove the site's Akismet key.",
                {"204": {"description": "Removed."}, "404": not_found},
            ),
        },
        f"{root}/users": {
            "get": _op("list_users", "Accounts.", {"200": json_response(UserList, "")}),
            "post": _op(
                "create_account",
                "Create an account.",
                {"201": json_response(UserOut, ""), "409": problem("Email taken.")},
                UserIn,
            ),
        },
        f"{root}/users/{{user_id}}": {
            "patch": _op(
                "update_account",
                "Change role, disabled or password.",
                {
                    "200": json_response(UserOut, ""),
                    "404": not_found,
                    "409": problem("Last admin."),
                },
                UserPatch,
                ("user_id",),
            )
        },
        f"{root}/users/{{user_id}}/token": {
            "post": _op(
                "issue_account_token",
                "Issue a personal API token (shown once).",
                {"201": json_response(TokenOut, ""), "404": not_found},
                params=("user_id",),
            )
        },
    }
