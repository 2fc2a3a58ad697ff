"""Choose the reading options without looking at the corpus scored: nested leave-one-corpus-out.

    .venv/bin/python -m bench.selection [--data ../shared/data] [--jobs 2]

For each outer corpus O (YouTube, SMS, ScamSpot, Fox News), every candidate configuration
is measured by leave-one-corpus-out on the three other corpora only (inner: train on two
of them plus the Davidson tweets, score the third). The configuration with the best inner
utility is then trained on the three and scored on O. O's figures therefore never chose
anything. The utility, fixed before any run: mean ROC AUC of the inner corpora that have
spam, minus the mean share of their ham not published, minus 4 times the mean share of their
ham sent to spam (a legitimate comment binned is the costliest mistake).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel
from joblib import delayed

from bench.quality import DEFAULT_DATA
from bench.quality import SETTINGS
from bench.quality import loco_row
from bench.quality import read_corpora
from moderation import training
from moderation.features import CommentFeatures

BLOG = {"fold_unicode": True, "extra_meta": True, "author_words": True}
CANDIDATES: dict[str, dict[str, Any]] = {
    "first model": {},
    "blog signals": BLOG,
    "blog + no URL words": {**BLOG, "strip_urls": True},
    "blog + binned signals": {**BLOG, "binned_signals": True},
    "blog + both": {**BLOG, "strip_urls": True, "binned_signals": True},
    "blog + both, C=5": {**BLOG, "strip_urls": True, "binned_signals": True, "C": 5.0},
    # Added after the first round (which measured the six above), chosen by the same
    # inner folds: binned signals alone, and without the phone/handle/hashtag tokens.
    "binned signals": {"binned_signals": True},
    "fold + names + binned": {"fold_unicode": True, "author_words": True, "binned_signals": True},
    # A third round (issue 11's ScamSpot and YouTube goals): stronger regularization, which
    # weighs what every corpus shares over what one corpus repeats.
    "C=10": {"C": 10.0},
    "C=3": {"C": 3.0},
}


def fit_score(
    corpora: dict[str, training.Corpus], extra: list, train_names: list[str], held: str, cfg: str
) -> np.ndarray:
    """Train `cfg` on the named corpora (+ extra ham) and score `held`."""
    options = dict(CANDIDATES[cfg])
    c = options.pop("C", 30.0)
    train = training.Corpus.join([corpora[n] for n in train_names] + extra)
    clf = training.fit(
        train.docs,
        train.labels,
        train.aux,
        train.calibrated,
        C=c,
        features=CommentFeatures(**options),
    )
    return training.spam_scores(clf, corpora[held].docs)


def utility(results: list[dict[str, Any]]) -> float:
    """Mean AUC (corpora with spam) - mean ham not published - 4 * mean ham to spam."""
    aucs = [m["roc_auc"] for m in results if m["roc_auc"] is not None]
    hold = np.mean([m["fpr_hold"] for m in results])
    spam = np.mean([m["fpr_spam"] for m in results])
    return float(np.mean(aucs) - hold - 4 * spam)


def main(argv: list[str] | None = None) -> int:
    """Run the nested selection and print, per outer corpus, the choice and its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--candidates", default="", help="Comma-separated names (default: all)")
    args = parser.parse_args(argv)
    if args.candidates:
        keep = args.candidates.split(",")
        for name in list(CANDIDATES):
            if name not in keep:
                del CANDIDATES[name]
    started = time.monotonic()
    corpora, extra = read_corpora(args.data)
    names = list(corpora)
    tasks = []
    for outer in names:
        rest = [n for n in names if n != outer]
        for cfg in CANDIDATES:
            tasks.append(("outer", outer, cfg, rest, outer))
            for inner in rest:
                tasks.append(("inner", outer, cfg, [n for n in rest if n != inner], inner))
    scores = Parallel(n_jobs=args.jobs, verbose=0)(
        delayed(fit_score)(corpora, extra, train, held, cfg) for _, _, cfg, train, held in tasks
    )
    inner: dict[tuple[str, str], list[dict[str, Any]]] = {}
    outer_scores: dict[tuple[str, str], np.ndarray] = {}
    for (kind, outer, cfg, _, held), part in zip(tasks, scores, strict=True):
        if kind == "outer":
            outer_scores[outer, cfg] = part
        else:
            m = training.evaluate_scores(list(corpora[held].labels), part, SETTINGS)
            inner.setdefault((outer, cfg), []).append(m)
    print("Inner utility per outer corpus (chosen on the other three corpora only):\n")
    print("| configuration | " + " | ".join(f"without {n}" for n in names) + " |")
    print("|---|" + "---:|" * len(names))
    for cfg in CANDIDATES:
        cells = " | ".join(f"{utility(inner[o, cfg]):.4f}" for o in names)
        print(f"| {cfg} | {cells} |")
    print("\nOuter corpus scored by the configuration its inner folds chose:\n")
    print(f"| {'chosen':<22} " + loco_row("x", [0], np.zeros(1)).split("|", 1)[0])
    chosen_rows = []
    for outer in names:
        cfg = max(CANDIDATES, key=lambda c, o=outer: utility(inner[o, c]))
        labels = list(corpora[outer].labels)
        chosen_rows.append(f"{cfg:<22} " + loco_row(outer, labels, outer_scores[outer, cfg]))
    for line in chosen_rows:
        print(line)
    print("\nFor the record, every configuration on every outer corpus (not used to choose):\n")
    for cfg in CANDIDATES:
        for outer in names:
            labels = list(corpora[outer].labels)
            print(f"{cfg:<22} " + loco_row(outer, labels, outer_scores[outer, cfg]))
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
