"""What is ever deleted: old spam and stale flood marks (purge), a commenter's data (erase).

Nothing else is deleted (the brief). Services take a session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import aliased

from moderation.db import LIKE_ESCAPE
from moderation.db import escape_like
from moderation.tables import AkismetReport
from moderation.tables import Comment
from moderation.tables import EventType
from moderation.tables import FloodKind
from moderation.tables import FloodMark
from moderation.tables import Status
from moderation.webhooks.outbox import record_event

# A spam comment that others replied to is kept until its replies are gone; chains of
# spam replies are peeled one level a round, at most this many rounds a purge.
MAX_PURGE_ROUNDS = 50


@dataclass(frozen=True)
class PurgeResult:
    """What a purge deleted, and the spam it had to keep (it still has replies)."""

    spam_deleted: int
    spam_kept_with_replies: int
    flood_marks_deleted: int


@dataclass(frozen=True)
class ErasureResult:
    """What erasing one commenter's data deleted or detached."""

    comments_deleted: int
    replies_detached: int  # other people's replies, now top-level comments
    flood_marks_deleted: int


def purge(
    session: Session,
    *,
    now: datetime,
    spam_older_than: timedelta,
    flood_seconds: int,
    dry_run: bool = False,
) -> PurgeResult:
    """Delete spam unchanged for `spam_older_than` and flood marks past their window.

    Each deleted comment sends comment.erased to the endpoints that want it.

    With `dry_run`, count instead (replies to purgeable spam that are spam themselves
    are counted as kept: a real purge deletes such chains from the leaves up).
    """
    reply = aliased(Comment)
    has_replies = select(reply.id).where(reply.parent_id == Comment.id).exists()
    old_spam = (Comment.status == Status.SPAM, Comment.updated_at < now - spam_older_than)
    stale_mark = FloodMark.last_at < now - timedelta(seconds=max(flood_seconds, 0))
    if dry_run:
        return PurgeResult(
            spam_deleted=_count(session, Comment, *old_spam, ~has_replies),
            spam_kept_with_replies=_count(session, Comment, *old_spam, has_replies),
            flood_marks_deleted=_count(session, FloodMark, stale_mark),
        )
    deleted = 0
    for _ in range(MAX_PURGE_ROUNDS):
        gone = session.execute(
            delete(Comment)
            .where(*old_spam, ~has_replies)
            .returning(Comment.id, Comment.site_id, Comment.post_id)
            .execution_options(synchronize_session=False)
        ).all()
        # A site that keeps its own copy hears that the comment is gone, as for erasure.
        for comment_id, site_id, post_id in gone:
            gone_comment = Comment(id=comment_id, site_id=site_id, post_id=post_id)
            record_event(session, gone_comment, EventType.ERASED, now=now)
        deleted += len(gone)
        if not gone:
            break
    marks = session.execute(
        delete(FloodMark).where(stale_mark).execution_options(synchronize_session=False)
    ).rowcount
    return PurgeResult(
        spam_deleted=deleted,
        spam_kept_with_replies=_count(session, Comment, *old_spam, has_replies),
        flood_marks_deleted=marks,
    )


def _count(session: Session, table: type[Comment] | type[FloodMark], *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(table).where(*where)) or 0


def erase_commenter(session: Session, email: str, site_id: int | None = None) -> ErasureResult:
    """Delete every comment by `email` (any case), their history and flood marks.

    On every site, or on `site_id` alone (a site erasing its own commenter's data).
    Other people's replies to them stay, as top-level comments of the same post.
    """
    address = email.strip().lower()
    theirs = func.lower(Comment.author_email) == address
    mine = aliased(Comment)  # an alias, so the subquery never correlates to the UPDATE
    their_ids = select(mine.id).where(func.lower(mine.author_email) == address)
    if site_id is not None:
        theirs = theirs & (Comment.site_id == site_id)
        their_ids = their_ids.where(mine.site_id == site_id)
    ip_keys = [
        FloodMark.key_of(site_id, FloodKind.IP, ip)
        for site_id, ip in session.execute(
            select(Comment.site_id, Comment.author_ip)
            .where(theirs, Comment.author_ip.is_not(None))
            .distinct()
        )
    ]
    detached = session.execute(
        update(Comment)
        .where(Comment.parent_id.in_(their_ids.scalar_subquery()))
        .where(~theirs)
        .values(parent_id=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    # The outbox: each site hears which of its comments went (nothing of what they said).
    for comment in session.scalars(select(Comment).where(theirs).order_by(Comment.id)):
        record_event(session, comment, EventType.ERASED)
    # Their replies to their own comments go in the same statement: both databases
    # check the parent key at the end of the statement, not row by row.
    deleted = session.execute(
        delete(Comment).where(theirs).execution_options(synchronize_session=False)
    ).rowcount
    email_marks = (
        FloodMark.key.like(
            "%" + escape_like(FloodMark.key_of("", FloodKind.EMAIL, address)),
            escape=LIKE_ESCAPE,
        )
        if site_id is None
        else FloodMark.key == FloodMark.key_of(site_id, FloodKind.EMAIL, address)
    )
    marks = session.execute(
        delete(FloodMark)
        .where(email_marks | FloodMark.key.in_(ip_keys))
        .execution_options(synchronize_session=False)
    ).rowcount
    # Akismet submissions about comments never checked here (labelled examples) too.
    session.execute(
        delete(AkismetReport)
        .where(func.lower(AkismetReport.author_email) == address)
        .execution_options(synchronize_session=False)
    )
    return ErasureResult(
        comments_deleted=deleted, replies_detached=detached, flood_marks_deleted=marks
    )
