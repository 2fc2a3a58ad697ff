"""Moderator endpoints: the review queue, decisions (one or bulk) and a comment's history."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from typing import Any

from flask import current_app
from flask import request
from pydantic import BaseModel
from pydantic import BeforeValidator
from pydantic import ConfigDict
from pydantic import Field
from sqlalchemy.orm import Session
from werkzeug.http import parse_etags

from moderation import queue
from moderation.api.views import bp
from moderation.auth import current_principal
from moderation.auth import require_role
from moderation.bodies import parse_json_object
from moderation.db import get_session
from moderation.problems import Problem
from moderation.problems import invalid
from moderation.queue import Action
from moderation.queue import Cursor
from moderation.queue import QueueFilter
from moderation.queue import QueuePage
from moderation.schemas import CommentOut
from moderation.schemas import validate_model
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import Role
from moderation.tables import Status

NOTE_MAX = 2000
ALL_STATUSES = "all"


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip() or None
    return value


Note = Annotated[
    str | None,
    BeforeValidator(_blank_to_none),
    Field(default=None, max_length=NOTE_MAX, description="Why (kept in the audit trail)."),
]
Version = Annotated[
    int | None,
    Field(default=None, ge=1, strict=True, description="The version the moderator saw."),
]


class DecisionIn(BaseModel):
    """The optional body of a decision: a note and the version the moderator saw."""

    model_config = ConfigDict(extra="forbid")

    note: Note
    version: Version


class BulkDecisionItem(BaseModel):
    """One decision of a bulk request."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1, strict=True)
    action: Action
    version: Version


class BulkDecisionIn(BaseModel):
    """Several decisions, applied all or none."""

    model_config = ConfigDict(extra="forbid")

    decisions: list[BulkDecisionItem] = Field(min_length=1, max_length=queue.MAX_BULK)
    note: Note


class ParentExcerpt(BaseModel):
    """The comment a reply answers, as a plain-text excerpt."""

    id: int
    author_name: str
    status: str
    excerpt: str


class QueueComment(CommentOut):
    """A comment as moderators see it: everything, including email, IP and ETag."""

    site: str
    author_email: str
    author_ip: str | None
    user_agent: str | None
    referrer: str | None
    permalink: str | None
    parent: ParentExcerpt | None
    etag: str


class StatusCounts(BaseModel):
    """How many comments of each status match the filters (status aside)."""

    pending: int
    approved: int
    rejected: int
    spam: int


class QueuePageOut(BaseModel):
    """One page of the review queue, newest first."""

    status: str
    items: list[QueueComment]
    next_cursor: str | None
    counts: StatusCounts
    count_limit: int = Field(
        description="Counts stop here: a count equal to it means at least that many."
    )


class AuditEventOut(BaseModel):
    """One status change of a comment."""

    id: int
    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    note: str | None


class CommentHistory(BaseModel):
    """A comment and every change of its status, oldest first."""

    comment: QueueComment
    history: list[AuditEventOut]


class DecisionOut(BaseModel):
    """The comment after a decision; changed is false when it already had that status."""

    changed: bool
    comment: QueueComment


class BulkDecisionOut(BaseModel):
    """The comments after a bulk decision, in the order asked."""

    changed: int
    items: list[DecisionOut]


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
    return QueueFilter(status=status, post_id=post_id, site_id=site_id, q=q)


def parse_cursor(raw: str | None) -> Cursor | None:
    """Decode the cursor argument, or raise 400."""
    if not raw:
        return None
    try:
        return Cursor.decode(raw)
    except ValueError:
        raise Problem(400, "Bad cursor", "The cursor is not one this API gave.") from None


def count_limit() -> int:
    """Return where the counts per status stop (config QUEUE_COUNT_LIMIT)."""
    return int(current_app.config.get("QUEUE_COUNT_LIMIT", queue.COUNT_LIMIT))


def parse_limit(raw: str | None) -> int:
    """Return the page size asked for (1 to MAX_PAGE_SIZE), or raise 400."""
    config = current_app.config
    if raw is None:
        return config["PAGE_SIZE"]
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= config["MAX_PAGE_SIZE"]:
        raise Problem(
            400, "Bad limit", f"limit must be an integer from 1 to {config['MAX_PAGE_SIZE']}."
        )
    return int(raw)


@dataclass(frozen=True)
class QueueView:
    """The queue page a request asks for, with its capped counts (for the API and the page)."""

    status: str
    page: QueuePage
    counts: dict[Status, int]
    cap: int


def load_queue_view(session: Session, args: Mapping[str, str]) -> QueueView:
    """Parse the queue query (status, post_id, site, q, cursor, limit) and load that page."""
    queue_filter = parse_filter(session, args)
    page = queue.list_queue(
        session,
        queue_filter,
        cursor=parse_cursor(args.get("cursor")),
        limit=parse_limit(args.get("limit")),
    )
    cap = count_limit()
    return QueueView(
        status=str(queue_filter.status) if queue_filter.status else ALL_STATUSES,
        page=page,
        counts=queue.count_by_status(session, queue_filter, limit=cap),
        cap=cap,
    )


@bp.get("/queue")
@require_role(Role.MODERATOR)
def list_queue() -> dict[str, Any]:
    """Return one page of the review queue with the counts per status."""
    session = get_session()
    view = load_queue_view(session, request.args)
    out = QueuePageOut(
        status=view.status,
        items=serialize(session, view.page.items),
        next_cursor=view.page.next_cursor.encode() if view.page.next_cursor else None,
        counts=StatusCounts(**{str(status): n for status, n in view.counts.items()}),
        count_limit=view.cap,
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
        match = ETAG_VERSION.match(tag)
        if match and int(match.group(1)) == comment_id:
            versions.add(int(match.group(2)))
    if len(versions) != 1:
        raise Problem(
            409,
            "Comment changed meanwhile",
            f"If-Match names no single version of comment {comment_id}; fetch it again.",
            type="/problems/stale-decision",
        )
    return versions.pop()


@bp.post("/comments/<int:comment_id>/<any(approve, reject, spam):action>")
@require_role(Role.MODERATOR)
def decide_comment(comment_id: int, action: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Approve, reject or mark a comment as spam (409 if it changed since `version`)."""
    body = validate_model(DecisionIn, parse_json_object(request))
    header_version = _if_match_version(comment_id)
    if body.version is not None and header_version is not None and body.version != header_version:
        raise invalid({"version": ["differs from the version named by If-Match"]})
    session = get_session()
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
    comments = serialize(session, [r.comment for r in results])
    out = BulkDecisionOut(
        changed=sum(r.changed for r in results),
        items=[
            DecisionOut(changed=r.changed, comment=c)
            for r, c in zip(results, comments, strict=True)
        ],
    )
    return out.model_dump(mode="json")


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
    )
    return out.model_dump(mode="json"), 200, {"ETag": etag_of(comment)}


# --- OpenAPI: moderation/api/openapi.py adds these models and paths to its document ---

QUEUE_MODELS: list[type[BaseModel]] = [
    DecisionIn,
    BulkDecisionIn,
    QueuePageOut,
    CommentHistory,
    DecisionOut,
    BulkDecisionOut,
]
_REF = "#/components/schemas/{model}"
_PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _response(model: type[BaseModel], description: str) -> dict[str, Any]:
    schema = {"$ref": _REF.format(model=model.__name__)}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problems(**described: str) -> dict[str, Any]:
    return {
        code.lstrip("_"): {
            "description": text,
            "content": {"application/problem+json": {"schema": _PROBLEM}},
        }
        for code, text in described.items()
    }


def _param(name: str, where: str, kind: str, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": {"type": kind, **extra},
    }


def openapi_paths() -> dict[str, Any]:
    """Return the OpenAPI path items of the moderator endpoints."""
    auth = _problems(
        _401="No token or session.",
        _403="Not a moderator or admin.",
    )
    comment_id = _param("comment_id", "path", "integer", "The comment.")
    decision_body = {
        "required": False,
        "content": {"application/json": {"schema": {"$ref": _REF.format(model="DecisionIn")}}},
    }
    return {
        "/api/v1/queue": {
            "get": {
                "operationId": "list_queue",
                "summary": "List the review queue, newest first (keyset pagination).",
                "parameters": [
                    _param(
                        "status",
                        "query",
                        "string",
                        "Which status (default pending).",
                        enum=[*(s.value for s in Status), ALL_STATUSES],
                    ),
                    _param("post_id", "query", "string", "Only this post."),
                    _param("site", "query", "string", "Only this site (by name)."),
                    _param("q", "query", "string", "Search author name, email and text."),
                    _param("cursor", "query", "string", "next_cursor of the previous page."),
                    _param("limit", "query", "integer", "Page size.", minimum=1),
                ],
                "responses": {
                    "200": _response(QueuePageOut, "A page and the counts per status."),
                    **_problems(_400="Bad cursor or limit.", _422="Bad filter, named."),
                    **auth,
                },
            }
        },
        "/api/v1/comments/{comment_id}/{action}": {
            "post": {
                "operationId": "decide_comment",
                "summary": "Approve, reject or mark as spam ('not spam' = approve).",
                "description": "Send the version seen (body or If-Match: the ETag); a"
                " comment changed meanwhile answers 409 and nothing changes.",
                "parameters": [
                    comment_id,
                    _param("action", "path", "string", "", enum=[a.value for a in Action]),
                    _param("If-Match", "header", "string", "The comment's ETag."),
                ],
                "requestBody": decision_body,
                "responses": {
                    "200": _response(DecisionOut, "The comment after the decision."),
                    **_problems(
                        _400="Malformed body, or a browser session without its CSRF token.",
                        _404="No such comment.",
                        _409="Changed meanwhile, or a duplicate would be restored.",
                        _422="Invalid fields, named in errors.",
                    ),
                    **auth,
                },
            }
        },
        "/api/v1/decisions": {
            "post": {
                "operationId": "decide_comments",
                "summary": "Apply several decisions, all or none.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": _REF.format(model="BulkDecisionIn")}
                        }
                    },
                },
                "responses": {
                    "200": _response(BulkDecisionOut, "Every decision applied."),
                    **_problems(
                        _400="Malformed body, or a browser session without its CSRF token.",
                        _404="Unknown comments (errors names them); nothing applied.",
                        _409="Stale or clashing comments (errors names them); nothing applied.",
                        _422="Invalid fields, named in errors.",
                    ),
                    **auth,
                },
            }
        },
        "/api/v1/comments/{comment_id}/history": {
            "get": {
                "operationId": "comment_history",
                "summary": "A comment as moderators see it, with its audit trail.",
                "parameters": [comment_id],
                "responses": {
                    "200": _response(CommentHistory, "The comment and its history."),
                    **_problems(_404="No such comment."),
                    **auth,
                },
            }
        },
    }
