"""Evaluation on the held-out comments: metrics, comparisons, judging examples."""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from moderation.retraining.labels import Example
from moderation.retraining.labels import corpus_examples
from moderation.retraining.labels import decision_examples
from moderation.retraining.labels import held_out
from moderation.retraining.versions import load
from moderation.settings import ModerationSettings
from moderation.tables import ClassifierVersion
from moderation.training import CorpusError
from moderation.training import spam_scores

PR_POINTS = 40
# A candidate is refused for sending more ham to spam only when a one-sided exact test on
# the ham the two versions judge differently gives p <= this (the usual 5 %, chosen
# before any measurement): a 1-vs-0 difference on some 20 held-out ham (p = 0.5) is noise.
SIGNIFICANCE = 0.05


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


def sign_test(worse: int, better: int) -> float:
    """Return the exact one-sided p-value that `worse` of the discordant pairs are not chance.

    McNemar's exact test: under "neither version is worse", each comment on which the two
    versions disagree is as likely to go either way, so P(X >= worse), X ~ Bin(worse +
    better, 1/2).
    """
    n = worse + better
    if worse <= 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(worse, n + 1)) / 2**n


def paired_counts(
    spam: Sequence[bool],
    candidate: Sequence[float],
    active: Sequence[float],
    settings: ModerationSettings,
) -> dict[str, list[int]]:
    """Return [candidate worse, candidate better] counts of the comments only one of the
    two gets wrong: "ham_to_spam", the ham only it sends to spam; "errors", the comments
    only it misjudges at the hold threshold (flagged ham, published spam: what F1 counts)."""
    y = np.asarray(spam, dtype=bool)
    c_scores, a_scores = np.asarray(candidate, dtype=float), np.asarray(active, dtype=float)
    c, a = c_scores >= settings.spam_threshold, a_scores >= settings.spam_threshold
    c_wrong = (c_scores >= settings.hold_threshold) != y
    a_wrong = (a_scores >= settings.hold_threshold) != y
    return {
        "ham_to_spam": [int(np.sum(~y & c & ~a)), int(np.sum(~y & a & ~c))],
        "errors": [int(np.sum(c_wrong & ~a_wrong)), int(np.sum(a_wrong & ~c_wrong))],
    }


def compare(
    candidate: Mapping[str, Any],
    active: Mapping[str, Any],
    paired: Mapping[str, Sequence[int]] | None = None,
) -> dict[str, Any]:
    """Judge a candidate against the active version on the same comments.

    Worse means significantly more ham sent to spam: a one-sided exact sign test (McNemar)
    on the ham only one of the two sends to spam, at SIGNIFICANCE; or, with paired
    "errors" counts, significantly more comments misjudged (the same test), else a lower
    F1. `paired` gives those counts ([candidate worse, candidate better], paired_counts);
    without ham_to_spam counts, the difference of the two totals is the least they can be.
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
    if paired is not None and "ham_to_spam" in paired:
        worse, better = (int(k) for k in paired["ham_to_spam"])
    else:
        worse, better = max(0, hs_c - hs_a), max(0, hs_a - hs_c)
    p_value = sign_test(worse, better)
    reasons = []
    errors = None if paired is None else paired.get("errors")
    if errors is not None:  # paired: lower F1 is worse only if it misjudges significantly more
        e_worse, e_better = (int(k) for k in errors)
        e_p = sign_test(e_worse, e_better)
        if e_p <= SIGNIFICANCE:
            reasons.append(
                f"it misjudges more comments ({e_worse} only it against {e_better},"
                f" p = {e_p:.3f}; F1 {f1_c:.3f} vs {f1_a:.3f})"
            )
    elif f1_c < f1_a - 1e-9:
        reasons.append(f"its F1 is lower ({f1_c:.3f} < {f1_a:.3f})")
    if p_value <= SIGNIFICANCE:
        reasons.append(
            f"it sends more ham to spam ({hs_c} > {hs_a}; {worse} only by it against"
            f" {better}, p = {p_value:.3f})"
        )
    acceptable = not reasons
    summary = (
        f"F1 {f1_c:.3f} vs {f1_a:.3f}, ham sent to spam {hs_c} vs {hs_a}"
        f" ({worse} only by the candidate, {better} only by the active version): "
        + ("not worse" if acceptable else "worse, because " + " and ".join(reasons))
    )
    return {
        "n": n,
        "acceptable": acceptable,
        "reasons": reasons,
        "f1": [f1_c, f1_a],
        "ham_to_spam": [hs_c, hs_a],
        "ham_to_spam_discordant": [worse, better],
        "errors_discordant": None if errors is None else [int(k) for k in errors],
        "p_value": p_value,
        "significance": SIGNIFICANCE,
        "summary": summary,
    }


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
    mine = list(spam_scores(ours, docs))
    its = list(spam_scores(load(active), docs))
    return compare(
        evaluate_scores(labels, mine, settings),
        evaluate_scores(labels, its, settings),
        paired_counts(labels, mine, its, settings),
    )
