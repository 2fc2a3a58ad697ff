"""What a database column can hold: ids in range and text without NUL or lone surrogates.

The one place for both: path ids (the `int` URL converter), integers in bodies
(`StoredId`), cursors and Akismet's guid (`parse_id`), and text in query strings, path
segments, form fields and JSON bodies (`check_request_text`, `check_body_text`).
PostgreSQL refuses NUL in text and integers past 2**31 - 1; SQLite refuses integers past
2**63 - 1. Both would answer 500 if such a value reached a query.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Annotated
from typing import Any

from flask import Flask
from flask import request
from pydantic import BeforeValidator
from pydantic import Field
from werkzeug.routing import IntegerConverter

from moderation.problems import invalid

# Every id column is an INTEGER: PostgreSQL's signed 32-bit range bounds them all.
ID_MAX = 2**31 - 1
INT_MAX = ID_MAX
NUL_MESSAGE = "contains a NUL character, which cannot be stored"
SURROGATE_MESSAGE = "contains an unpaired surrogate (invalid Unicode)"
BODY_PREFIXES = ("/api/", "/1.1/")  # these read their bodies through moderation.bodies


# 1 to 2147483647 without leading zeros, as a regex: a number out of range must not match
# the route's pattern at all, or werkzeug answers 405 where another method's rule matched.
ID_REGEX = (
    r"(?:[1-9]\d{0,8}|1\d{9}|20\d{8}|21[0-3]\d{7}|214[0-6]\d{6}|2147[0-3]\d{5}"
    r"|21474[0-7]\d{4}|214748[0-2]\d{3}|2147483[0-5]\d{2}|21474836[0-3]\d|214748364[0-7])"
)


class IdConverter(IntegerConverter):
    """The `int` URL converter for ids: 1 to ID_MAX, else the route does not match (404)."""

    regex = ID_REGEX

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)


def in_id_range(value: int) -> bool:
    """Return whether `value` can be an id (1 to ID_MAX)."""
    return 1 <= value <= ID_MAX


def parse_id(raw: str | None) -> int | None:
    """Return the id written in `raw` (ASCII digits, 1 to ID_MAX), else None."""
    if raw is None:
        return None
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(ID_MAX)):
        return None
    value = int(raw)
    return value if in_id_range(value) else None


def whole_number(value: Any) -> Any:
    """Return a float with no fraction as an int (a BeforeValidator for integer fields)."""
    # JSON Schema counts 73730.0 as an integer; pydantic's strict mode does not.
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


# An id in a body: a JSON integer (or a float with no fraction), 1 to ID_MAX.
StoredId = Annotated[int, Field(ge=1, le=ID_MAX, strict=True), BeforeValidator(whole_number)]


def text_problem(value: str) -> str | None:
    """Return why `value` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return NUL_MESSAGE
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


def _strings(body: Any) -> Iterator[tuple[str, str]]:
    # A stack, not recursion: a body nested as deep as the JSON decoder allows is fine.
    stack: list[tuple[str, Any]] = [("", body)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            yield path, value
        elif isinstance(value, Mapping):
            for key, item in value.items():
                yield path or "body", str(key)
                stack.append((f"{path}.{key}" if path else str(key), item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))


def check_body_text(body: Any) -> None:
    """Raise the 422 naming each field of a parsed body whose text cannot be stored."""
    errors: dict[str, list[str]] = {}
    for path, text in _strings(body):
        problem = text_problem(text)
        if problem is not None:
            errors.setdefault(path or "body", []).append(problem)
    if errors:
        raise invalid(errors)


def check_request_text() -> None:
    """Refuse (422) path segments, query arguments and page form fields that cannot be stored."""
    fields: list[tuple[str, Any]] = list((request.view_args or {}).items())
    fields += request.args.items(multi=True)
    if not request.path.startswith(BODY_PREFIXES) and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        request.get_data(cache=True)  # keeps the raw body readable after the form is parsed
        fields += request.form.items(multi=True)
    errors: dict[str, list[str]] = {}
    for name, value in fields:
        for problem in {text_problem(name), isinstance(value, str) and text_problem(value)}:
            if problem:
                errors.setdefault(name, []).append(problem)
    if errors:
        raise invalid(errors)


def init_app(app: Flask) -> None:
    """Bound the `int` URL converter to ids and check the text of every request."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(check_request_text)
