"""Site endpoint: replace a comment's text; the pipeline decides it again."""

from __future__ import annotations

from typing import Any

from flask import request
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

from moderation.api.comments import comment_out
from moderation.api.comments import load_comment
from moderation.api.openapi_parts import json_body
from moderation.api.openapi_parts import json_response
from moderation.api.openapi_parts import param
from moderation.api.openapi_parts import problems
from moderation.api.views import bp
from moderation.auth import current_principal
from moderation.auth import require_site
from moderation.bodies import parse_json_object
from moderation.classifier import get_holder
from moderation.db import get_session
from moderation.editing import edited_input
from moderation.editing import replace_content
from moderation.intake import assess
from moderation.schemas import CommentOut
from moderation.schemas import Content
from moderation.schemas import validate_model
from moderation.settings import current_settings
from moderation.storable import StoredId
from moderation.tables import utcnow


class ContentIn(BaseModel):
    """A comment's new text, and optionally the version the site last saw."""

    model_config = ConfigDict(extra="forbid")

    content: Content
    version: StoredId | None = Field(default=None, description="The version the site saw.")


class ContentOut(BaseModel):
    """The comment after the edit; changed is false when the text was the same."""

    changed: bool
    comment: CommentOut


EDIT_MODELS: list[type[BaseModel]] = [ContentIn, ContentOut]


@bp.put("/comments/<int:comment_id>/content")
@require_site
def replace_comment_content(comment_id: int) -> dict[str, Any]:
    """Replace a comment's text (its site only), check it again, keep the old text."""
    body = validate_model(ContentIn, parse_json_object(request))
    session = get_session()
    comment = load_comment(session, comment_id)
    data = edited_input(comment, body.content)
    settings = current_settings(session)
    result = replace_content(
        session,
        current_principal().site,
        comment,
        data,
        assess(get_holder(), data, settings),
        settings=settings,
        expected_version=body.version,
        now=utcnow(),
    )
    session.commit()
    return ContentOut(changed=result.changed, comment=comment_out(result.comment)).model_dump(
        mode="json"
    )


def openapi_paths() -> dict[str, Any]:
    """Return the OpenAPI path item of the edit endpoint."""
    return {
        "/api/v1/comments/{comment_id}/content": {
            "put": {
                "operationId": "replace_comment_content",
                "summary": "Replace a comment's text (site key, its own comments).",
                "description": "The intake's pipeline (sanitize, rules, score, decide) runs"
                " again on the new text and sets the comment's status; the old text is kept"
                " (the comment's revisions, in its history and a commenter's export).",
                "parameters": [param("comment_id", "path", "integer", "The comment.")],
                "requestBody": json_body(ContentIn, required=True),
                "responses": {
                    "200": json_response(ContentOut, "The comment after the edit."),
                    **problems(
                        _400="Malformed body.",
                        _401="Missing, unknown or revoked key.",
                        _403="Not a site key.",
                        _404="No such comment of this site.",
                        _409="Changed meanwhile, or the new text duplicates a comment.",
                        _413="Body over 1 MiB.",
                        _415="Not JSON.",
                        _422="Invalid fields, named in errors.",
                    ),
                },
            }
        }
    }
