"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from moderation.classifier import get_holder
from moderation.db import get_session
from moderation.db import ping

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """Answer that the process is alive (touches nothing)."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    """Report whether the database answers and which classifier version serves."""
    ping(get_session())
    classifier = get_holder().status()
    ready = bool(classifier.get("loaded"))
    body = {
        "status": "ready" if ready else "degraded",
        "database": "ok",
        "classifier": classifier,
    }
    return body, 200
