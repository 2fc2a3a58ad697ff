"""The HTTP API (v1): blueprint "api" at /api/v1; each module registers its routes."""

from moderation.api.views import bp

__all__ = ["bp"]
