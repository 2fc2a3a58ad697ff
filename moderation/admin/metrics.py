"""Stored metrics, read into one shape for the admin pages whatever wrote them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from moderation.settings import ModerationSettings
from moderation.tables import ClassifierVersion

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
    def ham_to_spam(self) -> int | None:
        """Return how many ham comments this evaluation sent to spam, if stored."""
        value = self.scores.get("ham_to_spam")
        return int(value) if value is not None else None


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
