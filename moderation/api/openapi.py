"""The OpenAPI document, built from the same pydantic models that validate requests."""

from __future__ import annotations

from typing import Any

from flask import current_app
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from moderation.api.admin import ADMIN_MODELS
from moderation.api.admin import openapi_paths as admin_paths
from moderation.api.edits import EDIT_MODELS
from moderation.api.edits import openapi_paths as edit_paths
from moderation.api.openapi_parts import REF
from moderation.api.openapi_parts import complete_responses
from moderation.api.openapi_parts import json_response
from moderation.api.openapi_parts import limit_param
from moderation.api.openapi_parts import mark_nul_free
from moderation.api.openapi_parts import param
from moderation.api.openapi_parts import problem
from moderation.api.openapi_parts import ref
from moderation.api.privacy import PRIVACY_MODELS
from moderation.api.privacy import openapi_paths as privacy_paths
from moderation.api.queue import QUEUE_MODELS
from moderation.api.queue import openapi_paths as queue_paths
from moderation.api.views import bp
from moderation.api.webhooks_openapi import WEBHOOK_MODELS
from moderation.api.webhooks_openapi import openapi_paths as webhook_paths
from moderation.schemas import CommentIn
from moderation.schemas import CommentOut
from moderation.schemas import PostCommentsPage

# Extra models other modules document (queue, decisions, admin) register here.
DOCUMENTED_MODELS: list[type[BaseModel]] = [
    CommentIn,
    CommentOut,
    PostCommentsPage,
    *QUEUE_MODELS,
    *ADMIN_MODELS,
    *EDIT_MODELS,
    *PRIVACY_MODELS,
    *WEBHOOK_MODELS,
]

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}


def build_document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the site API."""
    _, defs = models_json_schema(
        [(model, "validation") for model in DOCUMENTED_MODELS],
        ref_template=REF,
    )
    schemas = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    body = ref(CommentIn)
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Comment moderation API", "version": "1"},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/comments": {
                "post": {
                    "operationId": "create_comment",
                    "summary": "Submit a comment (site key).",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": body},
                            "application/x-www-form-urlencoded": {"schema": body},
                        },
                    },
                    "responses": {
                        "201": json_response(CommentOut, "Stored, with its decision."),
                        "400": problem("Malformed body."),
                        "401": problem("Missing, unknown or revoked key."),
                        "409": problem("Duplicate comment."),
                        "413": problem("Body over 1 MiB."),
                        "415": problem("Not JSON or form-encoded."),
                        "422": problem("Invalid fields, named in errors."),
                        "429": problem("Flood: see Retry-After."),
                        "503": problem("Database unavailable: see Retry-After."),
                    },
                }
            },
            "/api/v1/comments/{comment_id}": {
                "get": {
                    "operationId": "get_comment",
                    "parameters": [param("comment_id", "path", "integer", "The comment.")],
                    "responses": {
                        "200": json_response(CommentOut, "The comment."),
                        "404": problem("No such comment for this caller."),
                    },
                }
            },
            "/api/v1/posts/{post_id}/comments": {
                "get": {
                    "operationId": "list_post_comments",
                    "parameters": [
                        param("post_id", "path", "string", "The site's id for the post."),
                        param("cursor", "query", "string", "next_cursor of the previous page."),
                        limit_param("Threads per page."),
                    ],
                    "responses": {
                        "200": json_response(PostCommentsPage, "Approved threads."),
                    },
                }
            },
            **queue_paths(),
            **admin_paths(),
            **edit_paths(),
            **privacy_paths(),
            **webhook_paths(),
        },
    }
    complete_responses(document["paths"])
    return mark_nul_free(document)


OPENAPI_DOCUMENT = "moderation.openapi_document"


@bp.get("/openapi.json")
def openapi_document() -> dict[str, Any]:
    """Serve the OpenAPI document (public: it holds no data), built once per process."""
    # Building it takes tens of milliseconds of CPU, and it only changes with the code.
    if OPENAPI_DOCUMENT not in current_app.extensions:
        current_app.extensions[OPENAPI_DOCUMENT] = build_document()
    return current_app.extensions[OPENAPI_DOCUMENT]
