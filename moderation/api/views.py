"""The blueprint and the modules that add routes to it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Route modules attach themselves to bp when imported.
from moderation.api import admin  # noqa: E402, F401
from moderation.api import comments  # noqa: E402, F401
from moderation.api import edits  # noqa: E402, F401
from moderation.api import imports  # noqa: E402, F401
from moderation.api import openapi  # noqa: E402, F401
from moderation.api import privacy  # noqa: E402, F401
from moderation.api import queue  # noqa: E402, F401
from moderation.api import webhooks  # noqa: E402, F401
