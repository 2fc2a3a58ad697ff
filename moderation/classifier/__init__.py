"""The spam classifier as the intake sees it: one small scoring interface.

The holder (app.extensions["moderation.classifier"]) serves the active version from the
database. It loads lazily, on the first score, so nothing heavy happens at import or at
app creation; while no version can be loaded every score raises ClassifierUnavailable
and the intake fails closed (pending, classifier_unavailable).
"""

from __future__ import annotations

from flask import Flask
from flask import current_app

from moderation.classifier.artifact import TRUSTED_TYPES
from moderation.classifier.artifact import ArtifactRefused
from moderation.classifier.artifact import load_version
from moderation.classifier.holder import ClassifierHolder
from moderation.classifier.interface import ClassifierUnavailable
from moderation.classifier.interface import Contribution
from moderation.classifier.interface import Doc
from moderation.classifier.interface import Score

HOLDER = "moderation.classifier"

__all__ = [
    "HOLDER",
    "TRUSTED_TYPES",
    "ArtifactRefused",
    "ClassifierHolder",
    "ClassifierUnavailable",
    "Contribution",
    "Doc",
    "Score",
    "get_holder",
    "init_app",
    "load_version",
]


def init_app(app: Flask) -> None:
    """Give this process its classifier holder (it loads lazily, never at import)."""
    app.extensions[HOLDER] = ClassifierHolder(app)


def get_holder() -> ClassifierHolder:
    """Return the current app's classifier holder."""
    return current_app.extensions[HOLDER]
