"""Print the classifier's speed: one comment, a batch, training at 10k-200k, worker memory.

    .venv/bin/python -m bench.classifier [--data ../shared/data] [--sizes 10000,50000,200000]

Scores with the shipped artifact (models/default.skops) through the real holder of an app
on a temporary SQLite database, as a worker does: one score a comment, then as the intake
calls it (a comment scored from the hold threshold up that has links is
scored a second time without its links, for the links-alone rule); trains on texts resampled
from the corpora (each copy loses one random word, so the texts are not exact duplicates).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from moderation import training
from moderation.classifier import Doc

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"
ARTIFACT = ROOT / "models" / "default.skops"

WORKER = """
import json, os, sys, time
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024
from moderation import create_app
from moderation.classifier import Doc, get_holder
from moderation.settings import ModerationSettings
app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": sys.argv[1]})
before = rss()
with app.app_context():
    holder = get_holder()
    holder.rescore_on_load = False
    started = time.monotonic()
    holder.score(Doc("warm up"))
    load = time.monotonic() - started
    docs = [Doc(line) for line in json.loads(sys.stdin.read())]
    times, intake_times = [], []
    for doc in docs:
        t = time.perf_counter()
        holder.score(doc, None)
        times.append(time.perf_counter() - t)
    links_from = ModerationSettings().hold_threshold  # as the intake calls it
    for doc in docs:
        t = time.perf_counter()
        holder.score(doc, links_from)
        intake_times.append(time.perf_counter() - t)
result = {"before": before, "after": rss(), "load": load, "times": times}
from moderation import taskqueue
taskqueue.queue_of(app).ready()  # what a worker's first enqueue imports (huey, its backends)
result["queue"] = rss()
print(json.dumps({**result, "intake_times": intake_times}))
"""


def corpus_texts(data: Path) -> training.Corpus:
    """Read the four YouTube videos and the SMS corpus."""
    videos = sorted((data / "youtube-spam-collection").glob("Youtube0*.csv"))
    sms = data / "sms-spam-collection" / "SMSSpamCollection"
    return training.Corpus.join(
        [training.read_corpus(p, "youtube") for p in videos] + [training.read_corpus(sms, "sms")]
    )


def resample(corpus: training.Corpus, n: int, seed: int = 0) -> training.Corpus:
    """Draw n texts with replacement; each copy loses one random word."""
    rng = random.Random(seed)
    docs, labels, aux = [], [], []
    for _ in range(n):
        i = rng.randrange(len(corpus))
        words = corpus.docs[i].content.split()
        if len(words) > 3:
            del words[rng.randrange(len(words))]
        docs.append(Doc(" ".join(words), corpus.docs[i].author_name))
        labels.append(corpus.labels[i])
        aux.append(corpus.aux[i])
    return training.Corpus(tuple(docs), tuple(labels), tuple(aux))


def worker_run(sample: list[str]) -> dict[str, float | list[float]]:
    """Score one comment at a time in a fresh worker process; return times and memory."""
    from moderation import create_app
    from moderation import db

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite"
        app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": url})
        db.upgrade(app)
        with db.new_session(app, write=True) as session:
            training.import_default_artifact(session, ARTIFACT)
            session.commit()
        app.extensions[db.ENGINE].dispose()
        out = subprocess.run(
            [sys.executable, "-c", WORKER, url],
            input=json.dumps(sample),
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sizes", default="10000,50000,200000")
    parser.add_argument("--jobs", type=int, default=1, help="Processes for training.")
    args = parser.parse_args(argv)
    if not ARTIFACT.exists():
        print(f"{ARTIFACT} is missing", file=sys.stderr)
        return 1
    corpus = corpus_texts(args.data)
    comments = [d.content for d, a in zip(corpus.docs, corpus.aux, strict=True) if not a]
    sample = random.Random(1).sample(comments, 1000) + random.Random(2).sample(
        [d.content for d in corpus.docs], 1000
    )
    worker = worker_run(sample)
    times = np.array(worker["times"]) * 1000
    intake_times = np.array(worker["intake_times"]) * 1000
    print(
        "| measure                                    | result                 | goal          |"
    )
    print(
        "|--------------------------------------------|------------------------|---------------|"
    )
    show(
        "one comment, holder.score(), p50 / p99",
        f"{np.percentile(times, 50):.3f} / {np.percentile(times, 99):.3f} ms",
        "≤ 1 / ≤ 3 ms",
    )
    show(
        "the same as the intake scores it",
        f"{np.percentile(intake_times, 50):.3f} / {np.percentile(intake_times, 99):.3f} ms",
    )
    show("first load of the artifact in a worker", f"{worker['load']:.2f} s")
    show(
        "worker RSS: app / app + classifier",
        f"{worker['before']:.0f} / {worker['after']:.0f} MB",
        "≤ 250 MB",
    )
    show("… after the worker's first enqueue (huey)", f"{worker['queue']:.0f} MB")

    from moderation.classifier.artifact import load_version

    manifest = json.loads((ARTIFACT.parent / "manifest.json").read_text())
    classifier = load_version(ARTIFACT.read_bytes(), manifest["sha256"], manifest)
    batch = [Doc(text) for text in random.Random(3).choices(comments, k=10_000)]
    started = time.perf_counter()
    training.spam_scores(classifier, batch, batch=1000)
    rate = len(batch) / (time.perf_counter() - started)
    show("batch scoring, 10,000 comments", f"{rate:,.0f} comments/s", "≥ 5,000/s")

    previous = None
    for n in [int(s) for s in args.sizes.split(",")]:
        data = resample(corpus, n)
        started = time.perf_counter()
        clf = training.fit(data.docs, data.labels, data.aux, n_jobs=args.jobs)
        seconds = time.perf_counter() - started
        growth = ""
        if previous is not None:
            growth = f" (×{seconds / previous[1]:.1f} for ×{n // previous[0]})"
        show(
            f"training, {n:,} texts, {args.jobs} process(es)",
            f"{seconds:.1f} s{growth}",
            "≤ 60 s" if n >= 200_000 else "",
        )
        previous = (n, seconds)
        del clf, data
    return 0


def show(measure: str, result: str, goal: str = "") -> None:
    """Print one table row."""
    print(f"| {measure:<42} | {result:<22} | {goal:<13} |")


if __name__ == "__main__":
    sys.exit(main())
