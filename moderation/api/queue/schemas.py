"""Bodies and answers of the moderator endpoints (pydantic models; also the OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from typing import Any

from pydantic import BaseModel
from pydantic import BeforeValidator
from pydantic import ConfigDict
from pydantic import Field

from moderation import queue
from moderation.queue import Action
from moderation.schemas import CommentOut
from moderation.storable import StoredId

NOTE_MAX = 2000
ALL_STATUSES = "all"


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip() or None
    return value


Note = Annotated[
    Annotated[str, Field(max_length=NOTE_MAX)] | None,
    BeforeValidator(_blank_to_none),
    Field(default=None, description="Why (kept in the audit trail)."),
]
Version = Annotated[
    StoredId | None,
    Field(default=None, description="The version the moderator saw."),
]


class DecisionIn(BaseModel):
    """The optional body of a decision: a note and the version the moderator saw."""

    model_config = ConfigDict(extra="forbid")

    note: Note
    version: Version


class UndoIn(BaseModel):
    """The body of an undo: empty (or an empty object); it names nothing."""

    model_config = ConfigDict(extra="forbid")


class BulkDecisionItem(BaseModel):
    """One decision of a bulk request."""

    model_config = ConfigDict(extra="forbid")

    id: StoredId
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
    """One page of the review queue, in the order asked (newest first by default)."""

    status: str
    sort: str = Field(description="The order of items: newest, oldest or score.")
    items: list[QueueComment]
    next_cursor: str | None
    counts: StatusCounts
    count_limit: int = Field(
        description="Counts not in exact_counts stop here: such a count equal to it means at"
        " least that many."
    )
    exact_counts: list[str] = Field(
        description="The statuses whose counts are exact: pending, unless the query has q."
    )


class AuditEventOut(BaseModel):
    """One status change of a comment."""

    id: int
    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    note: str | None


class RevisionOut(BaseModel):
    """A text the comment had before its site edited it."""

    at: datetime
    actor: str
    content_raw: str
    content_html: str


class CommentHistory(BaseModel):
    """A comment and every change of its status, oldest first."""

    comment: QueueComment
    history: list[AuditEventOut]
    revisions: list[RevisionOut] = Field(
        default=[], description="Its earlier texts (before each edit by its site), oldest first."
    )


class DecisionOut(BaseModel):
    """The comment after a decision; changed is false when it already had that status."""

    changed: bool
    comment: QueueComment


class BulkDecisionOut(BaseModel):
    """The comments after a bulk decision, in the order asked."""

    changed: int
    items: list[DecisionOut]
