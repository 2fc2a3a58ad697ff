"""The admins' pages (blueprint "admin" at /admin): versions, retraining, settings, accounts."""

from moderation.admin import privacy  # noqa: F401 (registers routes)
from moderation.admin import site_keys  # noqa: F401 (registers routes)
from moderation.admin import user_tokens  # noqa: F401 (registers routes)
from moderation.admin import views  # noqa: F401 (registers routes)
from moderation.admin import webhooks  # noqa: F401 (registers routes)
from moderation.admin.pages import bp

__all__ = ["bp"]
