"""The moderator part of the OpenAPI document (moderation/api/openapi.py adds it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from moderation.api.openapi_parts import json_body
from moderation.api.openapi_parts import json_response
from moderation.api.openapi_parts import limit_param
from moderation.api.openapi_parts import param
from moderation.api.openapi_parts import problems
from moderation.api.queue.schemas import ALL_STATUSES
from moderation.api.queue.schemas import BulkDecisionIn
from moderation.api.queue.schemas import BulkDecisionOut
from moderation.api.queue.schemas import CommentHistory
from moderation.api.queue.schemas import DecisionIn
from moderation.api.queue.schemas import DecisionOut
from moderation.api.queue.schemas import QueuePageOut
from moderation.api.queue.schemas import UndoIn
from moderation.decisions import REASON_LABELS
from moderation.queue import Action
from moderation.queue import Sort
from moderation.tables import Status

QUEUE_MODELS: list[type[BaseModel]] = [
    DecisionIn,
    BulkDecisionIn,
    QueuePageOut,
    CommentHistory,
    DecisionOut,
    BulkDecisionOut,
    UndoIn,
]


def openapi_paths() -> dict[str, Any]:
    """Return the OpenAPI path items of the moderator endpoints."""
    auth = problems(
        _401="No token or session.",
        _403="Not a moderator or admin.",
    )
    comment_id = param("comment_id", "path", "integer", "The comment.")
    decision_body = json_body(DecisionIn)
    return {
        "/api/v1/queue": {
            "get": {
                "operationId": "list_queue",
                "summary": "List the review queue, newest first or as sorted (keyset pagination).",
                "description": "Filters combine (AND). next_cursor continues the same sort"
                " and filters; a cursor of another sort is refused (422). The pending"
                " count is exact (unless q is given); the others stop at count_limit"
                " (see exact_counts).",
                "parameters": [
                    param(
                        "status",
                        "query",
                        "string",
                        "Which status (default pending).",
                        enum=[*(s.value for s in Status), ALL_STATUSES],
                    ),
                    param("post_id", "query", "string", "Only this post."),
                    param("site", "query", "string", "Only this site (by name)."),
                    param("q", "query", "string", "Search author name, email and text."),
                    param("author", "query", "string", "Only this author (exact email)."),
                    param(
                        "ip",
                        "query",
                        "string",
                        "Only from this IP address (v4 or v6).",
                        anyOf=[{"format": "ipv4"}, {"format": "ipv6"}],
                    ),
                    param(
                        "reason",
                        "query",
                        "string",
                        "Only comments held or decided for this reason (its code).",
                        enum=sorted(str(code) for code in REASON_LABELS),
                    ),
                    param(
                        "sort",
                        "query",
                        "string",
                        "newest (default) or oldest first, by arrival; score: highest"
                        " spam score first, unscored last.",
                        enum=[s.value for s in Sort],
                    ),
                    param(
                        "cursor",
                        "query",
                        "string",
                        "next_cursor of the previous page (same sort).",
                    ),
                    limit_param("Page size."),
                ],
                "responses": {
                    "200": json_response(QueuePageOut, "A page and the counts per status."),
                    **problems(_400="Bad cursor or limit.", _422="Bad filter, named."),
                    **auth,
                },
            }
        },
        "/api/v1/comments/{comment_id}/{action}": {
            "post": {
                "operationId": "decide_comment",
                "summary": "Approve, reject, mark as spam ('not spam' = approve) or put"
                " back to pending.",
                "description": "Send the version seen (body or If-Match: the ETag); a"
                " comment changed meanwhile answers 409 and nothing changes. `pending`"
                " puts a decided comment back in the queue (undo); it is recorded in the"
                " audit trail and is no label for retraining. A site key may decide on its own"
                " site's comments (the site is the audit event's actor).",
                "parameters": [
                    comment_id,
                    param("action", "path", "string", "", enum=[a.value for a in Action]),
                    param("If-Match", "header", "string", "The comment's ETag."),
                ],
                "requestBody": decision_body,
                "responses": {
                    "200": json_response(DecisionOut, "The comment after the decision."),
                    **problems(
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
                "description": "Each decision's action is approve, reject, spam or pending"
                " (back to pending).",
                "requestBody": json_body(BulkDecisionIn, required=True),
                "responses": {
                    "200": json_response(BulkDecisionOut, "Every decision applied."),
                    **problems(
                        _400="Malformed body, or a browser session without its CSRF token.",
                        _404="Unknown comments (errors names them); nothing applied.",
                        _409="Stale or clashing comments (errors names them); nothing applied.",
                        _422="Invalid fields, named in errors.",
                    ),
                    **auth,
                },
            }
        },
        "/api/v1/decisions/undo": {
            "post": {
                "operationId": "undo_decision",
                "summary": "Undo your latest decision that is still current.",
                "description": "Read from the audit trail, so it survives a reload: your"
                " latest decision (one comment, or every comment of one bulk request) of the"
                " last 24 hours whose comments nobody else changed since goes back to the"
                " statuses they had, with the note 'undo'. Calling it again undoes the"
                " decision before (up to your last 50). Decisions made with a site key"
                " cannot be undone here.",
                "requestBody": json_body(UndoIn),
                "responses": {
                    "200": json_response(BulkDecisionOut, "The comments put back."),
                    **problems(
                        _400="Malformed body, or a browser session without its CSRF token.",
                        _404="Nothing to undo.",
                        _409="A comment changed meanwhile, or a duplicate would be restored;"
                        " nothing changed.",
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
                    "200": json_response(CommentHistory, "The comment and its history."),
                    **problems(_404="No such comment."),
                    **auth,
                },
            }
        },
    }
