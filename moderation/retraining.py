"""Retraining on a real install: the active classifier as a prior, corrected by local labels.

A real install has the shipped classifier and its moderators' decisions, not our corpora.
The candidate is the active version's *base* classifier, frozen, followed by a small
logistic correction fitted on the labels (decisions, plus any base corpus files the admin
named)::

    p(spam | x) = sigmoid(a * logit(p_base(x)) + b + w . phi(x))

phi is a word and character n-gram TF-IDF of the labelled texts. The penalty
k_a (a - 1)^2 + k_b b^2 + k |w|^2 centres the fit on the base classifier: with no labels the
candidate *is* the base (a = 1, b = 0, w = 0); each label moves it only as far as the data
outweighs the prior — a Gaussian prior on the base's decision function, i.e. a warm start
that cannot forget, since the base's own weights are never refitted. This is why it is
sound where the alternatives are not: refitting the whole pipeline on a few hundred
decisions forgets the base's vocabulary; incremental SGD drifts with the order of the
labels; carrying a sample of the training corpora in the manifest would ship the corpora,
which are never distributed. It is fast (one L-BFGS fit over the labels; the base scores
each text once) and calibrated for this site (a and b re-fit the base's slope and prior).
The priors on a and b are firm (k_a = 20, k_b = 5) and the one on w loose (k = 0.03),
because moderators' labels are not a random sample: spam the base already sent to spam
is rarely clicked, so the labels over-represent ham and the base's mistakes; the
correction should learn this site's words, not that "high scores are ham". Measured by
bench/learning.py, it gains about as much as refitting the whole classifier on the base
corpora plus the same labels, which a real install cannot do.

Every retraining corrects the *root* base (the active version's base when the active
version is itself a correction) with all current labels, so versions never nest.

Labels: a comment is labelled when its status is approved (ham) or spam *and* a moderator
set that status (an audit event by a user); the classifier's own verdicts are not labels,
and rejected ("not publishable") is not a spam label. Each labelled comment is held out or
not by a hash of its id (HOLDOUT_PERCENT), so every version is trained without, and every
pair of versions can be compared on, the same held-out comments.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.base import ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion
from sqlalchemy import exists
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm import defer

from moderation.classifier import ArtifactRefused
from moderation.classifier import Doc
from moderation.classifier import load_version
from moderation.classifier.artifact import TRUSTED_TYPES
from moderation.classifier.artifact import dump_artifact
from moderation.classifier.artifact import library_versions
from moderation.classifier.artifact import sha256_of
from moderation.problems import Problem
from moderation.settings import ModerationSettings
from moderation.tables import AuditEvent
from moderation.tables import ClassifierVersion
from moderation.tables import Comment
from moderation.tables import Status
from moderation.training import CorpusError
from moderation.training import Trained
from moderation.training import file_sha256
from moderation.training import read_corpus
from moderation.training import spam_scores
from moderation.training import store_version

HOLDOUT_PERCENT = 20
CORPUS_SUFFIXES = (".csv", ".jsonl", ".tsv", ".txt", "")
METHOD = "local-correction/1"
EPS = 1e-6


# --- what a job learns from ---


@dataclass(frozen=True)
class TrainingOptions:
    """A training job's options, as stored in training_jobs.options."""

    include_decisions: bool = True
    since: datetime | None = None
    corpus_files: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "include_decisions": self.include_decisions,
            "since": self.since.isoformat() if self.since else None,
            "corpus_files": list(self.corpus_files),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingOptions:
        """Read the JSON form."""
        since = data.get("since")
        return cls(
            include_decisions=bool(data.get("include_decisions", True)),
            since=datetime.fromisoformat(since) if since else None,
            corpus_files=tuple(data.get("corpus_files") or ()),
        )


@dataclass(frozen=True)
class Example:
    """One labelled text; `key` decides whether it is held out."""

    doc: Doc
    spam: bool
    key: str
    source: str


def held_out(key: str) -> bool:
    """Return whether an example is held out (a stable hash, so every version agrees)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HOLDOUT_PERCENT


def corpus_dir(config: Mapping[str, Any]) -> Path:
    """Return the folder admins put base corpus files in (MODERATION_CORPUS_DIR)."""
    configured = config.get("CORPUS_DIR")
    if configured:
        return Path(configured)
    return Path(config.get("INSTANCE_PATH") or "instance") / "corpora"


def available_corpus_files(config: Mapping[str, Any]) -> list[str]:
    """Return the names of the corpus files an admin can pick."""
    folder = corpus_dir(config)
    if not folder.is_dir():
        return []
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in CORPUS_SUFFIXES
    )


def resolve_corpus_file(config: Mapping[str, Any], name: str) -> Path:
    """Return the path of a corpus file by name, refusing anything outside the folder."""
    folder = corpus_dir(config).resolve()
    if "/" in name or "\\" in name or name.startswith(".") or not name.strip():
        raise CorpusError(f"{name!r} is not a file name in the corpus folder")
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        raise CorpusError(f"{name!r} is not a file in the corpus folder {folder}")
    return path


def moderator_labels(
    session: Session, ids: Sequence[int] | None = None, since: datetime | None = None
) -> dict[int, bool]:
    """Return {comment id: is spam} for comments whose approved/spam status a moderator set."""
    by_user = (
        exists()
        .where(AuditEvent.comment_id == Comment.id)
        .where(AuditEvent.user_id.is_not(None))
        .where(AuditEvent.to_status == Comment.status)
    )
    if since is not None:
        by_user = by_user.where(AuditEvent.at >= since)
    stmt = select(Comment.id, Comment.status).where(
        Comment.status.in_((Status.APPROVED, Status.SPAM)), by_user
    )
    if ids is not None:
        if not ids:
            return {}
        stmt = stmt.where(Comment.id.in_(ids))
    return {cid: status is Status.SPAM for cid, status in session.execute(stmt)}


def doc_of(comment: Comment) -> Doc:
    """Return what the classifier reads of a stored comment."""
    return Doc(
        content=comment.content_raw,
        author_name=comment.author_name,
        author_email=comment.author_email,
        author_url=comment.author_url,
    )


def decision_examples(session: Session, since: datetime | None = None) -> list[Example]:
    """Return the moderators' labels as examples (oldest first)."""
    labels = moderator_labels(session, since=since)
    if not labels:
        return []
    examples = []
    ids = sorted(labels)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        comments = session.scalars(select(Comment).where(Comment.id.in_(chunk)))
        for comment in comments:
            examples.append(
                Example(doc_of(comment), labels[comment.id], f"comment:{comment.id}", "decisions")
            )
    examples.sort(key=lambda e: e.key)
    return examples


# --- the candidate: a frozen base and a logistic correction ---


def correction_text(doc: Any) -> str:
    """Return the text the correction reads: the comment, its author's URL and name."""
    get = (
        doc.get
        if isinstance(doc, Mapping)
        else lambda name, default="": getattr(doc, name, default)
    )
    content = str(get("content", "") or "").replace("\ufeff", "")
    url = str(get("author_url", "") or "")
    name = str(get("author_name", "") or "")
    return f"{content}\n{name} {url}".strip()


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def _sigmoid(m: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * m))  # stable for large |m|


def make_features(max_features: int = 20_000) -> FeatureUnion:
    """Return the correction's n-gram features (word 1-2, character 2-5 within words)."""
    return FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    lowercase=True,
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                    token_pattern=r"(?u)\b\w+\b",  # noqa: S106 (a regex, not a password)
                    max_features=max_features,
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    lowercase=True,
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    sublinear_tf=True,
                    max_features=max_features,
                ),
            ),
        ]
    )


class LocalCorrection(ClassifierMixin, BaseEstimator):
    """A frozen base classifier corrected by a prior-centred logistic fit on local labels.

    predict_proba(X) takes what the base takes (Docs) and returns
    sigmoid(a * logit(p_base) + b + w . phi(text)); see the module docstring.
    """

    def __init__(
        self,
        base: Any = None,
        strength: float = 0.03,
        slope_strength: float = 20.0,
        intercept_strength: float = 5.0,
        max_features: int = 20_000,
    ) -> None:
        self.base = base
        self.strength = strength
        self.slope_strength = slope_strength
        self.intercept_strength = intercept_strength
        self.max_features = max_features

    def base_logit(self, X: Sequence[Any]) -> np.ndarray:
        """Return the base's log-odds of spam (0 when there is no base)."""
        if self.base is None:
            return np.zeros(len(X))
        return _logit(self.base.predict_proba(X)[:, 1])

    def fit(
        self,
        X: Sequence[Any],
        y: Sequence[int],
        sample_weight: Sequence[float] | None = None,
        base_logit: np.ndarray | None = None,
    ) -> LocalCorrection:
        """Fit the correction (the base is never refitted)."""
        y_arr = np.asarray(y, dtype=float)
        weights = np.ones(len(y_arr)) if sample_weight is None else np.asarray(sample_weight)
        z = self.base_logit(X) if base_logit is None else np.asarray(base_logit, dtype=float)
        self.ngrams_ = make_features(self.max_features)
        phi = sparse.csr_matrix(self.ngrams_.fit_transform([correction_text(d) for d in X]))
        for _, vectorizer in self.ngrams_.transformer_list:
            # The n-grams max_features pruned: large, and never used to transform.
            if hasattr(vectorizer, "stop_words_"):
                del vectorizer.stop_words_
        self.slope_, self.intercept_, self.coef_ = _fit_offset_logistic(
            phi,
            z,
            y_arr,
            weights,
            strength=self.strength,
            slope_strength=self.slope_strength if self.base is not None else 1e6,
            intercept_strength=self.intercept_strength,
        )
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X: Sequence[Any]) -> np.ndarray:
        """Return the corrected log-odds of spam."""
        phi = self.ngrams_.transform([correction_text(d) for d in X])
        return self.slope_ * self.base_logit(X) + self.intercept_ + phi @ self.coef_

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        """Return [[p(ham), p(spam)], ...]."""
        p = _sigmoid(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X: Sequence[Any]) -> np.ndarray:
        """Return 1 for spam (p ≥ 0.5), 0 for ham."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def correction_contributions(self, doc: Any, top: int = 5) -> list[tuple[str, float]]:
        """Return the n-grams that moved this comment's log-odds most, with their push."""
        phi = sparse.csr_matrix(self.ngrams_.transform([correction_text(doc)]))
        names = self.ngrams_.get_feature_names_out()
        pushes = [
            (str(names[j]), float(v * self.coef_[j]))
            for j, v in zip(phi.indices, phi.data, strict=True)
        ]
        pushes.sort(key=lambda item: abs(item[1]), reverse=True)
        return [(_readable(name), push) for name, push in pushes[:top] if abs(push) > 1e-3]


def _readable(name: str) -> str:
    """Name a correction n-gram as the base names its features: `word "free"`."""
    kind, _, gram = name.partition("__")
    return f'word "{gram}"' if kind == "words" else f'char "{gram}"'


def _fit_offset_logistic(
    phi: sparse.csr_matrix,
    z: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    *,
    strength: float,
    slope_strength: float,
    intercept_strength: float,
) -> tuple[float, float, np.ndarray]:
    """Minimise the weighted log-loss of sigmoid(a z + b + phi w) with priors a~1, b~0, w~0."""
    n_features = phi.shape[1]
    phi_t = phi.T.tocsr()

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, b, beta = theta[0], theta[1], theta[2:]
        m = a * z + b + phi @ beta
        # log(1 + e^m) - y m, computed stably
        loss = np.sum(weights * (np.logaddexp(0.0, m) - y * m))
        loss += 0.5 * (
            strength * beta @ beta + slope_strength * (a - 1.0) ** 2 + intercept_strength * b * b
        )
        r = weights * (_sigmoid(m) - y)
        grad = np.empty_like(theta)
        grad[0] = r @ z + slope_strength * (a - 1.0)
        grad[1] = r.sum() + intercept_strength * b
        grad[2:] = phi_t @ r + strength * beta
        return float(loss), grad

    start = np.zeros(n_features + 2)
    start[0] = 1.0
    result = minimize(objective, start, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    theta = result.x
    return float(theta[0]), float(theta[1]), np.asarray(theta[2:], dtype=float)


# --- evaluation on the held-out comments ---

PR_POINTS = 40


def evaluate_scores(
    spam: Sequence[bool], scores: Sequence[float], settings: ModerationSettings
) -> dict[str, Any]:
    """Return the metrics of spam probabilities against labels, at the settings' thresholds.

    accuracy, precision, recall, f1, mcc and the confusion matrix count a comment as
    flagged when it would not be published (score ≥ hold threshold); fpr_spam and
    ham_to_spam count the ham the decision step would send to spam (≥ spam threshold).
    """
    from sklearn.metrics import matthews_corrcoef
    from sklearn.metrics import precision_recall_curve
    from sklearn.metrics import roc_auc_score

    y = np.asarray(spam, dtype=bool)
    p = np.asarray(scores, dtype=float)
    flagged = p >= settings.hold_threshold
    to_spam = p >= settings.spam_threshold
    tp = int(np.sum(flagged & y))
    fp = int(np.sum(flagged & ~y))
    fn = int(np.sum(~flagged & y))
    tn = int(np.sum(~flagged & ~y))
    n_ham, n_spam = int(np.sum(~y)), int(np.sum(y))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / n_spam if n_spam else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    both = n_ham > 0 and n_spam > 0
    metrics: dict[str, Any] = {
        "n": len(y),
        "n_spam": n_spam,
        "n_ham": n_ham,
        "accuracy": (tp + tn) / len(y) if len(y) else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "mcc": float(matthews_corrcoef(y, flagged)) if both else 0.0,
        "roc_auc": float(roc_auc_score(y, p)) if both else None,
        "fpr_spam": float(np.sum(to_spam & ~y) / n_ham) if n_ham else 0.0,
        "fpr_hold": fp / n_ham if n_ham else 0.0,
        "ham_to_spam": int(np.sum(to_spam & ~y)),
        "spam_caught": int(np.sum(to_spam & y)),
        "confusion": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
        "thresholds": {"hold": settings.hold_threshold, "spam": settings.spam_threshold},
        "pr_curve": [],
        "operating_points": {},
    }
    if both:
        prec, rec, _ = precision_recall_curve(y, p)
        step = max(1, math.ceil(len(prec) / PR_POINTS))
        keep = sorted({*range(0, len(prec), step), len(prec) - 1})
        metrics["pr_curve"] = [[round(float(rec[i]), 4), round(float(prec[i]), 4)] for i in keep]
        for name, mask in (("hold", flagged), ("spam", to_spam)):
            caught = int(np.sum(mask & y))
            marked = int(np.sum(mask))
            metrics["operating_points"][name] = [
                round(caught / n_spam, 4),
                round(caught / marked, 4) if marked else 1.0,
            ]
    return metrics


def compare(candidate: Mapping[str, Any], active: Mapping[str, Any]) -> dict[str, Any]:
    """Judge a candidate against the active version on the same comments.

    Worse means a lower spam F1, or more ham sent to spam (counts, so ties are exact).
    """
    n = int(candidate.get("n", 0))
    if n == 0:
        return {
            "n": 0,
            "acceptable": None,
            "summary": "no held-out labelled comments to compare on",
        }
    f1_c, f1_a = float(candidate["f1"]), float(active["f1"])
    hs_c, hs_a = int(candidate["ham_to_spam"]), int(active["ham_to_spam"])
    reasons = []
    if f1_c < f1_a - 1e-9:
        reasons.append(f"its F1 is lower ({f1_c:.3f} < {f1_a:.3f})")
    if hs_c > hs_a:
        reasons.append(f"it sends more ham to spam ({hs_c} > {hs_a})")
    acceptable = not reasons
    summary = f"F1 {f1_c:.3f} vs {f1_a:.3f}, ham sent to spam {hs_c} vs {hs_a}: " + (
        "not worse" if acceptable else "worse, because " + " and ".join(reasons)
    )
    return {
        "n": n,
        "acceptable": acceptable,
        "reasons": reasons,
        "f1": [f1_c, f1_a],
        "ham_to_spam": [hs_c, hs_a],
        "summary": summary,
    }


# --- artifacts and corpora (classifier.artifact and training do the work) ---


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


def corpus_examples(config: Mapping[str, Any], names: Iterable[str]) -> list[Example]:
    """Read the named corpus files (format sniffed) into examples keyed by their text."""
    examples = []
    for name in names:
        corpus = read_corpus(resolve_corpus_file(config, name))
        for doc, label in zip(corpus.docs, corpus.labels, strict=True):
            key = "corpus:" + hashlib.sha256(doc.content.encode("utf-8")).hexdigest()
            examples.append(Example(doc, bool(label), key, f"corpus:{name}"))
    return examples


# --- a training job's work ---


@dataclass
class Candidate:
    """A fitted, evaluated candidate ready to be stored as a version."""

    artifact: bytes
    manifest: dict[str, Any]
    metrics: dict[str, Any]
    classifier: Any = field(repr=False, default=None)


def active_version(session: Session) -> ClassifierVersion | None:
    """Return the active version row (with its artifact), if any."""
    return session.scalar(select(ClassifierVersion).where(ClassifierVersion.active.is_(True)))


def build_candidate(
    examples: Sequence[Example],
    active: Any | None,
    settings: ModerationSettings,
    log: Callable[[str], None],
    *,
    judge: Sequence[Example] | None = None,
    active_id: int | None = None,
    hyper: Mapping[str, float] | None = None,
) -> Candidate:
    """Fit a correction of the active classifier's base on the examples that are not held
    out, and evaluate it and the active classifier on the same judging examples.

    :param judge: the held-out examples to evaluate on (see judging_examples); by default
        the held-out part of `examples`.
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
    log(
        f"fitted in {fit_seconds:.2f} s: slope {candidate.slope_:.2f},"
        f" intercept {candidate.intercept_:+.2f}, {len(candidate.coef_)} n-gram weights"
    )
    labels = [e.spam for e in test]
    docs = [e.doc for e in test]
    metrics: dict[str, Any] = {
        "holdout": evaluate_scores(labels, spam_scores(candidate, docs), settings)
    }
    if active is not None:
        metrics["active_on_holdout"] = evaluate_scores(labels, spam_scores(active, docs), settings)
        metrics["compared_with"] = active_id
        metrics["comparison"] = compare(metrics["holdout"], metrics["active_on_holdout"])
        log(f"against version {active_id}: {metrics['comparison']['summary']}")
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
        },
        "training_data": {
            "n": len(train),
            "spam": n_spam,
            "ham": len(train) - n_spam,
            "sources": sources,
            "held_out": len(test),
            "holdout_percent": HOLDOUT_PERCENT,
        },
        "fit_seconds": round(fit_seconds, 3),
        "libraries": library_versions(),
        "labels": ["ham", "spam"],
        "thresholds": {"spam": settings.spam_threshold, "hold": settings.hold_threshold},
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
    if row is not None:
        active = load(row)
        log(f"active version {active_id} loaded")
    candidate = build_candidate(
        examples,
        active,
        settings,
        log,
        judge=judge,
        active_id=active_id,
        hyper=app.config.get("RETRAIN_HYPER"),
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


# --- versions: list, promote (guarded), roll back ---


@dataclass(frozen=True)
class PromotionResult:
    """The version now active, the one it replaced, and why it was allowed."""

    version: ClassifierVersion
    previous_id: int | None
    forced: bool
    comparison: dict[str, Any] | None


def list_versions(session: Session) -> list[ClassifierVersion]:
    """Return every version, newest first, without loading the artifacts."""
    stmt = (
        select(ClassifierVersion)
        .options(defer(ClassifierVersion.artifact))
        .order_by(ClassifierVersion.id.desc())
    )
    return list(session.scalars(stmt))


def judging_examples(decisions: Sequence[Example], corpus: Sequence[Example]) -> list[Example]:
    """Return what versions are judged on: the held-out moderators' decisions (all of them,
    whatever a job learns from: this site's moderators are the judge), or the held-out
    corpus rows when no decision is held out yet."""
    judged = [e for e in decisions if held_out(e.key)]
    return judged or [e for e in corpus if held_out(e.key)]


def holdout_examples(
    session: Session, config: Mapping[str, Any], version: ClassifierVersion
) -> list[Example]:
    """Return today's judging examples for `version` (see judging_examples)."""
    corpus: list[Example] = []
    files = (version.manifest or {}).get("training_data", {}).get("corpus_files") or {}
    for name in files:
        try:
            corpus.extend(corpus_examples(config, [name]))
        except CorpusError:
            continue  # the file is gone: judge on what is left
    return judging_examples(decision_examples(session), corpus)


def evaluate_pair(
    session: Session,
    config: Mapping[str, Any],
    candidate: ClassifierVersion,
    ours: Any,
    active: ClassifierVersion,
    settings: ModerationSettings,
) -> dict[str, Any]:
    """Evaluate a loaded candidate and the active version on the same held-out examples."""
    examples = holdout_examples(session, config, candidate)
    labels = [e.spam for e in examples]
    docs = [e.doc for e in examples]
    theirs = load(active)
    return compare(
        evaluate_scores(labels, spam_scores(ours, docs), settings),
        evaluate_scores(labels, spam_scores(theirs, docs), settings),
    )


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
