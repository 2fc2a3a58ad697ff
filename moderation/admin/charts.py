"""Pictures for the admin pages, drawn server-side as SVG from stored metrics (no scripts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup
from markupsafe import escape

WIDTH = 260
HEIGHT = 210
LEFT = 42
RIGHT = 12
TOP = 12
BOTTOM = 38
TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _x(recall: float) -> float:
    return LEFT + recall * (WIDTH - LEFT - RIGHT)


def _y(precision: float) -> float:
    return TOP + (1.0 - precision) * (HEIGHT - TOP - BOTTOM)


def _clamp(value: Any) -> float:
    number = float(value)
    return 0.0 if number != number else min(1.0, max(0.0, number))  # NaN → 0


def pr_curve_svg(
    points: Sequence[Sequence[float]],
    *,
    label: str,
    operating: dict[str, Sequence[float]] | None = None,
) -> Markup:
    """Return an accessible inline SVG of a precision-recall curve.

    :param points: (recall, precision, ...) pairs in any order.
    :param operating: named (recall, precision) points to mark, e.g. the thresholds.
    """
    parts = [
        f'<svg class="pr-curve" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}"'
        f' role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
    ]
    for tick in TICKS:
        x, y = _x(tick), _y(tick)
        parts.append(
            f'<line class="grid" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM}"'
            ' stroke="#dde1e8" stroke-width="1"/>'
        )
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"'
            ' stroke="#dde1e8" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="10" text-anchor="middle"'
            f' fill="#5b6474">{tick:g}</text>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 3:.1f}" font-size="10" text-anchor="end"'
            f' fill="#5b6474">{tick:g}</text>'
        )
    parts.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.1f}" y="{HEIGHT - 6}" font-size="11"'
        ' text-anchor="middle" fill="#1d2330">recall (spam caught)</text>'
    )
    parts.append(
        f'<text x="11" y="{(TOP + HEIGHT - BOTTOM) / 2:.1f}" font-size="11" text-anchor="middle"'
        f' fill="#1d2330" transform="rotate(-90 11 {(TOP + HEIGHT - BOTTOM) / 2:.1f})">'
        "precision</text>"
    )
    clean = sorted((_clamp(p[0]), _clamp(p[1])) for p in points if len(p) >= 2)
    if clean:
        path = " ".join(f"{_x(r):.1f},{_y(p):.1f}" for r, p in clean)
        parts.append(
            f'<polyline class="curve" points="{path}" fill="none" stroke="#2456c7"'
            ' stroke-width="2" stroke-linejoin="round"/>'
        )
    else:
        parts.append(
            f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.1f}" y="{HEIGHT / 2 - 10:.1f}" font-size="12"'
            ' text-anchor="middle" fill="#5b6474">no curve stored</text>'
        )
    colours = {"hold": "#8a5a00", "spam": "#b42318"}
    for name, point in (operating or {}).items():
        if len(point) < 2:
            continue
        r, p = _clamp(point[0]), _clamp(point[1])
        colour = colours.get(name, "#1d2330")
        parts.append(
            f'<circle class="operating" cx="{_x(r):.1f}" cy="{_y(p):.1f}" r="4" fill="{colour}">'
            f"<title>{escape(name)} threshold: recall {r:.2f}, precision {p:.2f}</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (numbers and escaped labels only)
