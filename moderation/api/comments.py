"""Site endpoints: post a comment, read it back, list a post's approved threads."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import current_app
from flask import request
from flask import url_for
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.api.paging import bad_cursor
from moderation.api.paging import parse_limit
from moderation.api.views import bp
from moderation.auth import SiteIdentity
from moderation.auth import current_principal
from moderation.auth import require_any
from moderation.auth import require_site
from moderation.bodies import parse_object
from moderation.classifier import get_holder
from moderation.db import get_session
from moderation.intake import assess
from moderation.intake import submit_comment
from moderation.problems import Problem
from moderation.schemas import CommentIn
from moderation.schemas import CommentOut
from moderation.schemas import PostCommentsPage
from moderation.schemas import PublicComment
from moderation.schemas import validate_model
from moderation.settings import current_settings
from moderation.storable import ID_MAX
from moderation.tables import Comment
from moderation.tables import Status
from moderation.tables import utcnow


def comment_out(comment: Comment) -> dict[str, Any]:
    """Serialize a comment for the API."""
    return CommentOut.model_validate(comment, from_attributes=True).model_dump(mode="json")


def take_comment(site: SiteIdentity, data: CommentIn) -> CommentOut:
    """Run a validated comment through the intake for this request (the view commits)."""
    session = get_session()
    # The settings are cached (SETTINGS_TTL_SECONDS): they seldom cost a query, so on
    # SQLite the write lock is still taken, nearly always, after sanitizing and scoring.
    settings = current_settings(session)
    assessment = assess(get_holder(), data, settings)
    return submit_comment(
        session,
        site,
        data,
        assessment,
        settings=settings,
        now=utcnow(),
        flood_seconds=current_app.config["FLOOD_SECONDS"],
    )


@bp.post("/comments")
@require_site
def create_comment() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Take a comment from a site, decide it, store it, answer with the decision."""
    data = validate_model(CommentIn, parse_object(request))
    comment = take_comment(current_principal().site, data)
    get_session().commit()
    location = url_for("api.get_comment", comment_id=comment.id)
    return comment.model_dump(mode="json"), 201, {"Location": location}


def _not_found(comment_id: int) -> Problem:
    return Problem(404, "Not Found", f"There is no comment {comment_id}.")


def load_comment(session: Session, comment_id: int) -> Comment:
    """Return a comment the caller may see (a site sees only its own) or raise 404."""
    comment = session.get(Comment, comment_id)
    principal = current_principal()
    if comment is None or (principal.site is not None and comment.site_id != principal.site.id):
        raise _not_found(comment_id)
    return comment


@bp.get("/comments/<int:comment_id>")
@require_any
def get_comment(comment_id: int) -> dict[str, Any]:
    """Return one comment with its status, score and reasons."""
    return comment_out(load_comment(get_session(), comment_id))


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        value = int(base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii"))
    except (ValueError, UnicodeError, binascii.Error):
        raise bad_cursor() from None
    if not 0 <= value <= ID_MAX:
        raise bad_cursor()
    return value


def _encode_cursor(offset_id: int) -> str:
    return base64.urlsafe_b64encode(str(offset_id).encode("ascii")).decode("ascii")


@bp.get("/posts/<post_id>/comments")
@require_site
def list_post_comments(post_id: str) -> dict[str, Any]:
    """Return a post's approved comments, oldest thread first, replies nested."""
    site = current_principal().site
    session = get_session()
    after_id = _decode_cursor(request.args.get("cursor"))
    limit = parse_limit(request.args.get("limit"))
    approved = (
        Comment.site_id == site.id,
        Comment.post_id == post_id,
        Comment.status == Status.APPROVED,
    )
    roots = list(
        session.scalars(
            select(Comment)
            .where(*approved, Comment.parent_id.is_(None), Comment.id > after_id)
            .order_by(Comment.id)
            .limit(limit + 1)
        )
    )
    more = len(roots) > limit
    roots = roots[:limit]
    total = session.scalar(select(func.count()).where(*approved, Comment.parent_id.is_(None)))
    replies = _replies_of(session, approved, [root.id for root in roots])
    items = [_thread(root, replies) for root in roots]
    page = PostCommentsPage(
        post_id=post_id,
        items=items,
        total_threads=total or 0,
        next_cursor=_encode_cursor(roots[-1].id) if more else None,
    )
    return page.model_dump(mode="json")


def _replies_of(
    session: Session, approved: tuple[Any, ...], root_ids: list[int]
) -> dict[int, list[Comment]]:
    """Load every approved descendant of the given roots, grouped by parent id."""
    by_parent: dict[int, list[Comment]] = {}
    frontier = root_ids
    while frontier:
        children = list(
            session.scalars(
                select(Comment)
                .where(*approved, Comment.parent_id.in_(frontier))
                .order_by(Comment.id)
            )
        )
        for child in children:
            by_parent.setdefault(child.parent_id, []).append(child)
        frontier = [child.id for child in children]
    return by_parent


def _thread(comment: Comment, replies: dict[int, list[Comment]]) -> PublicComment:
    return PublicComment(
        id=comment.id,
        parent_id=comment.parent_id,
        author_name=comment.author_name,
        author_url=comment.author_url,
        content_html=comment.content_html,
        created_at=comment.created_at,
        replies=[_thread(child, replies) for child in replies.get(comment.id, [])],
    )
