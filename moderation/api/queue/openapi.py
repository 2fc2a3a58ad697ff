"""The moderator part of the OpenAPI document (moderation/api/openapi.py adds it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from moderation.api.queue.schemas import ALL_STATUSES
from moderation.api.queue.schemas import BulkDecisionIn
from moderation.api.queue.schemas import BulkDecisionOut
from moderation.api.queue.schemas import CommentHistory
from moderation.api.queue.schemas import DecisionIn
from moderation.api.queue.schemas import DecisionOut
from moderation.api.queue.schemas import QueuePageOut
from moderation.queue import Action
from moderation.tables import Status

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
