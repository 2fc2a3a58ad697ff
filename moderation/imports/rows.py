"""Import rows: the fields a site's past comment carries, read from CSV, JSON(L) or WXR.

Each row is validated like a posted comment (the same field types and limits), and every
error is keyed by where the row is: `line N: field` (CSV, JSONL, WXR) or `row N: field`
(the JSON body's `comments` list, counted from 0).
"""

from __future__ import annotations

import csv
import enum
import io
import re
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Annotated
from typing import Any

from pydantic import BaseModel
from pydantic import BeforeValidator
from pydantic import ConfigDict
from pydantic import Field
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from moderation.bodies import parse_json
from moderation.imports.parents import cycle_errors
from moderation.imports.wxr import UTF16_BOMS
from moderation.imports.wxr import WxrError
from moderation.imports.wxr import read_wxr
from moderation.imports.wxr import wordpress_accepts_email
from moderation.problems import Problem
from moderation.schemas import EMAIL_MAX
from moderation.schemas import NAME_MAX
from moderation.schemas import URL_MAX
from moderation.schemas import Content
from moderation.schemas import PostId
from moderation.schemas import _email
from moderation.schemas import _http_url
from moderation.schemas import _ip
from moderation.schemas import _optional_text
from moderation.schemas import error_map
from moderation.tables import Status

EXTERNAL_ID_MAX = 100
# A past comment was posted between the Unix epoch and now (a day's grace for clocks).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
CLOCK_GRACE = timedelta(days=1)


class ImportFormat(enum.StrEnum):
    """The history formats: a JSON body, JSON lines, CSV with a header, WordPress's WXR."""

    JSON = "json"
    JSONL = "jsonl"
    CSV = "csv"
    WXR = "wxr"


# The body's Content-Type picks the format (the API); the CLI takes --format or the suffix.
MEDIA_TYPES = {
    "application/json": ImportFormat.JSON,
    "application/x-ndjson": ImportFormat.JSONL,
    "application/jsonl": ImportFormat.JSONL,
    "text/csv": ImportFormat.CSV,
    "application/xml": ImportFormat.WXR,
    "text/xml": ImportFormat.WXR,
}
SUFFIXES = {
    ".json": ImportFormat.JSON,
    ".jsonl": ImportFormat.JSONL,
    ".ndjson": ImportFormat.JSONL,
    ".csv": ImportFormat.CSV,
    ".xml": ImportFormat.WXR,
    ".wxr": ImportFormat.WXR,
}


class ImportStatus(enum.StrEnum):
    """A past comment's final status on the site; trash is stored as rejected."""

    APPROVED = "approved"
    SPAM = "spam"
    TRASH = "trash"
    REJECTED = "rejected"
    PENDING = "pending"

    @property
    def status(self) -> Status:
        """Return the status the comment is stored with."""
        return Status.REJECTED if self is ImportStatus.TRASH else Status(self.value)


def _error(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def _site_id(value: Any) -> Any:
    """Return the site's own comment id as a string (it may be given as an integer)."""
    if isinstance(value, bool):
        raise _error("site_id", "must be a string or an integer")
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise _error("site_id", "must be a string or an integer")
    value = value.strip()
    if not value:
        raise _error("blank", "must not be empty")
    if len(value) > EXTERNAL_ID_MAX:
        raise _error("too_long", f"must be at most {EXTERNAL_ID_MAX} characters")
    if not value.isprintable():
        raise _error("control", "must be printable")
    return value


def _optional_site_id(value: Any) -> Any:
    if value is None or value == 0 or (isinstance(value, str) and value.strip() in ("", "0")):
        return None  # WordPress writes 0 for "no parent"
    return _site_id(value)


def _status(value: Any) -> Any:
    # Only a string names a status: an object, a list or a number is not one.
    names = [s.value for s in ImportStatus]
    if isinstance(value, str) and value.strip().lower() in names:
        return ImportStatus(value.strip().lower())
    raise _error("status", f"must be one of {', '.join(names)}")


def _created_at(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise _error("datetime", "must be an ISO 8601 date and time")
    try:
        moment = datetime.fromisoformat(value.strip())
        # A time without an offset is read as UTC (WordPress's comment_date_gmt).
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except ValueError:
        raise _error("datetime", "must be an ISO 8601 date and time") from None
    except OverflowError:  # year 1 or 9999 moved past the calendar by its offset
        moment = None
    latest = datetime.now(UTC) + CLOCK_GRACE
    if moment is None or not EARLIEST <= moment <= latest:
        raise _error("datetime_range", f"must be between {EARLIEST:%Y-%m-%d} and now")
    return moment


def _optional_email(value: Any) -> Any:
    if isinstance(value, str) and value.strip():
        return _email(value.strip())
    return value


def _wordpress_email(value: Any) -> Any:
    """Keep an address WordPress's form accepted, as WordPress holds it, if ours refuses it."""
    if isinstance(value, str) and wordpress_accepts_email(value.strip()):
        try:
            return _email(value.strip())
        except PydanticCustomError:
            return value.strip()  # e.g. "john..doe@example.com": is_email() allows it
    return _optional_email(value)


SiteCommentId = Annotated[
    str,
    BeforeValidator(_site_id),
    Field(description="The site's own comment id (string or integer): the import key."),
]


class ImportRow(BaseModel):
    """One past comment of the site, with its final status."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: SiteCommentId
    post_id: PostId
    content: Content
    status: Annotated[ImportStatus, BeforeValidator(_status)]
    parent_id: Annotated[
        str | None,
        BeforeValidator(_optional_site_id),
        Field(default=None, description="The site's own id of the comment replied to."),
    ]
    # Pingbacks and old comments may lack a name or an address: empty is allowed.
    author_name: _optional_text(NAME_MAX, "The commenter's name.")
    author_email: _optional_text(EMAIL_MAX, "The commenter's address.", _optional_email)
    author_url: _optional_text(URL_MAX, "The commenter's website.", _http_url)
    author_ip: _optional_text(45, "The commenter's IP address.", _ip)
    user_agent: _optional_text(500, "The commenter's browser User-Agent.")
    created_at: Annotated[
        datetime | None,
        BeforeValidator(_created_at),
        Field(default=None, description="When it was posted (ISO 8601; UTC if no offset)."),
    ]


class WxrRow(ImportRow):
    """A comment of WordPress's export: its address is checked as WordPress checked it."""

    author_email: _optional_text(
        EMAIL_MAX, "The commenter's address (WordPress's is_email()).", _wordpress_email
    )


@dataclass(frozen=True)
class LocatedRow:
    """A valid row and where it was (e.g. `line 3`, `row 0`)."""

    where: str
    row: ImportRow


class RowsInvalid(ValueError):
    """Some rows are invalid: errors keyed `<where>: <field>`; nothing may be stored."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


class MalformedImport(ValueError):
    """The body as a whole cannot be read as its format (not one row's fault)."""


class ImportTooSlow(RuntimeError):
    """Reading or storing the rows ran past the import's time budget (nothing is kept)."""


def check_deadline(deadline: float | None) -> None:
    """Raise ImportTooSlow once `deadline` (a time.monotonic() value) has passed."""
    if deadline is not None and time.monotonic() > deadline:
        raise ImportTooSlow


@dataclass(frozen=True)
class FieldErrors:
    """A reader's complaints about one row's fields: {key: [message, ...]}."""

    errors: dict[str, list[str]]


def _text_errors(problem: Problem, key: Callable[[str], str]) -> FieldErrors | None:
    """Return the text problems (NUL, lone surrogates) of a parsed body, keyed by row."""
    errors: dict[str, list[str]] = {}
    for path, messages in (problem.extensions.get("errors") or {}).items():
        where = key(path)
        errors.setdefault(where, []).extend(messages)
    return FieldErrors(errors) if errors else None


_COMMENTS_PATH = re.compile(r"comments\[(\d+)\]\.?(.*)", re.DOTALL)


def _json_path(path: str) -> str:
    """Return `row N: field` for a path into the JSON body's `comments` list."""
    match = _COMMENTS_PATH.fullmatch(path)
    if match is None:
        return path
    return f"row {match[1]}: {match[2]}" if match[2] else f"row {match[1]}"


def _line_path(where: str) -> Callable[[str], str]:
    """Return the key maker of a JSON line's fields: `line N: field` (`line N` for keys)."""
    return lambda path: where if path == "body" else f"{where}: {path}"


def _decode(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedImport(f"The body is not valid UTF-8 (byte {exc.start}).") from None
    return text.removeprefix("\ufeff")


def _json_rows(raw: bytes) -> Iterator[tuple[str, Any]]:
    try:
        body = parse_json(raw)
    except Problem as problem:
        if (text := _text_errors(problem, _json_path)) is not None:
            raise RowsInvalid(text.errors) from None
        raise MalformedImport(problem.detail) from None
    if not isinstance(body, dict):
        raise MalformedImport('The JSON body must be an object: {"comments": [row, ...]}.')
    comments = body.get("comments")
    if not isinstance(comments, list):
        raise RowsInvalid({"comments": ["is required: a list of rows"]})
    if unknown := sorted(body.keys() - {"comments"}):
        raise RowsInvalid({key: ["is not a known field"] for key in unknown})
    for index, record in enumerate(comments):
        yield f"row {index}", record


def _jsonl_rows(raw: bytes) -> Iterator[tuple[str, Any]]:
    text = _decode(raw)
    if not text.strip():
        raise MalformedImport("The JSON lines body is empty: send one row per line.")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            yield where, parse_json(line.encode("utf-8"))
        except Problem as problem:
            yield where, _text_errors(problem, _line_path(where)) or problem.detail


def _csv_rows(raw: bytes) -> Iterator[tuple[str, Any]]:
    reader = csv.reader(io.StringIO(_decode(raw), newline=""))
    try:
        header = next(reader, None)
        if not header:
            raise MalformedImport("The CSV body has no header row.")
        header = [name.strip() for name in header]
        complaints = []
        if unknown := [name for name in header if name not in ImportRow.model_fields]:
            complaints.append(f"unknown column(s): {', '.join(unknown)}")
        if repeated := sorted({name for name in header if header.count(name) > 1}):
            # Which of two cells would win is a guess: name the column instead.
            complaints.append(f"repeats column(s): {', '.join(repeated)}")
        if complaints:
            yield "line 1", FieldErrors({"line 1": complaints})
        start = reader.line_num + 1
        for record in reader:
            where, start = f"line {start}", reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                yield where, f"has {len(record)} cells; the header has {len(header)}"
                continue
            yield where, {k: v for k, v in zip(header, record, strict=True) if v.strip()}
    except csv.Error as exc:
        raise MalformedImport(
            f"The CSV body is malformed (line {reader.line_num}): {exc}"
        ) from None


def _wxr_rows(raw: bytes) -> Iterator[tuple[str, Any]]:
    try:
        rows = read_wxr(raw)
    except WxrError as exc:
        raise MalformedImport(f"The WXR file is {exc}") from None
    for line, record in rows:
        yield f"line {line}", record


MODELS: dict[ImportFormat, type[ImportRow]] = {ImportFormat.WXR: WxrRow}
READERS = {
    ImportFormat.JSON: _json_rows,
    ImportFormat.JSONL: _jsonl_rows,
    ImportFormat.CSV: _csv_rows,
    ImportFormat.WXR: _wxr_rows,
}


def read_rows(raw: bytes, fmt: ImportFormat, *, deadline: float | None = None) -> list[LocatedRow]:
    """Read and validate every row; raise RowsInvalid naming each bad row and field.

    :raises MalformedImport: the body cannot be read as the format at all.
    :raises ImportTooSlow: reading ran past `deadline` (a time.monotonic() value).
    """
    if fmt is not ImportFormat.WXR and raw.startswith(UTF16_BOMS):
        # XML names its own encoding; the other formats are UTF-8 only.
        raise MalformedImport(
            "The body is not valid UTF-8: it starts with a UTF-16 byte order mark (send UTF-8)."
        )
    rows: list[LocatedRow] = []
    errors: dict[str, list[str]] = {}
    first_seen: dict[str, str] = {}
    model = MODELS.get(fmt, ImportRow)
    for where, record in READERS[fmt](raw):
        check_deadline(deadline)
        if isinstance(record, str):  # the reader's own complaint about this row
            errors[where] = [record]
            continue
        if isinstance(record, FieldErrors):
            errors.update(record.errors)
            continue
        if not isinstance(record, dict):
            errors[where] = ["must be an object of row fields"]
            continue
        try:
            row = model.model_validate(record)
        except ValidationError as exc:
            for field, messages in error_map(exc).items():
                errors[f"{where}: {field}"] = messages
            continue
        if row.id in first_seen:
            errors[f"{where}: id"] = [f"repeats the id of {first_seen[row.id]}"]
            continue
        first_seen[row.id] = where
        rows.append(LocatedRow(where, row))
    errors.update(cycle_errors(rows))
    if errors:
        raise RowsInvalid(errors)
    return rows
