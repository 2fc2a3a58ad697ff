"""Moderator routes: the review queue, decisions (one or bulk) and a comment's history."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.http import parse_etags

from moderation import queue
from moderation.api.paging import bad_cursor
from moderation.api.paging import parse_limit
from moderation.api.queue.schemas import ALL_STATUSES
from moderation.api.queue.schemas import AuditEventOut
from moderation.api.queue.schemas import BulkDecisionIn
from moderation.api.queue.schemas import BulkDecisionOut
from moderation.api.queue.schemas import CommentHistory
from moderation.api.queue.schemas import DecisionIn
from moderation.api.queue.schemas import DecisionOut
from moderation.api.queue.schemas import ParentExcerpt
from moderation.api.queue.schemas import QueueComment
from moderation.api.queue.schemas import QueuePageOut
from moderation.api.queue.schemas import RevisionOut
from moderation.api.queue.schemas import StatusCounts
from moderation.api.queue.schemas import UndoIn
from moderation.api.views import bp
from moderation.auth import current_principal
from moderation.auth import require_moderator_or_site
from moderation.auth import require_role
from moderation.bodies import parse_json_object
from moderation.db import get_session
from moderation.decisions import REASON_LABELS
from moderation.editing import revisions
from moderation.problems import Problem
from moderation.problems import invalid
from moderation.queue import Action
from moderation.queue import Cursor
from moderation.queue import QueueFilter
from moderation.queue import QueuePage
from moderation.queue import Sort
from moderation.schemas import CommentOut
from moderation.schemas import validate_model
from moderation.storable import parse_id
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import Role
from moderation.tables import Status
from moderation.undo import undo_latest

AUTHOR_MAX = 100  # the length of comments.author_email


def etag_of(comment: Comment) -> str:
    """Return the quoted ETag naming this version of the comment."""
    return f'"{comment.id}-{comment.version}"'


def queue_comment(
    comment: Comment, sites: dict[int, str], parents: dict[int, Comment]
) -> QueueComment:
    """Serialize a comment for moderators."""
    parent = parents.get(comment.parent_id) if comment.parent_id is not None else None
    base = CommentOut.model_validate(comment, from_attributes=True).model_dump()
    return QueueComment(
        **base,
        site=sites.get(comment.site_id, str(comment.site_id)),
        author_email=comment.author_email,
        author_ip=comment.author_ip,
        user_agent=comment.user_agent,
        referrer=comment.referrer,
        permalink=comment.permalink,
        parent=ParentExcerpt(
            id=parent.id,
            author_name=parent.author_name,
            status=str(parent.status),
            excerpt=queue.excerpt(parent),
        )
        if parent is not None
        else None,
        etag=etag_of(comment),
    )


def serialize(session: Session, comments: list[Comment]) -> list[QueueComment]:
    """Serialize several comments with their sites and parents (two extra queries)."""
    sites = queue.site_names(session)
    parents = queue.parents_of(session, comments)
    return [queue_comment(comment, sites, parents) for comment in comments]


def _bad_param(name: str, message: str) -> Problem:
    return invalid({name: [message]})


def parse_filter(session: Session, args: Any) -> QueueFilter:
    """Read status, post_id, site and q from query arguments (422 naming a bad one)."""
    raw_status = args.get("status", Status.PENDING.value)
    if raw_status == ALL_STATUSES:
        status = None
    elif raw_status in {s.value for s in Status}:
        status = Status(raw_status)
    else:
        choices = ", ".join([*(s.value for s in Status), ALL_STATUSES])
        raise _bad_param("status", f"must be one of {choices}")
    post_id = args.get("post_id") or None
    if post_id is not None and len(post_id) > 255:
        raise _bad_param("post_id", "must be at most 255 characters")
    site_id = None
    if site := args.get("site"):
        site_id = queue.find_site_id(session, site)
        if site_id is None:
            raise _bad_param("site", f"there is no site named {site!r}")
    q = (args.get("q") or "").strip() or None
    if q is not None and len(q) > queue.SEARCH_MAX:
        raise _bad_param("q", f"must be at most {queue.SEARCH_MAX} characters")
    author = (args.get("author") or "").strip() or None
    if author is not None and len(author) > AUTHOR_MAX:
        raise _bad_param("author", f"must be an email address of at most {AUTHOR_MAX} characters")
    ip = (args.get("ip") or "").strip() or None
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise _bad_param("ip", "must be an IPv4 or IPv6 address") from None
    reason = args.get("reason") or None
    if reason is not None and reason not in REASON_LABELS:
        raise _bad_param("reason", "must be one of " + ", ".join(sorted(REASON_LABELS)))
    return QueueFilter(
        status=status,
        post_id=post_id,
        site_id=site_id,
        q=q,
        author_email=author,
        author_ip=ip,
        reason=reason,
    )


def parse_sort(args: Any) -> Sort:
    """Read the sort argument (default newest), or raise 422 naming the choices."""
    raw = args.get("sort") or Sort.NEWEST.value
    try:
        return Sort(raw)
    except ValueError:
        raise _bad_param("sort", "must be one of " + ", ".join(s.value for s in Sort)) from None


def parse_cursor(raw: str | None) -> Cursor | None:
    """Decode the cursor argument, or raise 400."""
    if not raw:
        return None
    try:
        return Cursor.decode(raw)
    except ValueError:
        raise bad_cursor() from None


def count_limit() -> int:
    """Return where the counts per status stop (config QUEUE_COUNT_LIMIT)."""
    return int(current_app.config["QUEUE_COUNT_LIMIT"])


@dataclass(frozen=True)
class QueueView:
    """The queue page a request asks for, with its counts (for the API and the page)."""

    status: str
    sort: Sort
    page: QueuePage
    counts: dict[Status, int]
    cap: int
    exact: frozenset[Status]


# The pending count is exact (the queue's length); the others stop at the cap. A text
# search caps it too: '%word%' over every pending comment is what the cap is for.
EXACT_COUNTS = frozenset({Status.PENDING})


def load_queue_view(session: Session, args: Mapping[str, str]) -> QueueView:
    """Parse the queue query (filters, sort, cursor, limit) and load that page."""
    queue_filter = parse_filter(session, args)
    sort = parse_sort(args)
    cursor = parse_cursor(args.get("cursor"))
    if cursor is not None and cursor.sort is not sort:
        raise _bad_param("cursor", f"belongs to sort={cursor.sort}, not sort={sort}")
    page = queue.list_queue(
        session, queue_filter, cursor=cursor, limit=parse_limit(args.get("limit")), sort=sort
    )
    cap = count_limit()
    exact = EXACT_COUNTS if queue_filter.q is None else frozenset()
    return QueueView(
        status=str(queue_filter.status) if queue_filter.status else ALL_STATUSES,
        sort=sort,
        page=page,
        counts=queue.count_by_status(session, queue_filter, limit=cap, exact=exact),
        cap=cap,
        exact=exact,
    )


@bp.get("/queue")
@require_role(Role.MODERATOR)
def list_queue() -> dict[str, Any]:
    """Return one page of the review queue with the counts per status."""
    session = get_session()
    view = load_queue_view(session, request.args)
    out = QueuePageOut(
        status=view.status,
        sort=str(view.sort),
        items=serialize(session, view.page.items),
        next_cursor=view.page.next_cursor.encode() if view.page.next_cursor else None,
        counts=StatusCounts(**{str(status): n for status, n in view.counts.items()}),
        count_limit=view.cap,
        exact_counts=sorted(str(status) for status in view.exact),
    )
    return out.model_dump(mode="json")


ETAG_VERSION = re.compile(r"^(\d+)-(\d+)$")


def _if_match_version(comment_id: int) -> int | None:
    """Return the version named by If-Match ('*' or absent: None), or raise."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    etags = parse_etags(header)
    if etags.star_tag:
        return None
    versions = set()
    for tag in etags.as_set(include_weak=True):
        match = ETAG_VERSION.match(tag or "")  # If-Match: "" names no version
        if match and parse_id(match.group(1)) == comment_id:
            version = parse_id(match.group(2))
            versions.add(version if version is not None else 0)  # 0: no version matches
    if len(versions) != 1:
        raise Problem(
            409,
            "Comment changed meanwhile",
            f"If-Match names no single version of comment {comment_id}; fetch it again.",
            type="/problems/stale-decision",
        )
    return versions.pop()


@bp.post("/comments/<int:comment_id>/<any(approve, reject, spam, pending):action>")
@require_moderator_or_site
def decide_comment(comment_id: int, action: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Approve, reject, mark as spam or put back to pending (409 if changed since `version`)."""
    body = validate_model(DecisionIn, parse_json_object(request))
    header_version = _if_match_version(comment_id)
    if body.version is not None and header_version is not None and body.version != header_version:
        raise invalid({"version": ["differs from the version named by If-Match"]})
    session = get_session()
    check_own_comment(session, comment_id)
    result = queue.apply_decision(
        session,
        comment_id,
        Action(action),
        body.version if body.version is not None else header_version,
        current_principal(),
        body.note,
    )
    session.commit()
    comment = serialize(session, [result.comment])[0]
    out = DecisionOut(changed=result.changed, comment=comment)
    return out.model_dump(mode="json"), 200, {"ETag": comment.etag}


@bp.post("/decisions")
@require_role(Role.MODERATOR)
def decide_comments() -> dict[str, Any]:
    """Apply several decisions, all or none (409 naming each comment that blocks them)."""
    body = validate_model(BulkDecisionIn, parse_json_object(request))
    session = get_session()
    results = queue.apply_decisions(
        session,
        [queue.DecisionRequest(d.id, d.action, d.version) for d in body.decisions],
        current_principal(),
        body.note,
    )
    session.commit()
    return _bulk_out(session, results)


def _bulk_out(session: Session, results: list[queue.DecisionResult]) -> dict[str, Any]:
    """Render the outcome of several decisions (a bulk decision, an undo)."""
    comments = serialize(session, [r.comment for r in results])
    out = BulkDecisionOut(
        changed=sum(r.changed for r in results),
        items=[
            DecisionOut(changed=r.changed, comment=c)
            for r, c in zip(results, comments, strict=True)
        ],
    )
    return out.model_dump(mode="json")


@bp.post("/decisions/undo")
@require_role(Role.MODERATOR)
def undo_decision() -> dict[str, Any]:
    """Undo the caller's latest decision that is still current (from the audit trail)."""
    validate_model(UndoIn, parse_json_object(request))
    session = get_session()
    results = undo_latest(session, current_principal())
    session.commit()
    return _bulk_out(session, results)


def check_own_comment(session: Session, comment_id: int) -> None:
    """Raise 404 when a site decides on a comment that is not its own (moderators pass)."""
    site = current_principal().site
    if site is None:
        return
    owner = session.scalar(select(Comment.site_id).where(Comment.id == comment_id))
    if owner != site.id:
        raise queue.not_found(comment_id)


def event_out(event: AuditEvent) -> AuditEventOut:
    """Serialize an audit event."""
    return AuditEventOut(
        id=event.id,
        at=event.at,
        actor=event.actor,
        from_status=str(event.from_status) if event.from_status else None,
        to_status=str(event.to_status),
        note=event.note,
    )


@bp.get("/comments/<int:comment_id>/history")
@require_role(Role.MODERATOR)
def comment_history(comment_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Return a comment as moderators see it, with every change of its status."""
    session = get_session()
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise queue.not_found(comment_id)
    out = CommentHistory(
        comment=serialize(session, [comment])[0],
        history=[event_out(e) for e in queue.history(session, comment_id)],
        revisions=[
            RevisionOut(
                at=r.at, actor=r.actor, content_raw=r.content_raw, content_html=r.content_html
            )
            for r in revisions(session, comment_id)
        ],
    )
    return out.model_dump(mode="json"), 200, {"ETag": etag_of(comment)}
