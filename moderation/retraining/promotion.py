"""Versions: promote (guarded by a comparison), roll back, and the history between."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from moderation.classifier import ArtifactRefused
from moderation.problems import Problem
from moderation.retraining.evaluation import evaluate_pair
from moderation.retraining.versions import active_version
from moderation.retraining.versions import load
from moderation.tables import ClassifierVersion


@dataclass(frozen=True)
class PromotionResult:
    """The version now active, the one it replaced, and why it was allowed."""

    version: ClassifierVersion
    previous_id: int | None
    forced: bool
    comparison: dict[str, Any] | None


HISTORY_KEY = "classifier_history"
HISTORY_MAX = 50


def _history(session: Session) -> Any:
    """Return the settings row holding the ids of the versions served before, locked."""
    from moderation.tables import Setting

    stmt = select(Setting).where(Setting.key == HISTORY_KEY).with_for_update()
    row = session.scalar(stmt)
    if row is None:
        row = Setting(key=HISTORY_KEY, value=[], updated_by="system")
        session.add(row)
        try:
            session.flush()
        except IntegrityError:  # another promotion created it at the same moment
            raise _changed() from None
    return row


def _changed() -> Problem:
    return Problem(
        409,
        "Active version changed",
        "Another promotion or rollback happened meanwhile; try again.",
        type="/problems/active-changed",
    )


def _flip(session: Session, version: ClassifierVersion, active: ClassifierVersion | None) -> None:
    from moderation.tables import utcnow

    try:
        if active is not None:
            active.active = False
            session.flush()  # the one-active index allows no moment with two
        version.active = True
        version.activated_at = utcnow()
        session.flush()
    except IntegrityError:  # a concurrent promotion won the one-active index
        raise _changed() from None


@dataclass(frozen=True)
class Judgement:
    """Whether a version may replace the active one: the slow part of a promotion."""

    version_id: int
    active_id: int | None  # the version it was judged against
    comparison: dict[str, Any] | None  # None: nothing active, or it is the active one


def _refused(version_id: int, exc: Exception) -> Problem:
    return Problem(
        409,
        "Version cannot be loaded",
        f"Version {version_id} is refused: {exc}.",
        type="/problems/artifact-refused",
    )


def judge_promotion(session: Session, version_id: int, config: Mapping[str, Any]) -> Judgement:
    """Load a version (every check of load_version) and compare it with the active one on
    the same held-out comments, reusing the comparison its training stored when it was
    made against the same active version. Reads only: run it outside a write transaction.

    :raises Problem: 404 unknown version, 409 a version that does not load.
    """
    from moderation.settings import load_settings

    version = session.get(ClassifierVersion, version_id)
    if version is None:
        raise Problem(404, "Not Found", f"There is no classifier version {version_id}.")
    active = active_version(session)
    if active is not None and active.id == version.id:
        return Judgement(version.id, active.id, None)
    try:
        ours = load(version)
    except ArtifactRefused as exc:
        raise _refused(version_id, exc) from None
    if active is None:
        return Judgement(version.id, None, None)
    metrics = version.metrics or {}
    if metrics.get("compared_with") == active.id and metrics.get("comparison"):
        comparison = dict(metrics["comparison"])
    else:
        try:
            settings = load_settings(session)
            comparison = evaluate_pair(session, config, version, ours, active, settings)
        except ArtifactRefused as exc:  # the active one is broken: anything is better
            comparison = {"n": 0, "acceptable": True, "summary": f"active refused: {exc}"}
    comparison["compared_with"] = active.id
    return Judgement(version.id, active.id, comparison)


def apply_promotion(
    session: Session, judgement: Judgement, *, force: bool, actor: str
) -> PromotionResult:
    """Make the judged version active, unless it is worse (and not forced) or the active
    version changed since it was judged (409 both). Quick: the write transaction's part.
    """
    _history(session)  # lock it first: concurrent promotions queue up here
    version = session.get(ClassifierVersion, judgement.version_id)
    active = active_version(session)
    if version is None:
        raise Problem(404, "Not Found", f"There is no classifier version {judgement.version_id}.")
    if (active.id if active else None) != judgement.active_id:
        raise _changed()
    if active is not None and active.id == version.id:
        return PromotionResult(version, active.id, False, None)
    comparison = judgement.comparison
    if comparison is not None and not comparison.get("acceptable") and not force:
        raise Problem(
            409,
            "Candidate is worse",
            f"Version {version.id} was not promoted: against version {judgement.active_id},"
            f" {comparison['summary']}. Send force to promote it anyway.",
            type="/problems/candidate-worse",
            comparison=comparison,
        )
    if active is not None:
        history = _history(session)
        history.value = [*history.value, active.id][-HISTORY_MAX:]
        history.updated_by = actor
    _flip(session, version, active)
    forced = bool(force and comparison is not None and not comparison.get("acceptable"))
    return PromotionResult(version, active.id if active else None, forced, comparison)


def promote(
    session: Session,
    version_id: int,
    *,
    force: bool,
    actor: str,
    config: Mapping[str, Any],
) -> PromotionResult:
    """Make a version active unless it is worse than the active one on the same held-out
    comments (409, or `force`); a version that does not load is always refused.

    One session for both parts; a web request judges in a read session first (see
    judge_promotion) so that no write lock is held while artifacts load.

    :raises Problem: 404 unknown version, 409 worse or not loadable.
    """
    judgement = judge_promotion(session, version_id, config)
    return apply_promotion(session, judgement, force=force, actor=actor)


def previous_version(session: Session) -> tuple[ClassifierVersion | None, list[int]]:
    """Return the version served before the active one and the history below it."""
    active = active_version(session)
    stack = list(_history_value(session))
    while stack:
        candidate = session.get(ClassifierVersion, stack.pop())
        if candidate is not None and (active is None or candidate.id != active.id):
            return candidate, stack
    return None, []


def _history_value(session: Session) -> list[int]:
    from moderation.tables import Setting

    row = session.get(Setting, HISTORY_KEY)
    return list(row.value) if row is not None else []


def judge_rollback(session: Session) -> Judgement:
    """Find the version to roll back to and check that it loads (reads only).

    :raises Problem: 409 when there is none, or it does not load.
    """
    previous, _ = previous_version(session)
    if previous is None:
        raise Problem(
            409,
            "Nothing to roll back to",
            "No other version was served before the active one.",
            type="/problems/no-previous-version",
        )
    try:
        load(previous)
    except ArtifactRefused as exc:
        raise _refused(previous.id, exc) from None
    active = active_version(session)
    return Judgement(previous.id, active.id if active else None, None)


def apply_rollback(session: Session, judgement: Judgement, *, actor: str) -> PromotionResult:
    """Reactivate the judged previous version and pop it off the history (409 if the
    active version or the history changed since it was judged)."""
    history = _history(session)
    previous, stack = previous_version(session)
    active = active_version(session)
    same = previous is not None and previous.id == judgement.version_id
    if not same or (active.id if active else None) != judgement.active_id:
        raise _changed()
    history.value = stack
    history.updated_by = actor
    _flip(session, previous, active)
    return PromotionResult(previous, active.id if active else None, False, None)


def rollback(session: Session, *, actor: str) -> PromotionResult:
    """Reactivate the version served before the active one (409 when there is none).

    Promotions push the replaced version on a history; a rollback pops it, so a second
    rollback goes one step further back instead of returning.
    """
    return apply_rollback(session, judge_rollback(session), actor=actor)
