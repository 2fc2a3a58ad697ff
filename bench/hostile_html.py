"""Benchmark: the CPU a comment's costliest bodies (64 KB each) take to sanitize and to read.

    .venv/bin/python -m bench.hostile_html

Two steps of the intake parse a comment's text with patterns whose cost can grow faster
than its length: the sanitizer (html5lib is quadratic in formatting elements left open or
misnested, and in a tag's distinct attributes; markup_bounds bounds both) and the
classifier's reading (links and anchors, reading._link_spans and _links_as_text, linear).
Goal: no body of the intake's maximum size takes more than 1 s of CPU in either step
(before: up to 4.5 s sanitizing; minutes reading "a.a.a…" and "<a href=<a href=…").
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from moderation import reading
from moderation.classifier import Doc
from moderation.sanitize import clean_comment_html
from moderation.schemas import CONTENT_MAX

CASES = {
    "prose": "A reader's long comment, with words. " * 1_800,
    "<b> left open, nested": "<b>x" * 13_000,
    "<b> with distinct titles, left open": "".join(f'<b title="{n}">x' for n in range(4_000)),
    "misnested <b><i title=n></b>": "".join(f'<b><i title="{n}"></b>x' for n in range(3_000)),
    "<b> then a stray </i>": "<b>x</i>" * 8_000,
    "<b>x</b> in a row": "<b>x</b>" * 8_000,
    "nested <blockquote>": "<blockquote>" * 5_000 + "x",
    "only '<'": "<" * CONTENT_MAX,
    "dotted labels a.a.a…": "a." * 32_800,
    "a.www a.www …": "a.www" * 13_200,
    "<a href=<a href=…": "<a href=" * 8_200,
    "<a <a <a … >": "<a " * 21_800 + ">",
    "<a x0 x1 … x9999>": "<a " + " ".join(f"x{n}" for n in range(10_000)) + ">",
    "<div x0 x1 … (never closed)": "<div " + " ".join(f"x{n}" for n in range(10_000)),
    '<a q=">" y0 y1 … y9999>': '<a q=">" ' + " ".join(f"y{n}" for n in range(10_000)) + ">",
}
# Every reading option on: the patterns of a retrained version's reading run too.
EVERY_OPTION = reading.ReadingOptions(
    fold_unicode=True, strip_urls=True, author_words=True, extra_meta=True, binned_signals=True
)


def cpu(step: Callable[[], object]) -> float:
    """Return the CPU seconds one call of step takes."""
    started = time.process_time()
    step()
    return time.process_time() - started


def main() -> int:
    """Print the CPU seconds each case takes in each step, and whether the goal is met."""
    worst = 0.0
    print(f"| body ({CONTENT_MAX:,} characters at most) | sanitize, CPU s | read, CPU s |")
    print("|---|---:|---:|")
    for name, text in CASES.items():
        text = text[:CONTENT_MAX]
        clean = cpu(lambda text=text: clean_comment_html(text))
        read = cpu(
            lambda text=text: (
                reading.read_doc(Doc(text), EVERY_OPTION),
                reading.without_links(text),
            )
        )
        worst = max(worst, clean, read)
        print(f"| {name} | {clean:.3f} | {read:.3f} |")
    print(f"worst {worst:.3f} s; goal ≤ 1 s: {'met' if worst <= 1.0 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
