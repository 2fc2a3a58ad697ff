"""Akismet's wire format: lenient form parsing, documented charsets, plain-text answers.

Akismet reads bodies the way PHP's parse_str does, and real clients rely on it:
WordPress's add_query_arg writes an empty field with no `=` (`comment_author_url&`),
repeated fields take the last value, and form values come in the site's own charset
(`blog_charset`, or the Content-Type's charset). Every answer is plain text with status
200: "invalid" plus an X-akismet-debug-help header is how Akismet reports an error.
"""

from __future__ import annotations

import codecs
from urllib.parse import unquote_to_bytes

from flask import Request
from flask import Response

DEBUG_HELP = "X-akismet-debug-help"
PRO_TIP = "X-akismet-pro-tip"
GUID = "X-akismet-guid"
INVALID = "invalid"
THANKS = "Thanks for making the web a better place."
# Codecs Python knows that are not charsets a web form is sent in: escapes, IDNA, UTF-7.
REFUSED_CODECS = frozenset(
    {"unicode_escape", "raw_unicode_escape", "idna", "punycode", "undefined", "utf-7"}
)
FALLBACK_CODECS = ("utf-8", "cp1252", "latin-1")


def split_pairs(raw: bytes) -> list[tuple[bytes, bytes]]:
    """Split a form body like PHP's parse_str: `&`-separated, a field without `=` is empty."""
    pairs = []
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        pairs.append((_unquote(name), _unquote(value)))
    return pairs


def _unquote(raw: bytes) -> bytes:
    return unquote_to_bytes(raw.replace(b"+", b" "))


def usable_codec(name: str | None) -> str | None:
    """Return the canonical name of a text charset we decode, or None (unknown, unsafe)."""
    if not name:
        return None
    try:
        info = codecs.lookup(name.strip().strip('"').lower())
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None
    canonical = info.name.replace("-", "_")
    if canonical in REFUSED_CODECS or info.name in REFUSED_CODECS:
        return None
    return info.name


def decode(raw: bytes, codec: str) -> str:
    """Decode in the declared charset; bytes that are not in it fall back, never fail."""
    for name in (codec, *FALLBACK_CODECS):
        try:
            return raw.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode("latin-1")  # pragma: no cover (latin-1 decodes every byte)


def read_fields(request: Request) -> dict[str, str]:
    """Return the query string's and the body's fields (the body's win, the last of each)."""
    pairs = split_pairs(request.query_string)
    if request.mimetype == "multipart/form-data":
        form = request.form
        body = {name: form.getlist(name)[-1] for name in form}
    else:
        pairs += split_pairs(request.get_data(cache=True))
        body = {}
    raw: dict[bytes, bytes] = {}
    for name, value in pairs:
        raw[name] = value
    declared = request.mimetype_params.get("charset")
    blog_charset = raw.get(b"blog_charset", b"").decode("latin-1")
    codec = usable_codec(declared) or usable_codec(blog_charset) or "utf-8"
    fields = {decode(name, codec): decode(value, codec) for name, value in raw.items()}
    fields.update(body)
    return fields


def answer(text: str, headers: dict[str, str] | None = None) -> Response:
    """Return Akismet's plain-text answer (status 200)."""
    return Response(text, mimetype="text/plain", headers=headers or {})


def invalid(detail: str) -> Response:
    """Return Akismet's error: "invalid" and what was wrong in X-akismet-debug-help."""
    return answer(INVALID, {DEBUG_HELP: header_safe(detail)})


def header_safe(value: str) -> str:
    """Return a value fit for an HTTP header (printable ASCII, one line, bounded)."""
    text = "".join(c if " " <= c <= "~" else "?" for c in value)
    return text[:500]


def truthy(value: str | None) -> bool:
    """Say whether a flag field is set the way clients set it ("1", "true", "yes", "on")."""
    return (value or "").strip().lower() in ("1", "true", "yes", "on")
