"""Moderator e-mail: per comment or digest, with signed one-click links (approve/reject/spam)."""

from __future__ import annotations

from flask import Flask

from moderation import taskqueue
from moderation.mail.notices import send_due

TASK = "mail_moderators"

__all__ = ["init_app", "send_due"]


def init_app(app: Flask) -> None:
    """Register the mail task: every minute, send what is due (per comment, or digests)."""
    taskqueue.register(app, TASK, send_due, every_minute=True)
