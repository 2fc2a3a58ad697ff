"""The spam classifier as the intake sees it: one small scoring interface.

Placeholder until a trained version is active: every score raises
ClassifierUnavailable, so the intake fails closed (pending, classifier_unavailable).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask import current_app

HOLDER = "moderation.classifier"


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


class ClassifierHolder:
    """The per-process holder of the active classifier version."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def score(self, doc: Doc) -> Score:
        """Score one comment, or raise ClassifierUnavailable."""
        raise ClassifierUnavailable("no classifier version is active")

    def status(self) -> dict[str, Any]:
        """Return what /readyz reports about the classifier."""
        return {"loaded": False, "version": None, "error": "no classifier version"}


def init_app(app: Flask) -> None:
    """Give this process its classifier holder (it loads lazily, never at import)."""
    app.extensions[HOLDER] = ClassifierHolder(app)


def get_holder() -> ClassifierHolder:
    """Return the current app's classifier holder."""
    return current_app.extensions[HOLDER]
