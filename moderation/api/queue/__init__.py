"""Moderator endpoints under /api/v1: the queue, decisions and history.

Importing the package registers its routes on the shared blueprint (moderation.api.views.bp).
"""

from moderation.api.queue.openapi import QUEUE_MODELS
from moderation.api.queue.openapi import openapi_paths
from moderation.api.queue.views import ALL_STATUSES
from moderation.api.queue.views import QueueView
from moderation.api.queue.views import etag_of
from moderation.api.queue.views import load_queue_view

__all__ = [
    "ALL_STATUSES",
    "QUEUE_MODELS",
    "QueueView",
    "etag_of",
    "load_queue_view",
    "openapi_paths",
]
