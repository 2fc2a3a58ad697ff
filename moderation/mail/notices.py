"""What moderators are told: each waiting comment, or a digest every MAIL_DIGEST_MINUTES."""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from datetime import timedelta
from email.message import EmailMessage

from flask import Flask
from sqlalchemy import select
from sqlalchemy import update

from moderation import db
from moderation.decisions import REASON_LABELS
from moderation.mail.links import make_token
from moderation.mail.sending import send_message
from moderation.queue import Action
from moderation.queue import excerpt
from moderation.tables import Comment
from moderation.tables import MailMode
from moderation.tables import Role
from moderation.tables import Site
from moderation.tables import Status
from moderation.tables import User
from moderation.tables import utcnow

logger = logging.getLogger(__name__)

MAX_EACH = 20  # per-comment messages to one moderator in one run (the rest: next minute)
MAX_DIGEST = 50  # comments listed in one digest
EXCERPT = 600
MAIL_ACTIONS = (Action.APPROVE, Action.REJECT, Action.SPAM)  # a waiting comment's choices


def action_url(app: Flask, user_id: int, comment_id: int, action: Action) -> str:
    """Return the one-click link of an action, signed for this moderator."""
    token = make_token(app.config["SECRET_KEY"], user_id, comment_id, action)
    return f"{str(app.config['MAIL_BASE_URL']).rstrip('/')}/review/act/{token}"


def comment_block(app: Flask, user_id: int, comment: Comment, site_name: str) -> str:
    """Return one comment as the mail shows it: who, where, why it waits, text, links."""
    reasons = ", ".join(
        REASON_LABELS.get(r.get("code"), str(r.get("code")))  # type: ignore[call-overload]
        for r in comment.reasons or []
    )
    score = "" if comment.spam_score is None else f", spam score {comment.spam_score:.2f}"
    links = "\n".join(
        f"  {action.value.capitalize()}: {action_url(app, user_id, comment.id, action)}"
        for action in MAIL_ACTIONS
    )
    return (
        f"Comment #{comment.id} on {site_name} / {comment.post_id}, by {comment.author_name}"
        f"{score}\nWhy it waits: {reasons or 'first comment of this author'}\n\n"
        f"{excerpt(comment, EXCERPT)}\n\n{links}\n"
    )


def _message(user: User, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["To"] = user.email
    message["Subject"] = subject
    message.set_content(body)
    return message


def _waiting(app: Flask, since: datetime, now: datetime, limit: int) -> list[tuple[Comment, str]]:
    with db.new_session(app) as session:
        rows = session.execute(
            select(Comment, Site.name)
            .join(Site, Site.id == Comment.site_id)
            .where(
                Comment.status == Status.PENDING,
                Comment.created_at > since,
                Comment.created_at <= now,
            )
            .order_by(Comment.created_at, Comment.id)
            .limit(limit)
        )
        return [(comment, name) for comment, name in rows]


def _move_cursor(
    app: Flask, user: User, old: datetime | None, new: datetime | None, mailed_at: datetime | None
) -> bool:
    """Move the user's mailed-until mark from `old` to `new`; False if someone else did first."""
    same = User.mailed_until.is_(None) if old is None else User.mailed_until == old
    with db.new_session(app, write=True) as session:
        result = session.execute(
            update(User)
            .where(User.id == user.id, same)
            .values(mailed_until=new, last_mail_at=mailed_at)
        )
        session.commit()
    return result.rowcount == 1


def messages_for(app: Flask, user: User, now: datetime) -> list[tuple[EmailMessage, datetime]]:
    """Return the messages due to `user` now, each with the mailed-until mark it reaches."""
    since = user.mailed_until or user.created_at
    if user.mail_mode is MailMode.DIGEST:
        every = timedelta(minutes=float(app.config["MAIL_DIGEST_MINUTES"]))
        if user.last_mail_at is not None and now - user.last_mail_at < every:
            return []
        waiting = _waiting(app, since, now, MAX_DIGEST)
        if not waiting:
            return []
        blocks = "\n".join(comment_block(app, user.id, c, name) for c, name in waiting)
        queue = f"{str(app.config['MAIL_BASE_URL']).rstrip('/')}/review/"
        subject = f"[moderation] {len(waiting)} new comment{'s' if len(waiting) != 1 else ''} wait"
        body = f"New comments wait for review.\n\n{blocks}\nThe queue: {queue}\n"
        return [(_message(user, subject, body), waiting[-1][0].created_at)]
    return [
        (
            _message(
                user,
                f"[moderation] Comment #{c.id} by {c.author_name} waits ({name})",
                comment_block(app, user.id, c, name),
            ),
            c.created_at,
        )
        for c, name in _waiting(app, since, now, MAX_EACH)
    ]


def send_due(app: Flask) -> int:
    """Send every moderator what is due now; return how many messages went out.

    Each moderator's mailed-until mark moves (compare-and-set) before sending, so two
    workers never send the same mail; when a send fails, the mark goes back to the last
    message that went out, so the next run sends the rest.
    """
    now = utcnow()
    with db.new_session(app) as session:
        users = list(
            session.scalars(
                select(User).where(
                    User.disabled.is_(False),
                    User.mail_mode != MailMode.OFF,
                    User.role.in_([Role.MODERATOR, Role.ADMIN]),
                )
            )
        )
    sent = 0
    for user in users:
        due = messages_for(app, user, now)
        if not due:
            continue
        until = due[-1][1]
        if not _move_cursor(app, user, user.mailed_until, until, now):
            continue
        reached, when = user.mailed_until, user.last_mail_at
        try:
            for message, mark in due:
                send_message(app.config, message)
                reached, when = mark, now
                sent += 1
        except (OSError, smtplib.SMTPException):
            logger.exception("mail to moderator %s failed; the rest goes next run", user.id)
            _move_cursor(app, user, until, reached, when)
    return sent
