"""The OpenAPI document, built from the same pydantic models that validate requests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from moderation.api.admin import ADMIN_MODELS
from moderation.api.admin import openapi_paths as admin_paths
from moderation.api.queue import QUEUE_MODELS
from moderation.api.queue import openapi_paths as queue_paths
from moderation.api.views import bp
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
]
REF = "#/components/schemas/{model}"

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


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}},
    }


def build_document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the site API."""
    _, defs = models_json_schema(
        [(model, "validation") for model in DOCUMENTED_MODELS],
        ref_template=REF,
    )
    schemas = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    body = {"$ref": REF.format(model="CommentIn")}
    return {
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
                        "201": _json(CommentOut, "Stored, with its decision."),
                        "400": _problem("Malformed body."),
                        "401": _problem("Missing, unknown or revoked key."),
                        "409": _problem("Duplicate comment."),
                        "413": _problem("Body over 1 MiB."),
                        "415": _problem("Not JSON or form-encoded."),
                        "422": _problem("Invalid fields, named in errors."),
                        "429": _problem("Flood: see Retry-After."),
                        "503": _problem("Database unavailable: see Retry-After."),
                    },
                }
            },
            "/api/v1/comments/{comment_id}": {
                "get": {
                    "operationId": "get_comment",
                    "parameters": [_path_param("comment_id", "integer")],
                    "responses": {
                        "200": _json(CommentOut, "The comment."),
                        "404": _problem("No such comment for this caller."),
                    },
                }
            },
            "/api/v1/posts/{post_id}/comments": {
                "get": {
                    "operationId": "list_post_comments",
                    "parameters": [
                        _path_param("post_id", "string"),
                        _query_param("cursor", "string"),
                        _query_param("limit", "integer"),
                    ],
                    "responses": {
                        "200": _json(PostCommentsPage, "Approved threads."),
                    },
                }
            },
            **queue_paths(),
            **admin_paths(),
        },
    }


def _path_param(name: str, kind: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _query_param(name: str, kind: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": kind}}


@bp.get("/openapi.json")
def openapi_document() -> dict[str, Any]:
    """Serve the OpenAPI document (public: it holds no data)."""
    return build_document()
