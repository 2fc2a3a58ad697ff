"""Admin endpoints under /api/v1/admin: jobs, versions, settings, sites, users, erasures.

Importing the package registers its routes on the shared blueprint (moderation.api.views.bp).
"""

from moderation.api.admin import accounts  # noqa: F401 (registers routes)
from moderation.api.admin import akismet_keys  # noqa: F401 (registers routes)
from moderation.api.admin import erasures  # noqa: F401 (registers routes)
from moderation.api.admin import jobs  # noqa: F401 (registers routes)
from moderation.api.admin import settings  # noqa: F401 (registers routes)
from moderation.api.admin import versions  # noqa: F401 (registers routes)
from moderation.api.admin.openapi import ADMIN_MODELS
from moderation.api.admin.openapi import openapi_paths

__all__ = ["ADMIN_MODELS", "openapi_paths"]
