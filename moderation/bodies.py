"""Request bodies: strict JSON or form-encoded parsing with clear 4xx problems."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from flask import Request

from moderation.problems import Problem
from moderation.storable import check_body_text

MAX_FIELDS = 64


def _bad_body(detail: str) -> Problem:
    return Problem(400, "Malformed body", detail, type="/problems/malformed-body")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse_json(raw: bytes) -> Any:
    """Decode strict JSON: UTF-8 only, no NaN/Infinity, no duplicate keys, storable text.

    Pathological nesting ends in the decoder's RecursionError, answered as a 400.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad_body(f"The body is not valid UTF-8 (byte {exc.start}).") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        body = json.loads(
            text,
            parse_constant=_reject_constant,
            object_pairs_hook=_pairs_without_duplicates,
        )
    except (ValueError, RecursionError) as exc:
        raise _bad_body(f"The body is not valid JSON: {exc}") from None
    check_body_text(body)
    return body


def parse_form(raw: bytes, max_fields: int = MAX_FIELDS) -> dict[str, str]:
    """Decode an application/x-www-form-urlencoded body; UTF-8 only, no repeated field."""
    try:
        text = raw.decode("ascii")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            encoding="utf-8",
            errors="strict",
            max_num_fields=max_fields,
        )
    except UnicodeDecodeError:
        raise _bad_body("The form body is not valid percent-encoded UTF-8.") from None
    except ValueError as exc:
        raise _bad_body(f"The form body is malformed: {exc}") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise _bad_body(f"The field {key!r} is given more than once.")
        form[key] = value
    check_body_text(form)
    return form


def _unsupported(request: Request, accepted: str) -> Problem:
    return Problem(
        415,
        "Unsupported Media Type",
        f"Content-Type {request.mimetype or 'none'} is not accepted: send {accepted}.",
    )


def _require_utf8(request: Request) -> None:
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise Problem(415, "Unsupported Media Type", "Only UTF-8 bodies are accepted.")


def parse_json_object(request: Request) -> dict[str, Any]:
    """Return an optional JSON object body ({} when empty), for the moderator/admin API."""
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    if request.mimetype != "application/json":
        raise _unsupported(request, "application/json")
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise _bad_body("The JSON body must be an object.")
    return body


def parse_form_object(request: Request, max_fields: int = MAX_FIELDS) -> dict[str, str]:
    """Return a form-encoded body as fields ({} when empty), for Akismet's protocol."""
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    if request.mimetype != "application/x-www-form-urlencoded":
        raise _unsupported(request, "application/x-www-form-urlencoded")
    _require_utf8(request)
    return parse_form(raw, max_fields=max_fields)


def parse_object(request: Request) -> dict[str, Any]:
    """Return the body as a dict of fields, from JSON or form-encoded input."""
    mimetype = request.mimetype
    _require_utf8(request)
    if mimetype == "application/json":
        body = parse_json(request.get_data(cache=True))
        if not isinstance(body, dict):
            kind = type(body).__name__ if body is not None else "null"
            raise _bad_body(f"The JSON body must be an object, not {kind}.")
        return body
    if mimetype == "application/x-www-form-urlencoded":
        return parse_form(request.get_data(cache=True))
    raise _unsupported(request, "application/json or application/x-www-form-urlencoded")
