"""Stored metrics, read into one shape for the admin pages whatever wrote them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import numpy as np

from moderation.settings import ModerationSettings
from moderation.tables import ClassifierVersion

# Fewer held-out comments than this (or of either class), and a comparison is no judgement.
MIN_JUDGED = 100
MIN_PER_CLASS = 10
Z_95 = 1.959964
BOOTSTRAP_DRAWS = 2000

SCALARS = ("accuracy", "precision", "recall", "f1", "roc_auc", "mcc", "fpr_spam", "fpr_hold")
# Where writers put an evaluation: retraining stores "holdout"; training may use others.
EVALUATION_KEYS = ("holdout", "evaluation", "test", "validation", "heldout")


@dataclass(frozen=True)
class MetricView:
    """One evaluation of one version: scores, confusion matrix, PR curve."""

    n: int | None
    scores: dict[str, float]
    confusion: dict[str, int] | None  # tn, fp, fn, tp at the hold threshold (spam = held)
    pr_curve: list[list[float]] = field(default_factory=list)
    operating: dict[str, list[float]] = field(default_factory=dict)
    source: str = ""

    @property
    def classes(self) -> tuple[int, int] | None:
        """Return (spam, ham) among the evaluated comments, from the confusion matrix."""
        if self.confusion is None:
            return None
        c = self.confusion
        return c["tp"] + c["fn"], c["tn"] + c["fp"]

    @property
    def too_small(self) -> bool:
        """Return whether too few comments (or too few of a class) were evaluated to judge."""
        if self.n is None or self.n < MIN_JUDGED:
            return True
        classes = self.classes
        return classes is not None and min(classes) < MIN_PER_CLASS

    @property
    def accuracy_interval(self) -> tuple[float, float] | None:
        """Return the 95 % Wilson interval of the accuracy, from the confusion matrix."""
        if self.confusion is None:
            return None
        c = self.confusion
        return wilson_interval(c["tp"] + c["tn"], sum(c.values()))

    @property
    def f1_interval(self) -> tuple[float, float] | None:
        """Return a 95 % bootstrap interval of the spam F1 (resampling the confusion matrix)."""
        if self.confusion is None:
            return None
        return f1_bootstrap_interval(self.confusion)

    @property
    def ham_to_spam(self) -> int | None:
        """Return how many ham comments this evaluation sent to spam, if stored."""
        value = self.scores.get("ham_to_spam")
        return int(value) if value is not None else None


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """Return the Wilson score interval of a proportion (None when n is 0)."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def f1_bootstrap_interval(
    confusion: Mapping[str, int], draws: int = BOOTSTRAP_DRAWS, seed: int = 0
) -> tuple[float, float] | None:
    """Return the 2.5 and 97.5 percentiles of the F1 of resampled evaluations.

    F1 depends only on the confusion counts, so resampling the evaluated comments with
    replacement is a multinomial draw over the four cells (seeded: the page is stable).
    """
    cells = np.array([confusion["tp"], confusion["fp"], confusion["fn"], confusion["tn"]])
    n = int(cells.sum())
    if n == 0:
        return None
    samples = np.random.default_rng(seed).multinomial(n, cells / n, size=draws)
    tp, fp, fn = samples[:, 0], samples[:, 1], samples[:, 2]
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros(draws), where=denominator > 0)
    low, high = np.percentile(f1, [2.5, 97.5])
    return float(low), float(high)


def _evaluation(metrics: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    for key in EVALUATION_KEYS:
        value = metrics.get(key)
        if isinstance(value, Mapping):
            return value, key
    return metrics, ""


def _confusion(block: Mapping[str, Any]) -> dict[str, int] | None:
    raw = block.get("confusion") or block.get("confusion_matrix")
    if isinstance(raw, Mapping) and {"tn", "fp", "fn", "tp"} <= raw.keys():
        return {k: int(raw[k]) for k in ("tn", "fp", "fn", "tp")}
    if isinstance(raw, list) and len(raw) == 2 and all(len(row) == 2 for row in raw):
        (tn, fp), (fn, tp) = raw
        return {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)}
    return None


def metric_view(
    metrics: Mapping[str, Any], settings: ModerationSettings | None = None
) -> MetricView | None:
    """Read an evaluation from stored metrics, or None when nothing usable is stored."""
    block, source = _evaluation(metrics)
    scores = {
        name: float(block[name])
        for name in (*SCALARS, "ham_to_spam")
        if isinstance(block.get(name), int | float)
    }
    if not scores:
        return None
    curve = block.get("pr_curve") or []
    operating = block.get("operating_points") or {}
    n = block.get("n")
    return MetricView(
        n=int(n) if isinstance(n, int | float) else None,
        scores=scores,
        confusion=_confusion(block),
        pr_curve=[list(p) for p in curve if isinstance(p, list | tuple)],
        operating={k: list(v) for k, v in operating.items() if isinstance(v, list | tuple)},
        source=source,
    )


@dataclass(frozen=True)
class Comparison:
    """A candidate and the active version, evaluated on the same held-out comments."""

    candidate: MetricView | None
    active: MetricView | None
    same_split: bool
    verdict: dict[str, Any] | None


def comparison_views(
    candidate: ClassifierVersion | None,
    active: ClassifierVersion | None,
    settings: ModerationSettings,
) -> Comparison | None:
    """Return both versions' views on the candidate's held-out split when it has one."""
    if candidate is None and active is None:
        return None
    if candidate is None:
        return Comparison(None, metric_view(active.metrics or {}, settings), False, None)
    metrics = candidate.metrics or {}
    same = active is not None and metrics.get("compared_with") == active.id
    if same and isinstance(metrics.get("active_on_holdout"), Mapping):
        active_view = metric_view({"holdout": metrics["active_on_holdout"]}, settings)
    else:
        active_view = metric_view(active.metrics or {}, settings) if active else None
    return Comparison(
        metric_view(metrics, settings),
        active_view,
        same,
        metrics.get("comparison") if same else None,
    )
