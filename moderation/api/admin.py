"""Admin endpoints under /api/v1/admin: training jobs, versions, settings, sites, users."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from flask import request
from flask import url_for
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import StrictBool
from sqlalchemy import select

from moderation import jobs
from moderation import retraining
from moderation.accounts import AccountError
from moderation.accounts import create_site
from moderation.accounts import create_user
from moderation.accounts import issue_token
from moderation.accounts import revoke_site
from moderation.admin.actions import SettingsPatch
from moderation.admin.actions import TrainingJobIn
from moderation.admin.actions import UserPatch
from moderation.admin.actions import change_user
from moderation.admin.actions import find_site
from moderation.admin.actions import find_user
from moderation.admin.actions import merge_settings
from moderation.admin.actions import promote_version
from moderation.admin.actions import queue_training_job
from moderation.admin.actions import read_only_session
from moderation.admin.actions import rollback_version
from moderation.admin.preview import Preview
from moderation.admin.preview import preview_settings
from moderation.api.views import bp
from moderation.auth import current_principal
from moderation.auth import require_role
from moderation.bodies import parse_json
from moderation.db import get_session
from moderation.problems import Problem
from moderation.problems import invalid
from moderation.schemas import validate_model
from moderation.settings import ModerationSettings
from moderation.settings import load_settings
from moderation.settings import save_settings
from moderation.tables import ClassifierVersion
from moderation.tables import Role
from moderation.tables import Site
from moderation.tables import TrainingJob
from moderation.tables import User

PREFIX = "/admin"


# --- request and response shapes (also the OpenAPI document's) ---


class SettingsOut(BaseModel):
    """The settings every worker applies."""

    spam_threshold: float
    hold_threshold: float
    disallowed_words: list[str]
    moderation_words: list[str]
    trust_new_authors: bool
    max_links: int


class StatusCountsOut(BaseModel):
    """How many comments each status would get."""

    pending: int
    approved: int
    spam: int


class LabelledOut(BaseModel):
    """Outcome on the comments moderators labelled."""

    ham: int
    spam: int
    ham_to_spam: int
    spam_published: int


class ChangedOut(BaseModel):
    """A comment the proposed settings decide differently."""

    id: int
    author_name: str
    excerpt: str
    spam_score: float | None
    current: str
    proposed: str
    moderator_label: str | None


class PreviewOut(BaseModel):
    """The latest comments decided under the current and the proposed settings."""

    n: int
    settings: SettingsOut
    current: StatusCountsOut
    proposed: StatusCountsOut
    changed_total: int
    changed: list[ChangedOut]
    labelled_current: LabelledOut
    labelled_proposed: LabelledOut


class TrainingJobOut(BaseModel):
    """A training job and what it produced."""

    id: int
    status: str
    options: dict[str, Any]
    log: str
    error: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    version_id: int | None


class TrainingJobList(BaseModel):
    """The latest training jobs, newest first."""

    items: list[TrainingJobOut]


class ModelVersionOut(BaseModel):
    """A classifier version: who made it, whether it serves, and how it scored."""

    id: int
    created_at: datetime
    created_by: str
    active: bool
    activated_at: datetime | None
    sha256: str
    note: str | None
    manifest: dict[str, Any]
    metrics: dict[str, Any]


class ModelVersionList(BaseModel):
    """Every classifier version, newest first; `active_id` names the one serving."""

    active_id: int | None
    items: list[ModelVersionOut]


class PromoteIn(BaseModel):
    """Promote even when the candidate is worse than the active version."""

    model_config = ConfigDict(extra="forbid")

    force: StrictBool = False


class PromotionOut(BaseModel):
    """The version now serving and the comparison that allowed it."""

    version: ModelVersionOut
    previous_id: int | None
    forced: bool
    comparison: dict[str, Any] | None


class SiteIn(BaseModel):
    """A new site."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)


class SiteOut(BaseModel):
    """A site; its key is never shown again after creation."""

    id: int
    name: str
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None


class SiteCreated(SiteOut):
    """A new site with its key (shown only in this answer)."""

    key: str


class SiteList(BaseModel):
    """Every site."""

    items: list[SiteOut]


class UserIn(BaseModel):
    """A new moderator or admin account."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=8, max_length=1024)
    role: Role = Role.MODERATOR


class UserOut(BaseModel):
    """An account (never its password hash or token)."""

    id: int
    email: str
    role: str
    disabled: bool
    has_token: bool
    created_at: datetime


class UserList(BaseModel):
    """Every account."""

    items: list[UserOut]


class TokenOut(BaseModel):
    """A new personal API token (shown only in this answer)."""

    user_id: int
    token: str


# --- helpers ---


def json_body() -> dict[str, Any]:
    """Return the JSON object body ({} when empty), or raise 400/415."""
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    if request.mimetype != "application/json":
        raise Problem(
            415,
            "Unsupported Media Type",
            f"Content-Type {request.mimetype or 'none'} is not accepted: send application/json.",
        )
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise Problem(400, "Malformed body", "The JSON body must be an object.")
    return body


def actor() -> str:
    """Return the label of the admin making this request."""
    principal = current_principal()
    return principal.label if principal else "anonymous"


def settings_out(settings: ModerationSettings) -> SettingsOut:
    """Serialize settings."""
    return SettingsOut(**settings.as_dict())


def job_out(job: TrainingJob) -> TrainingJobOut:
    """Serialize a training job."""
    return TrainingJobOut(
        id=job.id,
        status=str(job.status),
        options=job.options or {},
        log=job.log or "",
        error=job.error,
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        heartbeat_at=job.heartbeat_at,
        version_id=job.version_id,
    )


def version_out(version: ClassifierVersion) -> ModelVersionOut:
    """Serialize a classifier version (without its artifact bytes)."""
    return ModelVersionOut(
        id=version.id,
        created_at=version.created_at,
        created_by=version.created_by,
        active=version.active,
        activated_at=version.activated_at,
        sha256=version.sha256,
        note=version.note,
        manifest=version.manifest or {},
        metrics=version.metrics or {},
    )


def site_out(site: Site) -> SiteOut:
    """Serialize a site."""
    return SiteOut(
        id=site.id,
        name=site.name,
        key_prefix=site.key_prefix,
        created_at=site.created_at,
        revoked_at=site.revoked_at,
    )


def user_out(user: User) -> UserOut:
    """Serialize a user."""
    return UserOut(
        id=user.id,
        email=user.email,
        role=str(user.role),
        disabled=user.disabled,
        has_token=user.token_hash is not None,
        created_at=user.created_at,
    )


def preview_out(preview: Preview, settings: ModerationSettings) -> PreviewOut:
    """Serialize a settings preview."""
    return PreviewOut(
        n=preview.n,
        settings=settings_out(settings),
        current=StatusCountsOut(**{str(k): v for k, v in preview.current.items()}),
        proposed=StatusCountsOut(**{str(k): v for k, v in preview.proposed.items()}),
        changed_total=preview.changed_total,
        changed=[
            ChangedOut(
                id=c.id,
                author_name=c.author_name,
                excerpt=c.excerpt,
                spam_score=c.spam_score,
                current=str(c.current),
                proposed=str(c.proposed),
                moderator_label=str(c.moderator_label) if c.moderator_label else None,
            )
            for c in preview.changed
        ],
        labelled_current=LabelledOut(**vars(preview.labelled_current)),
        labelled_proposed=LabelledOut(**vars(preview.labelled_proposed)),
    )


def account_problem(exc: AccountError, field: str) -> Problem:
    """Turn an account error into a 409 (exists already) or a 422 naming the field."""
    message = str(exc)
    if "exists already" in message:
        return Problem(409, "Conflict", message, type="/problems/exists")
    return invalid({field: [message]})


# --- training jobs ---


@bp.post(f"{PREFIX}/training-jobs")
@require_role(Role.ADMIN)
def create_training_job() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Queue a retraining (202 with its Location; 409 while another job is open)."""
    body = validate_model(TrainingJobIn, json_body())
    session = get_session()
    job = queue_training_job(session, body, actor())
    session.commit()
    jobs.start_runner(current_app._get_current_object(), job.id)
    location = url_for("api.get_training_job", job_id=job.id)
    return job_out(job).model_dump(mode="json"), 202, {"Location": location}


@bp.get(f"{PREFIX}/training-jobs")
@require_role(Role.ADMIN)
def list_training_jobs() -> dict[str, Any]:
    """Return the latest training jobs, newest first."""
    session = get_session()
    jobs.look_at_jobs(current_app._get_current_object(), session)
    items = [job_out(job) for job in jobs.list_jobs(session)]
    return TrainingJobList(items=items).model_dump(mode="json")


@bp.get(f"{PREFIX}/training-jobs/<int:job_id>")
@require_role(Role.ADMIN)
def get_training_job(job_id: int) -> dict[str, Any]:
    """Return a job's status, log and the version it produced."""
    session = get_session()
    jobs.look_at_jobs(current_app._get_current_object(), session)
    return job_out(jobs.get_job(session, job_id)).model_dump(mode="json")


# --- classifier versions ---


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


# --- settings ---


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
