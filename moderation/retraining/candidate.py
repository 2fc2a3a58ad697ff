"""A training job's work: fit, evaluate and store a candidate version."""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from moderation.classifier.artifact import TRUSTED_TYPES
from moderation.classifier.artifact import dump_artifact
from moderation.classifier.artifact import library_versions
from moderation.classifier.artifact import sha256_of
from moderation.retraining.correction import LocalCorrection
from moderation.retraining.evaluation import compare
from moderation.retraining.evaluation import evaluate_scores
from moderation.retraining.evaluation import judging_examples
from moderation.retraining.evaluation import paired_counts
from moderation.retraining.labels import HOLDOUT_PERCENT
from moderation.retraining.labels import Example
from moderation.retraining.labels import TrainingOptions
from moderation.retraining.labels import corpus_examples
from moderation.retraining.labels import decision_examples
from moderation.retraining.labels import held_out
from moderation.retraining.labels import resolve_corpus_file
from moderation.retraining.operating_point import HAM_TO_SPAM_GOAL
from moderation.retraining.operating_point import MIN_HAM
from moderation.retraining.operating_point import OWN_SPAM_FLOOR
from moderation.retraining.versions import active_version
from moderation.retraining.versions import load
from moderation.retraining.versions import root_classifier
from moderation.settings import ModerationSettings
from moderation.tables import ClassifierVersion
from moderation.training import Trained
from moderation.training import file_sha256
from moderation.training import spam_scores
from moderation.training import store_version

METHOD = "local-correction/1"


@dataclass
class Candidate:
    """A fitted, evaluated candidate ready to be stored as a version."""

    artifact: bytes
    manifest: dict[str, Any]
    metrics: dict[str, Any]
    classifier: Any = field(repr=False, default=None)


def build_candidate(
    examples: Sequence[Example],
    active: Any | None,
    settings: ModerationSettings,
    log: Callable[[str], None],
    *,
    judge: Sequence[Example] | None = None,
    active_id: int | None = None,
    hyper: Mapping[str, float] | None = None,
    unseen: Collection[str] = (),
) -> Candidate:
    """Fit a correction of the active classifier's base on the examples that are not held
    out, and evaluate it and the active classifier on the same judging examples.

    :param judge: the held-out examples to evaluate on (see judging_examples); by default
        the held-out part of `examples`.
    :param unseen: keys of the labels the active version never learned from (made after
        it was trained). The two versions are also compared on those it learns from: the
        active version by its score, the candidate by its out-of-fold score.
    """
    train = [e for e in examples if not held_out(e.key)]
    test = list(judge) if judge is not None else [e for e in examples if held_out(e.key)]
    n_spam = sum(e.spam for e in train)
    log(
        f"{len(examples)} labelled texts: {len(train)} to learn from"
        f" ({n_spam} spam, {len(train) - n_spam} ham); judged on {len(test)} held-out ones"
    )
    if n_spam == 0 or n_spam == len(train):
        raise ValueError(
            "the labels to learn from need both spam and ham (approve some comments and mark"
            " some as spam, or add a corpus file)"
        )
    base = root_classifier(active) if active is not None else None
    started = time.monotonic()
    candidate = LocalCorrection(base=base, **(hyper or {}))
    candidate.fit([e.doc for e in train], [int(e.spam) for e in train])
    fit_seconds = time.monotonic() - started
    corrected = 0 if candidate.base_coef_ is None else len(candidate.base_coef_)
    log(
        f"fitted in {fit_seconds:.2f} s: slope {candidate.slope_:.2f},"
        f" intercept {candidate.intercept_:+.2f}, {len(candidate.coef_)} n-gram weights,"
        f" {corrected} of the base's feature weights corrected"
    )
    labels = [e.spam for e in test]
    docs = [e.doc for e in test]
    ours = list(spam_scores(candidate, docs))
    metrics: dict[str, Any] = {"holdout": evaluate_scores(labels, ours, settings)}
    scale, shift = candidate.calibration_
    if candidate.out_of_fold_ is None:
        log(f"not recalibrated: fewer labels of a class than {candidate.calibration_folds} folds")
    else:
        cross = evaluate_scores([e.spam for e in train], candidate.out_of_fold_, settings)
        metrics["cross_validated"] = cross
        log(
            f"recalibrated on {candidate.calibration_folds}-fold out-of-fold scores: log-odds"
            f" x {scale:.2f} {shift:+.2f}; out of fold it sends {cross['ham_to_spam']} of"
            f" {cross['n_ham']} ham to spam"
        )
    floor = candidate.spam_floor_
    if floor is not None:
        log(
            f"its own spam threshold: {floor:.2f} (out of fold, at most"
            f" {HAM_TO_SPAM_GOAL:.0%} of the ham scores that high); it sends to spam at the"
            f" higher of this and the site's {settings.spam_threshold:.2f}"
        )
    else:
        log(
            f"no spam threshold of its own: fewer than {MIN_HAM} ham labels scored out of"
            f" fold; it sends to spam at the site's {settings.spam_threshold:.2f}"
        )
    if active is not None:
        theirs = list(spam_scores(active, docs))
        metrics["active_on_holdout"] = evaluate_scores(labels, theirs, settings)
        fresh = [i for i, e in enumerate(train) if e.key in unseen]
        if fresh and candidate.out_of_fold_ is not None:
            # Neither version learned these comments' labels when it scored them.
            labels = labels + [train[i].spam for i in fresh]
            ours = ours + [float(candidate.out_of_fold_[i]) for i in fresh]
            theirs = theirs + list(spam_scores(active, [train[i].doc for i in fresh]))
        else:
            fresh = []
        mine, its = (
            evaluate_scores(labels, ours, settings),
            evaluate_scores(labels, theirs, settings),
        )
        metrics["compared_with"] = active_id
        comparison = compare(mine, its, paired_counts(labels, ours, theirs, settings))
        comparison["held_out"], comparison["unseen"] = len(test), len(fresh)
        metrics["comparison"] = comparison
        log(
            f"against version {active_id}, on {len(test)} held-out labels and {len(fresh)}"
            f" it never learned (the candidate's out-of-fold scores):"
            f" {comparison['summary']}"
        )
    else:
        log("no active version to compare with")
    sources: dict[str, int] = {}
    for e in train:
        sources[e.source] = sources.get(e.source, 0) + 1
    artifact = dump_artifact(candidate)
    manifest = {
        "method": METHOD,
        "created_at": datetime.now().astimezone().isoformat(),
        "sha256": sha256_of(artifact),
        "base_version": active_id,
        "base_is_correction": isinstance(active, LocalCorrection),
        "hyperparameters": {
            "strength": candidate.strength,
            "slope_strength": candidate.slope_strength,
            "intercept_strength": candidate.intercept_strength,
            "max_features": candidate.max_features,
            "base_weight": candidate.base_weight,
            "ngram_weight": candidate.ngram_weight,
            "balance": candidate.balance,
            "calibration_folds": candidate.calibration_folds,
            "calibration_strength": candidate.calibration_strength,
        },
        "training_data": {
            "n": len(train),
            "spam": n_spam,
            "ham": len(train) - n_spam,
            "sources": sources,
            "held_out": len(test),
            "holdout_percent": HOLDOUT_PERCENT,
        },
        "calibration": {"scale": scale, "shift": shift},
        "fit_seconds": round(fit_seconds, 3),
        "libraries": library_versions(),
        "labels": ["ham", "spam"],
        "thresholds": {
            "spam": settings.spam_threshold,
            "hold": settings.hold_threshold,
            OWN_SPAM_FLOOR: floor,
        },
        "trusted_types": list(TRUSTED_TYPES),
    }
    return Candidate(artifact, manifest, metrics, candidate)


def run_training(app: Any, job: Any, log: Callable[[str], None]) -> Callable[[Session], int]:
    """Do a training job's work outside any transaction; return the function storing it."""
    from moderation import db
    from moderation.settings import load_settings

    options = TrainingOptions.from_dict(job.options or {})
    with db.new_session(app) as session:
        settings = load_settings(session)
        row = active_version(session)
        decisions = decision_examples(session)
        since = options.since
        chosen = decision_examples(session, since) if since else decisions
    active_id = row.id if row else None
    examples: list[Example] = []
    if options.include_decisions:
        examples.extend(chosen)
        after = f" since {since.isoformat()}" if since else ""
        log(f"{len(chosen)} moderator decisions{after}")
    corpus_info = {}
    corpus: list[Example] = []
    for name in options.corpus_files:
        path = resolve_corpus_file(app.config, name)
        rows = corpus_examples(app.config, [name])
        corpus_info[name] = {"n": len(rows), "sha256": file_sha256(path)}
        log(f"corpus file {name}: {len(rows)} labelled texts")
        corpus.extend(rows)
    examples.extend(corpus)
    judge = judging_examples(decisions, corpus)
    active = None
    unseen: set[str] = set()
    if row is not None:
        active = load(row)
        log(f"active version {active_id} loaded")
        with db.new_session(app) as session:
            unseen = {e.key for e in decision_examples(session, row.created_at)}
    candidate = build_candidate(
        examples,
        active,
        settings,
        log,
        judge=judge,
        active_id=active_id,
        hyper=app.config.get("RETRAIN_HYPER"),
        unseen=unseen,
    )
    since_text = options.since.isoformat() if options.since else None
    candidate.manifest["training_data"]["since"] = since_text
    candidate.manifest["training_data"]["corpus_files"] = corpus_info
    candidate.manifest["training_job"] = job.id

    def store(session: Session) -> int:
        note = f"retrained by job {job.id}"
        return store_candidate(session, candidate, job.created_by, note).id

    return store


def store_candidate(
    session: Session, candidate: Candidate, actor: str, note: str | None = None
) -> ClassifierVersion:
    """Add a candidate as a new, inactive version (training.store_version; no commit)."""
    trained = Trained(
        candidate.classifier, candidate.artifact, candidate.manifest, candidate.metrics
    )
    return store_version(session, trained, actor, note=note)
