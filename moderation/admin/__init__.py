"""The admins' pages (blueprint "admin" at /admin): versions, retraining, settings, accounts."""

from moderation.admin.views import bp

__all__ = ["bp"]
