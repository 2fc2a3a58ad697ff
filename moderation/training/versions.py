"""Classifier versions: train one with its manifest, store it as a row, export or import it.

Services take a Session and never commit. train() puts the corpora and the fit together
for `flask model train`; import_default_artifact() gives a fresh database the shipped
version from models/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.classifier.artifact import TRUSTED_TYPES
from moderation.classifier.artifact import ArtifactRefused
from moderation.classifier.artifact import dump_artifact
from moderation.classifier.artifact import library_versions
from moderation.classifier.artifact import load_version
from moderation.classifier.artifact import sha256_of
from moderation.classifier.card import render_card
from moderation.settings import ModerationSettings
from moderation.tables import ClassifierVersion
from moderation.tables import utcnow
from moderation.training.corpora import Corpus
from moderation.training.fitting import EVALUATION_KEYS
from moderation.training.fitting import evaluate_scores
from moderation.training.fitting import fit

METHOD = "spam-estimator/1"
ARTIFACT_NAME = "default.skops"
MANIFEST_NAME = "manifest.json"
CARD_NAME = "card.md"


@dataclass
class Trained:
    """A fitted, evaluated classifier and what is stored of it."""

    classifier: Any = field(repr=False)
    artifact: bytes = field(repr=False)
    manifest: dict[str, Any]
    metrics: dict[str, Any]


def git_commit(start: Path | None = None) -> str | None:
    """Return the checked-out commit of the project, if it is a git checkout."""
    folder = (start or Path(__file__)).resolve()
    for parent in [folder, *folder.parents]:
        git = parent / ".git"
        if git.is_dir():
            try:
                head = (git / "HEAD").read_text().strip()
                if not head.startswith("ref: "):
                    return head
                ref = head[5:]
                if (git / ref).is_file():
                    return (git / ref).read_text().strip()
                packed = git / "packed-refs"
                if packed.is_file():
                    for line in packed.read_text().splitlines():
                        if line.endswith(" " + ref):
                            return line.split(" ", 1)[0]
            except OSError:
                return None
            return None
    return None


def train(
    corpus: Corpus,
    settings: ModerationSettings,
    *,
    command: str | None = None,
    created_by: str = "",
    params: Mapping[str, Any] | None = None,
) -> Trained:
    """Fit a version on a corpus, evaluate it by cross-validation, build its manifest.

    The metrics are the calibrated out-of-fold scores of the comment texts (not the
    auxiliary ones): every text is scored by a fit that did not see it. Random folds
    are optimistic where templates recur (YouTube spam): bench/quality.py measures
    leave-one-video-out.
    """
    import numpy as np

    labels = np.asarray(corpus.labels)
    aux = np.asarray(corpus.aux, dtype=bool)
    started = time.monotonic()
    classifier = fit(corpus.docs, corpus.labels, corpus.aux, corpus.calibrated, **(params or {}))
    fit_seconds = time.monotonic() - started
    oof = classifier.cv_proba_
    del classifier.cv_proba_  # an estimate for the manifest, not part of the artifact
    scored = np.isfinite(oof)
    rows = ~aux if (aux.any() and not aux.all()) else np.ones(len(labels), bool)
    rows &= scored & np.asarray(corpus.calibrated, dtype=bool)
    method = (
        f"{classifier.cv}-fold cross-validation"
        if scored.all()
        else "a stratified 20 % holdout (large corpus)"
    )
    metrics: dict[str, Any] = {
        "validation": evaluate_scores(labels[rows], oof[rows], settings),
        "validation_method": f"{method}: calibrated scores of the comment texts a fit did not see",
        "by_source": {},
    }
    start = 0
    sources = list(corpus.sources)
    for source in sources:
        stop = start + int(source["n"])
        part = np.arange(start, stop)[scored[start:stop]]
        if len(part) and source.get("role") != "extra ham":  # ham only: no metrics
            metrics["by_source"][source["name"]] = evaluate_scores(
                labels[part], oof[part], settings
            )
        start = stop
    artifact = dump_artifact(classifier)
    spam = int(labels.sum())
    features = classifier.features_
    manifest: dict[str, Any] = {
        "method": METHOD,
        "version": None,
        "created_at": utcnow().isoformat(),
        "created_by": created_by,
        "sha256": sha256_of(artifact),
        "libraries": library_versions(),
        "git_commit": git_commit(),
        "command": command,
        "labels": ["ham", "spam"],
        "thresholds": {"spam": settings.spam_threshold, "hold": settings.hold_threshold},
        "training_data": {
            "n": len(labels),
            "spam": spam,
            "ham": len(labels) - spam,
            "sources": sources,
        },
        "params": {
            "C": classifier.C,
            "cv": classifier.cv,
            "features": {k: _jsonable(v) for k, v in features.get_params().items()},
        },
        "n_features": int(classifier.n_features_),
        "feature_blocks": dict(features.blocks()),
        "calibration": {"slope": classifier.slope_, "offset": classifier.offset_},
        "converged": bool(classifier.converged_),
        "fit_seconds": round(fit_seconds, 2),
        "cv_metrics": {k: metrics["validation"].get(k) for k in EVALUATION_KEYS},
        "trusted_types": list(TRUSTED_TYPES),
    }
    return Trained(classifier, artifact, manifest, metrics)


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def store_version(
    session: Session,
    trained: Trained,
    created_by: str,
    *,
    note: str | None = None,
    active: bool = False,
) -> ClassifierVersion:
    """Add a trained classifier as a new version row (inactive unless asked; no commit)."""
    row = ClassifierVersion(
        created_by=created_by[:254],
        artifact=trained.artifact,
        sha256=trained.manifest["sha256"],
        manifest=trained.manifest,
        metrics=trained.metrics,
        active=active,
        activated_at=utcnow() if active else None,
        note=note,
    )
    session.add(row)
    session.flush()
    row.manifest = {**trained.manifest, "version": row.id}
    trained.manifest = row.manifest
    session.flush()
    return row


def export_artifact(folder: Path, trained: Trained) -> list[Path]:
    """Write the artifact, its manifest and its card to a folder (e.g. models/)."""
    folder.mkdir(parents=True, exist_ok=True)
    artifact = folder / ARTIFACT_NAME
    artifact.write_bytes(trained.artifact)
    manifest = folder / MANIFEST_NAME
    exported = {**trained.manifest, "metrics": trained.metrics}  # the import's metrics
    manifest.write_text(json.dumps(exported, indent=2, sort_keys=True) + "\n")
    card = folder / CARD_NAME
    card.write_text(render_card(trained.manifest, trained.metrics))
    return [artifact, manifest, card]


def import_default_artifact(
    session: Session, path: Path | str, *, created_by: str = "setup"
) -> ClassifierVersion | None:
    """Import the shipped artifact as the active version of a database that has none.

    Returns None (and changes nothing) when the database has any version already.

    :raises ArtifactRefused: the artifact fails a loading check (checksum, library
        version, types, canary); nothing is stored.
    """
    if session.scalar(select(func.count()).select_from(ClassifierVersion)):
        return None
    path = Path(path)
    blob = path.read_bytes()
    manifest_path = path.with_name(MANIFEST_NAME)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactRefused(f"{manifest_path} cannot be read: {exc}") from None
    sha256 = str(manifest.get("sha256", ""))
    load_version(blob, sha256, manifest)
    metrics = manifest.pop("metrics", None) or {"validation": manifest.get("cv_metrics") or {}}
    row = ClassifierVersion(
        created_by=created_by,
        artifact=blob,
        sha256=sha256,
        manifest=manifest,
        metrics=metrics,
        active=True,
        activated_at=utcnow(),
        note=f"shipped default ({path.name})",
    )
    session.add(row)
    session.flush()
    row.manifest = {**manifest, "version": row.id, "imported_from": path.name}
    session.flush()
    return row
