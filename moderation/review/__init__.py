"""The moderators' review page (blueprint "review" at /review): sign-in, queue, detail."""

from moderation.review import mail_pages  # noqa: F401 (registers routes)
from moderation.review.views import bp

__all__ = ["bp"]
