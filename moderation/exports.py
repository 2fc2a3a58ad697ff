"""What the service holds about one commenter (a personal data export), as pydantic models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import CommentRevision
from moderation.tables import Site

EXPORT_LIMIT = 10_000


class CommenterIn(BaseModel):
    """Whose data: every comment of this address (any case)."""

    model_config = ConfigDict(extra="forbid")

    author_email: str = Field(min_length=3, max_length=100)


class ExportedEvent(BaseModel):
    """One change of an exported comment's status."""

    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    note: str | None


class ExportedRevision(BaseModel):
    """An earlier text of an exported comment (before its site edited it)."""

    at: datetime
    content_raw: str


class ExportedComment(BaseModel):
    """One comment with everything stored about it."""

    id: int
    site: str
    post_id: str
    parent_id: int | None
    author_name: str
    author_email: str
    author_url: str | None
    author_ip: str | None
    user_agent: str | None
    referrer: str | None
    permalink: str | None
    content_raw: str
    content_html: str
    status: str
    spam_score: float | None
    reasons: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    history: list[ExportedEvent]
    revisions: list[ExportedRevision]


class CommenterExport(BaseModel):
    """Every comment of one address the caller may see, oldest first."""

    author_email: str
    exported_at: datetime
    comments: list[ExportedComment]


def export_commenter(
    session: Session, email: str, *, now: datetime, site_id: int | None = None
) -> CommenterExport:
    """Collect one address's comments (on `site_id`, or every site) with history and texts."""
    address = email.strip().lower()
    stmt = select(Comment, Site.name).join(Site, Site.id == Comment.site_id)
    stmt = stmt.where(func.lower(Comment.author_email) == address)
    if site_id is not None:
        stmt = stmt.where(Comment.site_id == site_id)
    rows = list(session.execute(stmt.order_by(Comment.created_at, Comment.id).limit(EXPORT_LIMIT)))
    ids = [comment.id for comment, _ in rows]
    events: dict[int, list[ExportedEvent]] = {}
    texts: dict[int, list[ExportedRevision]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for event in session.scalars(
            select(AuditEvent)
            .where(AuditEvent.comment_id.in_(chunk))
            .order_by(AuditEvent.at, AuditEvent.id)
        ):
            events.setdefault(event.comment_id, []).append(
                ExportedEvent(
                    at=event.at,
                    actor=event.actor,
                    from_status=str(event.from_status) if event.from_status else None,
                    to_status=str(event.to_status),
                    note=event.note,
                )
            )
        for revision in session.scalars(
            select(CommentRevision)
            .where(CommentRevision.comment_id.in_(chunk))
            .order_by(CommentRevision.at, CommentRevision.id)
        ):
            texts.setdefault(revision.comment_id, []).append(
                ExportedRevision(at=revision.at, content_raw=revision.content_raw)
            )
    comments = [
        ExportedComment(
            id=comment.id,
            site=site_name,
            post_id=comment.post_id,
            parent_id=comment.parent_id,
            author_name=comment.author_name,
            author_email=comment.author_email,
            author_url=comment.author_url,
            author_ip=comment.author_ip,
            user_agent=comment.user_agent,
            referrer=comment.referrer,
            permalink=comment.permalink,
            content_raw=comment.content_raw,
            content_html=comment.content_html,
            status=str(comment.status),
            spam_score=comment.spam_score,
            reasons=list(comment.reasons or []),
            created_at=comment.created_at,
            updated_at=comment.updated_at,
            history=events.get(comment.id, []),
            revisions=texts.get(comment.id, []),
        )
        for comment, site_name in rows
    ]
    return CommenterExport(author_email=address, exported_at=now, comments=comments)
