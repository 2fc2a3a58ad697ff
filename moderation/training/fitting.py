"""Fitting a classifier on labelled docs and measuring it (shared with retraining)."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from moderation.classifier.interface import Doc
from moderation.settings import ModerationSettings
from moderation.training.corpora import Corpus

EVALUATION_KEYS = ("n", "accuracy", "f1", "roc_auc", "mcc", "fpr_spam", "fpr_hold")


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


CORPUS_NAMES = {
    "youtube": "YouTube",
    "sms": "SMS",
    "scamspot": "ScamSpot",
    "foxnews": "Fox News",
    "csv": "CSV",
    "jsonl": "JSON lines",
}


def leave_one_corpus_out(
    corpus: Corpus, settings: ModerationSettings, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Score each corpus (its files by format: YouTube's videos are one) by a fit on the others.

    Zero-shot transfer: the left-out corpus is unseen, as a new site's comments are.
    Extra ham (the Davidson tweets) is always trained on, never left out.
    """
    import numpy as np

    labels = np.asarray(corpus.labels)
    kinds = np.empty(len(labels), dtype=object)
    start = 0
    for source in corpus.sources:
        end = start + int(source["n"])
        held = source.get("role") != "extra ham"
        kinds[start:end] = source.get("format", source["name"]) if held else None
        start = end
    names = [k for k in dict.fromkeys(kinds) if k is not None]
    if len(names) < 2:
        return {}
    results: dict[str, Any] = {}
    for name in names:
        test = np.flatnonzero(kinds == name)
        keep = np.flatnonzero(kinds != name)
        if len(set(labels[keep])) < 2:
            continue
        clf = fit(
            [corpus.docs[i] for i in keep],
            labels[keep],
            [corpus.aux[i] for i in keep],
            [corpus.calibrated[i] for i in keep],
            **(params or {}),
        )
        scores = spam_scores(clf, [corpus.docs[i] for i in test])
        results[CORPUS_NAMES.get(name, name)] = evaluate_scores(labels[test], scores, settings)
    return results
