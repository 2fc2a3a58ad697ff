"""Benchmark: the sanitizer's CPU for the costliest comment bodies found (64 KB each).

    .venv/bin/python -m bench.hostile_html

html5lib's tree building is quadratic in formatting elements left open or misnested;
sanitize.MAX_TAGS bounds the tags it is given. Goal: no body of the intake's maximum size
takes more than 1 s of CPU to sanitize (it took up to 5.6 s before MAX_TAGS).
"""

from __future__ import annotations

import sys
import time

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
}


def main() -> int:
    """Print the CPU seconds each case takes, and whether the goal is met."""
    worst = 0.0
    print(f"| body ({CONTENT_MAX:,} characters at most) | CPU s |")
    print("|---|---:|")
    for name, text in CASES.items():
        started = time.process_time()
        clean_comment_html(text[:CONTENT_MAX])
        seconds = time.process_time() - started
        worst = max(worst, seconds)
        print(f"| {name} | {seconds:.3f} |")
    print(f"worst {worst:.3f} s; goal ≤ 1 s: {'met' if worst <= 1.0 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
