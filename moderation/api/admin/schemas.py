"""Request and response shapes of the admin API (also the OpenAPI document's)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import StrictBool

from moderation.admin.preview import Preview
from moderation.jobs.progress import job_progress
from moderation.settings import ModerationSettings
from moderation.tables import ClassifierVersion
from moderation.tables import Role
from moderation.tables import Site
from moderation.tables import TrainingJob
from moderation.tables import User

# --- request and response shapes (also the OpenAPI document's) ---


class SettingsOut(BaseModel):
    """The settings every worker applies."""

    spam_threshold: float
    hold_threshold: float
    disallowed_words: list[str]
    moderation_words: list[str]
    trust_new_authors: bool
    max_links: int
    links_alone_never_spam: bool
    akismet_held_is_spam: bool
    akismet_discard_score: float


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


class JobProgressOut(BaseModel):
    """How far a job has come: steps done of total, read from its log."""

    done: int
    total: int
    stage: str


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
    progress: JobProgressOut


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

    name: str = Field(min_length=1, max_length=100, json_schema_extra={"pattern": r"\S"})


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

    email: str = Field(min_length=3, max_length=254, json_schema_extra={"format": "email"})
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


class ErasureIn(BaseModel):
    """Whose comments to erase: every comment of this address, on every site."""

    model_config = ConfigDict(extra="forbid")

    author_email: str = Field(min_length=3, max_length=100, json_schema_extra={"format": "email"})


class ErasureOut(BaseModel):
    """What an erasure deleted or detached."""

    comments_deleted: int
    replies_detached: int
    flood_marks_deleted: int


class TokenOut(BaseModel):
    """A new personal API token (shown only in this answer)."""

    user_id: int
    token: str


# --- serializers ---


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
        progress=JobProgressOut(**asdict(job_progress(job.status, job.log or ""))),
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


class AkismetKeyOut(BaseModel):
    """A site's new Akismet key (12 hex characters), shown only in this answer."""

    site: str
    akismet_key: str
