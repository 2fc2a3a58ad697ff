"""Moderator e-mail: per comment or digest, with signed one-click links (approve/reject/spam)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from moderation import taskqueue
from moderation.held import take_held
from moderation.mail.notices import send_due
from moderation.tables import utcnow
from moderation.wake import Waker
from moderation.wake import wake_after_commit

TASK = "mail_moderators"
WAKER = "moderation.mail.waker"

__all__ = ["init_app", "send_due"]


def init_app(app: Flask) -> None:
    """Register the mail task: every minute, and soon after a comment starts to wait.

    A commit that stored a waiting comment queues a run for MAIL_WAKE_SECONDS later,
    unless this process queued one less than that ago: that run, at the end of its window,
    sees this comment too. So a moderator who gets each comment hears of it in seconds,
    not at the next minute; digests still keep their own interval.
    """
    taskqueue.register(app, TASK, send_due, every_minute=True)
    window = float(app.config["MAIL_WAKE_SECONDS"])
    waker = Waker(
        lambda: taskqueue.enqueue(app, TASK, eta=utcnow() + timedelta(seconds=window)), window
    )
    app.extensions[WAKER] = waker
    wake_after_commit(app, waker, take_held)
