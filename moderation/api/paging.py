"""Query arguments every paginated endpoint shares: the page size and a bad cursor."""

from __future__ import annotations

from flask import current_app

from moderation.problems import Problem


def parse_limit(raw: str | None) -> int:
    """Return the page size asked for (1 to MAX_PAGE_SIZE, default PAGE_SIZE), or raise 400."""
    config = current_app.config
    if raw is None:
        return config["PAGE_SIZE"]
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= config["MAX_PAGE_SIZE"]:
        raise Problem(
            400, "Bad limit", f"limit must be an integer from 1 to {config['MAX_PAGE_SIZE']}."
        )
    return int(raw)


def bad_cursor() -> Problem:
    """Return the 400 answered for a cursor this API did not give."""
    return Problem(400, "Bad cursor", "The cursor is not one this API gave.")
