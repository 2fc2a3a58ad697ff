"""Request and response shapes (pydantic): the code that validates also writes OpenAPI."""

from __future__ import annotations

import ipaddress
import unicodedata
from datetime import datetime
from typing import Annotated
from typing import Any
from typing import TypeVar
from urllib.parse import urlsplit

from email_validator import EmailNotValidError
from email_validator import validate_email
from pydantic import AfterValidator
from pydantic import BaseModel
from pydantic import BeforeValidator
from pydantic import ConfigDict
from pydantic import Field
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from moderation.decisions import REASON_LABELS
from moderation.problems import invalid
from moderation.storable import StoredId

M = TypeVar("M", bound=BaseModel)

# WordPress's column limits (wp_comments), counted in characters after trimming.
NAME_MAX = 245
EMAIL_MAX = 100
URL_MAX = 200
CONTENT_MAX = 65525
# Format characters that names and addresses legitimately need: ZWNJ (Persian, ...)
# and ZWJ (emoji sequences). Bidi overrides and other invisibles are refused.
ALLOWED_FORMAT_CHARS = frozenset("\u200c\u200d")
CONTENT_CONTROLS = frozenset("\t\n\r")
# What the document says of the checks below (JSON Schema patterns): no control
# characters (content may hold tab, LF, CR) and, where required, one visible character.
# The invisible and unassigned characters refused on one-line fields are only described.
_LINE = r"[^\x00-\x1f\x7f-\x9f]"
_TEXT = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
LINE_PATTERN = f"^{_LINE}*$"
REQUIRED_LINE_PATTERN = rf"^{_LINE}*[^\s\x00-\x1f\x7f-\x9f]{_LINE}*$"
REQUIRED_TEXT_PATTERN = rf"^{_TEXT}*[^\s\x00-\x1f\x7f-\x9f]{_TEXT}*$"
HTTP_URL_PATTERN = (
    r"^\s*[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]*[A-Za-z0-9](:[0-9]{1,5})?([/?#][!-~]*)?\s*$"
)
INVISIBLE = "Bidi controls, zero-width and unassigned characters are refused."


def _error(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def _check_chars(value: str, *, multiline: bool) -> str:
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            raise _error("surrogate", "contains an unpaired surrogate (invalid Unicode)")
        if char == "\x00":
            raise _error("nul", "contains a NUL character")
        if category == "Cc" and not (multiline and char in CONTENT_CONTROLS):
            raise _error("control", f"contains the control character U+{ord(char):04X}")
        invisible = category in ("Cf", "Co", "Cn", "Zl", "Zp")
        if not multiline and invisible and char not in ALLOWED_FORMAT_CHARS:
            raise _error(
                "invisible",
                f"contains the invisible or unassigned character U+{ord(char):04X}",
            )
    return value


def _line(value: str) -> str:
    return _check_chars(value, multiline=False)


def _multiline(value: str) -> str:
    return _check_chars(value, multiline=True)


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _not_blank(value: str) -> str:
    if not value:
        raise _error("blank", "must not be empty")
    return value


def _max_chars(limit: int) -> Any:
    def check(value: str) -> str:
        if len(value) > limit:
            raise _error("too_long", f"must be at most {limit} characters (got {len(value)})")
        return value

    return AfterValidator(check)


def _limit(limit: int, description: str = "", pattern: str = REQUIRED_LINE_PATTERN) -> Any:
    extra = {"maxLength": limit, "pattern": pattern}
    return Field(description=description or None, json_schema_extra=extra)


def _email(value: str) -> str:
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise _error("email", f"is not a valid email address: {exc}") from None
    return result.normalized


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        raise _error("url_scheme", "must be an http:// or https:// URL")
    if not parts.hostname:
        raise _error("url_host", "must name a host")
    return value


def _optional(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip() or None
    return value


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _error("ip", "is not an IPv4 or IPv6 address") from None


def _post_id(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise _error("post_id", "must not be negative")
        return str(value)
    return value


def _positive_int(value: Any) -> Any:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


Line = Annotated[str, AfterValidator(_line)]
Required = Annotated[str, BeforeValidator(_strip), AfterValidator(_not_blank)]

PostId = Annotated[
    str,
    BeforeValidator(_post_id),
    BeforeValidator(_strip),
    _max_chars(255),
    _limit(255),
    AfterValidator(_not_blank),
    AfterValidator(_line),
    Field(description="The site's id for the post (string or non-negative integer). " + INVISIBLE),
]
AuthorName = Annotated[
    str,
    BeforeValidator(_strip),
    _max_chars(NAME_MAX),
    _limit(NAME_MAX),
    AfterValidator(_not_blank),
    AfterValidator(_line),
]
AuthorEmail = Annotated[
    str,
    BeforeValidator(_strip),
    _max_chars(EMAIL_MAX),
    _limit(EMAIL_MAX),
    AfterValidator(_not_blank),
    AfterValidator(_line),
    AfterValidator(_email),
    Field(json_schema_extra={"format": "email"}),
]
Content = Annotated[
    str,
    BeforeValidator(_strip),
    _max_chars(CONTENT_MAX),
    _limit(CONTENT_MAX, pattern=REQUIRED_TEXT_PATTERN),
    AfterValidator(_not_blank),
    AfterValidator(_multiline),
]


def _optional_text(
    max_length: int, description: str, *checks: Any, pattern: str | None = LINE_PATTERN
) -> Any:
    extra: dict[str, Any] = {"maxLength": max_length}
    if pattern:
        extra["pattern"] = pattern
    text = Annotated[
        str,
        _max_chars(max_length),
        AfterValidator(_line),
        *(AfterValidator(check) for check in checks),
    ]
    return Annotated[
        text | None,
        BeforeValidator(_optional),
        Field(
            default=None,
            description=description,
            json_schema_extra=extra,
        ),
    ]


class CommentIn(BaseModel):
    """A comment as the site posts it (JSON or form-encoded)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    post_id: PostId
    author_name: AuthorName
    author_email: AuthorEmail
    content: Content
    author_url: _optional_text(
        URL_MAX, "The commenter's website (http or https).", _http_url, pattern=HTTP_URL_PATTERN
    )
    parent_id: Annotated[
        StoredId | None,
        BeforeValidator(_positive_int),
        BeforeValidator(_optional),
        Field(default=None, description="The id of the comment replied to (none: top level)."),
    ]
    author_ip: Annotated[
        _optional_text(45, "The commenter's IP address.", _ip, pattern=None),
        Field(
            json_schema_extra={
                "anyOf": [
                    {"type": "string", "format": "ipv4"},
                    {"type": "string", "format": "ipv6"},
                    {"type": "null"},
                ]
            }
        ),
    ]
    user_agent: _optional_text(500, "The commenter's browser User-Agent.")
    referrer: _optional_text(
        2000, "The page the commenter came from.", _http_url, pattern=HTTP_URL_PATTERN
    )
    permalink: _optional_text(2000, "The post's URL.", _http_url, pattern=HTTP_URL_PATTERN)


class Reason(BaseModel):
    """Why the decision step decided what it did."""

    code: str = Field(
        description="One of: "
        + "; ".join(f"`{code}` ({label})" for code, label in REASON_LABELS.items())
        + "."
    )
    detail: str = ""
    features: list[dict[str, Any]] | None = None


class CommentOut(BaseModel):
    """A stored comment as the API shows it."""

    id: int
    post_id: str
    parent_id: int | None
    author_name: str
    author_url: str | None
    status: str
    spam_score: float | None
    reasons: list[Reason]
    classifier_version: int | None
    content_html: str
    created_at: datetime
    updated_at: datetime
    version: int


class PublicComment(BaseModel):
    """An approved comment as a site renders it (no email or IP), with its replies."""

    id: int
    parent_id: int | None
    author_name: str
    author_url: str | None
    content_html: str
    created_at: datetime
    replies: list[PublicComment] = []


class PostCommentsPage(BaseModel):
    """One page of a post's approved comment threads."""

    post_id: str
    items: list[PublicComment]
    total_threads: int
    next_cursor: str | None


def error_map(exc: ValidationError) -> dict[str, list[str]]:
    """Turn pydantic's errors into {field: [message, ...]} keyed by the field name."""
    errors: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        field = str(loc[0]) if loc else "body"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "is not a known field"
        elif err["type"] == "missing":
            message = "is required"
        errors.setdefault(field, []).append(message)
    return errors


def validate_model(model: type[M], data: dict[str, Any]) -> M:
    """Validate `data` into `model` or raise the 422 problem naming each field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(error_map(exc)) from None
