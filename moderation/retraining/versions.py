"""Stored classifier versions: load one, find the active one, list them all."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import defer

from moderation.classifier import load_version
from moderation.retraining.correction import LocalCorrection
from moderation.retraining.operating_point import OWN_SPAM_FLOOR
from moderation.tables import ClassifierVersion


def load(row: ClassifierVersion) -> Any:
    """Load a stored version through every check of classifier.load_version."""
    return load_version(row.artifact, row.sha256, row.manifest or {})


def root_classifier(clf: Any) -> Any:
    """Return the base a correction wraps (so versions never nest), or the classifier.

    A correction fitted without a base (no version was active) is a root itself.
    """
    if isinstance(clf, LocalCorrection) and clf.base is not None:
        return clf.base
    return clf


def active_version(session: Session) -> ClassifierVersion | None:
    """Return the active version row (with its artifact), if any."""
    return session.scalar(select(ClassifierVersion).where(ClassifierVersion.active.is_(True)))


def list_versions(session: Session) -> list[ClassifierVersion]:
    """Return every version, newest first, without loading the artifacts."""
    stmt = (
        select(ClassifierVersion)
        .options(defer(ClassifierVersion.artifact))
        .order_by(ClassifierVersion.id.desc())
    )
    return list(session.scalars(stmt))


def spam_floors(session: Session, version_ids: Iterable[int | None]) -> dict[int, float]:
    """Return the own spam thresholds of the given versions that have one (from manifests).

    A retrained version sends to spam only at or above its own floor (see
    operating_point), whatever the site's lower threshold; pages that show or replay
    decisions read it here rather than load every artifact.
    """
    ids = {v for v in version_ids if v is not None}
    if not ids:
        return {}
    rows = session.execute(
        select(ClassifierVersion.id, ClassifierVersion.manifest).where(
            ClassifierVersion.id.in_(ids)
        )
    )
    return {v: floor for v, manifest in rows if (floor := own_spam_floor(manifest)) is not None}


def own_spam_floor(manifest: Mapping[str, Any] | None) -> float | None:
    """Return the own spam threshold a version's manifest records, if it has one."""
    floor = ((manifest or {}).get("thresholds") or {}).get(OWN_SPAM_FLOOR)
    return float(floor) if isinstance(floor, int | float) else None
