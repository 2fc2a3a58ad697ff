"""Training a classifier version: read corpora, fit, evaluate, write its manifest and row.

Services take a Session and never commit. fit(), evaluate() and read_corpus() are the
reusable pieces (retraining builds on them); train() puts them together for
`flask model train`, and import_default_artifact() gives a fresh database the shipped
version from models/.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import io
import json
import re
import time
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
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
from moderation.classifier.interface import Doc
from moderation.settings import ModerationSettings
from moderation.tables import ClassifierVersion
from moderation.tables import utcnow

METHOD = "spam-estimator/1"
ARTIFACT_NAME = "default.skops"
MANIFEST_NAME = "manifest.json"
CARD_NAME = "card.md"
YOUTUBE_COLUMNS = frozenset({"COMMENT_ID", "AUTHOR", "CONTENT", "CLASS"})
LINK_HINT_RE = re.compile(r"https?://|www\.", re.IGNORECASE)
EVALUATION_KEYS = ("n", "accuracy", "f1", "roc_auc", "mcc", "fpr_spam", "fpr_hold")


class CorpusFormat(enum.StrEnum):
    """The labelled-text formats `flask model train` reads."""

    YOUTUBE = "youtube"  # UCI YouTube Spam Collection CSV (comments)
    SMS = "sms"  # UCI SMS Spam Collection: label<TAB>text (auxiliary: another medium)
    CSV = "csv"  # content,label[,author_name,author_email,author_url]
    JSONL = "jsonl"  # the same fields, one JSON object a line
    DAVIDSON = "davidson"  # Davidson et al. 2017 tweets: extra ham, many with a link


AUXILIARY_FORMATS = frozenset({CorpusFormat.SMS})
# Formats read as extra ham of another kind than comments: learned from (in the shared
# features), but neither calibrated on nor counted in the comment metrics.
HAM_ONLY_FORMATS = frozenset({CorpusFormat.DAVIDSON})
DAVIDSON_COLUMNS = frozenset({"class", "tweet"})
# Every tweet with a link, and every DAVIDSON_STRIDE-th one without (~1,100 of 21,797).
DAVIDSON_STRIDE = 20


class CorpusError(ValueError):
    """A corpus file cannot be read as the format it is said (or sniffed) to be."""


@dataclass(frozen=True)
class Corpus:
    """Labelled docs (1 spam, 0 ham); `aux` marks texts of another medium than comments."""

    docs: tuple[Doc, ...]
    labels: tuple[int, ...]
    aux: tuple[bool, ...]
    sources: tuple[dict[str, Any], ...] = ()
    # False marks extra ham that is not comments (HAM_ONLY_FORMATS); empty: every doc.
    calibrate: tuple[bool, ...] = ()

    @property
    def calibrated(self) -> tuple[bool, ...]:
        """Return, per doc, whether it is a comment text (calibrated on, counted)."""
        return self.calibrate or (True,) * len(self.docs)

    def __len__(self) -> int:
        return len(self.docs)

    @classmethod
    def join(cls, corpora: Iterable[Corpus]) -> Corpus:
        """Concatenate corpora, keeping each one's source summary."""
        parts = list(corpora)
        return cls(
            docs=tuple(d for c in parts for d in c.docs),
            labels=tuple(y for c in parts for y in c.labels),
            aux=tuple(a for c in parts for a in c.aux),
            sources=tuple(s for c in parts for s in c.sources),
            calibrate=tuple(f for c in parts for f in c.calibrated),
        )


def parse_label(value: Any) -> int:
    """Return 1 for spam and 0 for ham (spam/ham, 1/0, true/false; any case)."""
    text = str(value).strip().lower()
    if text in ("spam", "1", "true"):
        return 1
    if text in ("ham", "0", "false"):
        return 0
    raise CorpusError(f"label {value!r} is neither spam/ham nor 1/0")


def file_sha256(path: Path) -> str:
    """Return a file's sha256."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sniff_format(path: Path) -> CorpusFormat:
    """Guess a corpus file's format from its name and first line."""
    if path.suffix.lower() == ".jsonl":
        return CorpusFormat.JSONL
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        first = handle.readline()
    if set(first.strip().split(",")) >= YOUTUBE_COLUMNS:
        return CorpusFormat.YOUTUBE
    if set(first.strip().split(",")) >= DAVIDSON_COLUMNS | {"hate_speech", "neither"}:
        return CorpusFormat.DAVIDSON
    if first.split("\t", 1)[0].strip().lower() in ("ham", "spam"):
        return CorpusFormat.SMS
    return CorpusFormat.CSV


def _text(value: Any) -> str:
    return str(value or "").replace("\ufeff", "").strip()


def _doc(record: Mapping[str, Any]) -> Doc:
    url = _text(record.get("author_url"))
    return Doc(
        content=_text(record.get("content")),
        author_name=_text(record.get("author_name")),
        author_email=_text(record.get("author_email")),
        author_url=url or None,
    )


def _rows(path: Path, fmt: CorpusFormat) -> list[tuple[Doc, int]]:
    text = path.read_text(encoding="utf-8-sig")
    if fmt is CorpusFormat.SMS:
        rows = []
        reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
        for number, row in enumerate(reader, 1):
            if not row:
                continue
            if len(row) < 2:
                raise CorpusError(f"{path.name}:{number}: expected label<TAB>text")
            rows.append((Doc(content=_text("\t".join(row[1:]))), parse_label(row[0])))
        return rows
    if fmt is CorpusFormat.JSONL:
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise CorpusError(f"{path.name}:{number}: {exc}") from None
                rows.append((_doc(record), parse_label(record.get("label"))))
        return rows
    reader = csv.DictReader(io.StringIO(text))
    columns = set(reader.fieldnames or ())
    if fmt is CorpusFormat.DAVIDSON:
        if not columns >= DAVIDSON_COLUMNS:
            raise CorpusError(f"{path.name}: expected the columns {sorted(DAVIDSON_COLUMNS)}")
        # No tweet is spam (the labels are hate / offensive / neither, another axis): all
        # are ham. Kept: every tweet with a link (the ham with links comments lack), and
        # a deterministic sample of the others.
        tweets = [_text(r["tweet"]) for r in reader]
        linked = [t for t in tweets if LINK_HINT_RE.search(t)]
        plain = [t for t in tweets if not LINK_HINT_RE.search(t)][::DAVIDSON_STRIDE]
        return [(Doc(content=t), 0) for t in linked + plain]
    if fmt is CorpusFormat.YOUTUBE:
        if not columns >= YOUTUBE_COLUMNS:
            raise CorpusError(f"{path.name}: expected the columns {sorted(YOUTUBE_COLUMNS)}")
        # DATE is never read: it is empty for every spam row of one video (a leak).
        return [
            (Doc(content=_text(r["CONTENT"]), author_name=_text(r["AUTHOR"])), int(r["CLASS"]))
            for r in reader
        ]
    if not columns >= {"content", "label"}:
        raise CorpusError(f"{path.name}: expected the columns content,label")
    return [(_doc(r), parse_label(r["label"])) for r in reader]


def read_corpus(
    path: Path | str, fmt: CorpusFormat | str | None = None, *, dedupe: bool = False
) -> Corpus:
    """Read a labelled corpus file (format sniffed when not given); skip empty texts."""
    path = Path(path)
    fmt = CorpusFormat(fmt) if fmt else sniff_format(path)
    try:
        rows = _rows(path, fmt)
    except (OSError, UnicodeDecodeError, KeyError, ValueError) as exc:
        if isinstance(exc, CorpusError):
            raise
        raise CorpusError(f"{path.name} is not a {fmt} corpus: {exc}") from None
    rows = [(doc, label) for doc, label in rows if doc.content]
    if dedupe:
        seen: set[tuple[str, int]] = set()
        unique = []
        for doc, label in rows:
            if (doc.content, label) not in seen:
                seen.add((doc.content, label))
                unique.append((doc, label))
        rows = unique
    aux = fmt in AUXILIARY_FORMATS
    ham_only = fmt in HAM_ONLY_FORMATS
    spam = sum(label for _, label in rows)
    source = {
        "name": path.name,
        "path": str(path),
        "format": str(fmt),
        "sha256": file_sha256(path),
        "n": len(rows),
        "spam": spam,
        "ham": len(rows) - spam,
        "role": "auxiliary" if aux else "extra ham" if ham_only else "comments",
    }
    return Corpus(
        docs=tuple(doc for doc, _ in rows),
        labels=tuple(label for _, label in rows),
        aux=(aux,) * len(rows),
        sources=(source,),
        calibrate=(not ham_only,) * len(rows),
    )


def decision_corpus(session: Session) -> Corpus:
    """Return the moderators' decisions as a corpus: spam is spam, approved is ham.

    Only statuses a moderator set count (retraining.moderator_labels): the classifier's
    own verdicts are not labels, and "rejected" (not publishable) is not a spam label.
    """
    from moderation.retraining import decision_examples

    examples = decision_examples(session)
    spam = sum(e.spam for e in examples)
    return Corpus(
        docs=tuple(e.doc for e in examples),
        labels=tuple(int(e.spam) for e in examples),
        aux=(False,) * len(examples),
        sources=(
            {"name": "decisions", "n": len(examples), "spam": spam, "ham": len(examples) - spam},
        ),
    )


def fit(
    docs: Sequence[Doc],
    labels: Sequence[int],
    aux: Sequence[bool] | None = None,
    calibrate: Sequence[bool] | None = None,
    **params: Any,
) -> Any:
    """Fit a calibrated SpamEstimator (params: its own, and CommentFeatures' as features=).

    `calibrate` marks the comment texts (Corpus.calibrated): extra ham is learned from but
    not calibrated on.
    """
    from moderation.features import SpamEstimator

    return SpamEstimator(**params).fit(list(docs), list(labels), aux, calibrate)


def spam_scores(classifier: Any, docs: Sequence[Doc], batch: int = 5000) -> Any:
    """Return the classifier's spam probabilities for the docs, in batches."""
    import numpy as np

    parts = [
        classifier.predict_proba(list(docs[i : i + batch]))[:, 1]
        for i in range(0, len(docs), batch)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def evaluate_scores(
    labels: Sequence[int], scores: Sequence[float], settings: ModerationSettings
) -> dict[str, Any]:
    """Return the metrics of spam probabilities at the settings' thresholds.

    accuracy, f1 and mcc count a comment as flagged when it would not be published
    (≥ hold threshold); fpr_spam is the share of ham the decision step would send to
    spam (≥ spam threshold), fpr_hold the share of ham it would hold.
    """
    from moderation.retraining import evaluate_scores as shared

    metrics = shared([bool(y) for y in labels], list(scores), settings)
    metrics.pop("pr_curve", None)
    metrics.pop("operating_points", None)
    return metrics


def evaluate(
    classifier: Any,
    docs: Sequence[Doc],
    labels: Sequence[int],
    settings: ModerationSettings,
) -> dict[str, Any]:
    """Score labelled docs and return their metrics (see evaluate_scores)."""
    return evaluate_scores(labels, spam_scores(classifier, docs), settings)


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


def leave_one_file_out(
    corpus: Corpus, settings: ModerationSettings, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Evaluate each comment file with a fit on every other file (auxiliary ones included).

    With the YouTube corpus this is leave-one-video-out: templates that recur within a
    video cannot leak from training into testing, unlike random folds.
    """
    import numpy as np

    labels = np.asarray(corpus.labels)
    spans, start = [], 0
    for source in corpus.sources:
        spans.append((source, start, start + int(source["n"])))
        start += int(source["n"])
    held = [(s, a, b) for s, a, b in spans if s.get("role") == "comments" and b > a]
    if len(held) < 2:
        return {}
    results: dict[str, Any] = {"files": {}}
    pooled_labels, pooled_scores = [], []
    for source, a, b in held:
        keep = np.r_[0:a, b : len(labels)]
        clf = fit(
            [corpus.docs[i] for i in keep],
            labels[keep],
            [corpus.aux[i] for i in keep],
            [corpus.calibrated[i] for i in keep],
            **(params or {}),
        )
        scores = spam_scores(clf, corpus.docs[a:b])
        results["files"][source["name"]] = evaluate_scores(labels[a:b], scores, settings)
        pooled_labels.extend(labels[a:b])
        pooled_scores.extend(scores)
    results["all"] = evaluate_scores(pooled_labels, pooled_scores, settings)
    return results


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
