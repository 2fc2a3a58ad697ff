"""What admins can do, shared by the admin API and the admin pages (inputs and checks)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated
from typing import Any

from flask import current_app
from pydantic import AfterValidator
from pydantic import AwareDatetime
from pydantic import BaseModel
from pydantic import BeforeValidator
from pydantic import ConfigDict
from pydantic import Field
from pydantic import StrictBool
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation import db
from moderation import jobs
from moderation import retraining
from moderation.accounts import AccountError
from moderation.accounts import set_disabled
from moderation.accounts import set_password
from moderation.db import get_session
from moderation.problems import Problem
from moderation.problems import invalid
from moderation.settings import ModerationSettings
from moderation.storable import whole_number
from moderation.tables import Role
from moderation.tables import Site
from moderation.tables import TrainingJob
from moderation.tables import User
from moderation.tables import utcnow

WORD_MAX = 100
WORDS_MAX = 1000


def _words(values: list[str]) -> list[str]:
    """Trim, drop blanks and repeats (ignoring case), keep the admin's order."""
    seen: set[str] = set()
    words = []
    for value in values:
        word = value.strip()
        if word and word.casefold() not in seen:
            seen.add(word.casefold())
            words.append(word)
    return words


WordList = Annotated[
    list[Annotated[str, Field(max_length=WORD_MAX)]],
    Field(max_length=WORDS_MAX, description="Matched as case-insensitive substrings."),
    AfterValidator(_words),
]
Threshold = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]


class SettingsPatch(BaseModel):
    """Settings to change; absent fields keep their value. 0 < hold ≤ spam ≤ 1."""

    model_config = ConfigDict(extra="forbid")

    spam_threshold: Threshold | None = Field(
        default=None, description="A score at or above it sends the comment to spam."
    )
    hold_threshold: Threshold | None = Field(
        default=None, description="A score at or above it holds the comment for review."
    )
    disallowed_words: WordList | None = None
    moderation_words: WordList | None = None
    trust_new_authors: StrictBool | None = Field(
        default=None, description="Publish first comments that pass every check."
    )
    max_links: (
        Annotated[int, Field(ge=0, le=100, strict=True), BeforeValidator(whole_number)] | None
    ) = Field(default=None, description="Hold at this many links (0: off).")
    links_alone_never_spam: StrictBool | None = Field(
        default=None,
        description="Hold, rather than send to spam, a comment whose own words score below"
        " the spam threshold and that only its links, or only its length, capitals and"
        " digits, push over it.",
    )
    akismet_held_is_spam: StrictBool | None = Field(
        default=None,
        description="Akismet's comment-check answers true (spam) for a comment held for"
        " review; false (the default) lets the site's own holding rules apply.",
    )
    akismet_discard_score: Threshold | None = Field(
        default=None,
        description="Spam scored at or above it gets Akismet's 'X-akismet-pro-tip: discard'.",
    )


class TrainingJobIn(BaseModel):
    """What a retraining learns from."""

    model_config = ConfigDict(extra="forbid")

    include_decisions: StrictBool = Field(
        default=True, description="Learn from moderators' approve (ham) and spam decisions."
    )
    since: AwareDatetime | None = Field(
        default=None, description="Only decisions made at or after this time."
    )
    corpus_files: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        default_factory=list,
        max_length=20,
        description="Labelled corpus files in the server's corpus folder (MODERATION_CORPUS_DIR).",
    )


class UserPatch(BaseModel):
    """Changes to an account: role, disabled, password (absent fields stay)."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: StrictBool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1024)


def merge_settings(current: ModerationSettings, patch: SettingsPatch) -> ModerationSettings:
    """Apply a patch over the current settings, or raise 422 if the thresholds cross."""
    changes = patch.model_dump(exclude_none=True)
    for key in ("disallowed_words", "moderation_words"):
        if key in changes:
            changes[key] = tuple(changes[key])
    merged = replace(current, **changes)
    if not 0 < merged.hold_threshold <= merged.spam_threshold <= 1:
        message = (
            f"must satisfy 0 < hold_threshold ≤ spam_threshold ≤ 1"
            f" (hold {merged.hold_threshold:g}, spam {merged.spam_threshold:g})"
        )
        names = [k for k in ("hold_threshold", "spam_threshold") if k in changes]
        raise invalid({name: [message] for name in names or ["hold_threshold"]})
    return merged


def training_options(body: TrainingJobIn) -> dict[str, Any]:
    """Check the job's inputs against this server (422 naming the field) and return them."""
    errors: dict[str, list[str]] = {}
    files = []
    for name in body.corpus_files:
        try:
            files.append(retraining.resolve_corpus_file(current_app.config, name).name)
        except retraining.CorpusError as exc:
            errors.setdefault("corpus_files", []).append(str(exc))
    if not body.include_decisions and not body.corpus_files:
        errors.setdefault("include_decisions", []).append(
            "nothing to learn from: include the decisions or name corpus files"
        )
    if errors:
        raise invalid(errors)
    return retraining.TrainingOptions(
        include_decisions=body.include_decisions,
        since=body.since,
        corpus_files=tuple(files),
    ).as_dict()


def queue_training_job(session: Session, body: TrainingJobIn, who: str) -> TrainingJob:
    """Fail stale jobs, then queue a new one (409 while another is open); no commit."""
    jobs.fail_stale_jobs(session, utcnow(), jobs.Limits.of(current_app.config))
    return jobs.create_job(session, training_options(body), who)


def find_site(session: Session, site_id: int) -> Site:
    """Return a site or raise 404."""
    site = session.get(Site, site_id)
    if site is None:
        raise Problem(404, "Not Found", f"There is no site {site_id}.")
    return site


def find_user(session: Session, user_id: int) -> User:
    """Return a user or raise 404."""
    user = session.get(User, user_id)
    if user is None:
        raise Problem(404, "Not Found", f"There is no user {user_id}.")
    return user


def change_user(session: Session, user: User, patch: UserPatch, by: User | None) -> None:
    """Apply role, disabled and password changes; never lock the last admin out (409)."""
    losing_admin = user.role is Role.ADMIN and (
        (patch.role is not None and patch.role is not Role.ADMIN) or patch.disabled is True
    )
    if losing_admin:
        if by is not None and by.id == user.id:
            raise Problem(
                409,
                "Conflict",
                "You cannot disable yourself or take away your own admin role.",
                type="/problems/last-admin",
            )
        others = session.scalars(
            select(User.id).where(
                User.role == Role.ADMIN, User.disabled.is_(False), User.id != user.id
            )
        ).first()
        if others is None:
            raise Problem(
                409, "Conflict", "This is the last enabled admin.", type="/problems/last-admin"
            )
    if patch.role is not None:
        user.role = patch.role
    if patch.disabled is not None:
        set_disabled(session, user, patch.disabled)
    if patch.password is not None:
        try:
            set_password(session, user, patch.password)
        except AccountError as exc:
            raise invalid({"password": [str(exc)]}) from None


def read_only_session() -> Session:
    """End the request's transaction (auth began it) and return a read session.

    POST requests begin as SQLite writers; loading artifacts or reading a thousand
    comments must not hold the write lock the intake needs.
    """
    get_session().commit()
    return db.new_session(current_app._get_current_object())


def promote_version(version_id: int, *, force: bool, who: str) -> retraining.PromotionResult:
    """Judge a version without a write lock, then promote it in the request's session."""
    with read_only_session() as reading:
        judgement = retraining.judge_promotion(reading, version_id, current_app.config)
    session = get_session()
    result = retraining.apply_promotion(session, judgement, force=force, actor=who)
    session.commit()
    return result


def rollback_version(who: str) -> retraining.PromotionResult:
    """Check the previous version loads without a write lock, then roll back to it."""
    with read_only_session() as reading:
        judgement = retraining.judge_rollback(reading)
    session = get_session()
    result = retraining.apply_rollback(session, judgement, actor=who)
    session.commit()
    return result
