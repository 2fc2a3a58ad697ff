"""Akismet's protocol over this service, so existing Akismet clients switch by changing the host.

views (the routes), protocol (parsing, answers), fields (Akismet's fields into a valid
comment; test triggers), keys (Akismet-style keys, failed-attempt limit), checks (what
the calls do to comments), reports (usage and stats figures).
"""

from moderation.akismet.views import bp

__all__ = ["bp"]
