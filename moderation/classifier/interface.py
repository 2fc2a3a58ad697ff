"""The scoring interface the intake relies on: docs in, scores out, or unavailable."""

from __future__ import annotations

from dataclasses import dataclass


class ClassifierUnavailable(RuntimeError):
    """No classifier can score right now (none active, or it failed to load)."""


@dataclass(frozen=True)
class Doc:
    """What the classifier reads of a comment (raw text, not the sanitized HTML)."""

    content: str
    author_name: str = ""
    author_email: str = ""
    author_url: str | None = None


@dataclass(frozen=True)
class Contribution:
    """One feature's push on a score (positive: towards spam)."""

    feature: str
    weight: float


@dataclass(frozen=True)
class Score:
    """A spam probability, the version that gave it, and why."""

    spam_probability: float
    version: int
    top_features: tuple[Contribution, ...] = ()
    # The probability of the same comment with its links taken out (reading.without_links);
    # None when it has no link (or scored under the threshold it was asked from).
    without_links: float | None = None
    # The probability with its shape signals (link count, author URL, length, capitals,
    # digits, repeats) at their training mean: what its words alone score. None when
    # not asked (under the threshold) or the classifier cannot say.
    without_signals: float | None = None
    # The version's own spam threshold, set from the site's labels when it was retrained
    # (retraining.operating_point); the decision sends to spam at the higher of this and
    # the site's. None for a version without one.
    spam_floor: float | None = None
