"""Sanitize comment HTML with bleach and WordPress's comment allow-list."""

from __future__ import annotations

import functools
import html
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from bleach.html5lib_shim import Filter
from bleach.linkifier import LinkifyFilter
from bleach.linkifier import build_url_re
from bleach.sanitizer import Cleaner

from moderation.markup_bounds import bounded_markup

# WordPress's $allowedtags (wp-includes/kses.php), the comment allow-list.
ALLOWED_TAGS = frozenset(
    {
        "a",
        "abbr",
        "acronym",
        "b",
        "blockquote",
        "cite",
        "code",
        "del",
        "em",
        "i",
        "q",
        "s",
        "strike",
        "strong",
    }
)
ALLOWED_ATTRIBUTES = {  # a dict, as bleach requires; never mutated
    "a": ("href", "title"),
    "abbr": ("title",),
    "acronym": ("title",),
    "blockquote": ("cite",),
    "del": ("datetime",),
    "q": ("cite",),
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
URL_ATTRIBUTES = frozenset({"href", "cite"})
LINK_REL = "nofollow ugc"

# Linkify only text that starts with http://, https:// or www. (WordPress's
# make_clickable does the same): bleach's default also links bare names such as
# "setup.py" or "readme.md" (both ccTLDs), which would inflate the link count the
# moderation rules use. The look-behind stops "ftp://example.com" from becoming
# "ftp://<a href=http://example.com>"; any TLD-shaped label is accepted because a
# scheme is required anyway.
_BLEACH_URL_RE = build_url_re(
    tlds=[r"xn--[a-z0-9-]{1,59}", r"[a-z]{2,63}"], protocols=["http", "https"]
)
URL_RE = re.compile(
    r"(?<![\w/:@.+-])(?=\(*(?:https?://|www\.))" + _BLEACH_URL_RE.pattern,
    _BLEACH_URL_RE.flags,
)
# Leading and trailing C0 controls and spaces are stripped by browsers' URL parser.
_C0_CONTROL_OR_SPACE = "".join(chr(c) for c in range(0x21))


@dataclass(frozen=True)
class CleanHtml:
    """Sanitized comment HTML and the number of links in it."""

    html: str  # the sanitized HTML, published as is, never transformed afterwards
    link_count: int  # number of <a> elements in html (after linkify)


def _is_allowed_url(value: str) -> bool:
    """Return True when a raw attribute value is an http, https or mailto URL."""
    # Decode entities and strip what a browser would ignore, so we judge the URL the
    # browser will follow; html.unescape decodes at least as much as a browser does.
    url = html.unescape(value).strip(_C0_CONTROL_OR_SPACE)
    url = url.replace("\t", "").replace("\n", "").replace("\r", "")
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        return False
    return scheme.lower() in ALLOWED_PROTOCOLS


class _LinkPolicyFilter(Filter):
    """Drop href/cite values without an allowed scheme; give every link our rel."""

    def __iter__(self) -> Iterator[dict]:
        """Yield the tokens, fixing the attributes of a, blockquote and q tags."""
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EmptyTag") and token["data"]:
                token["data"] = {
                    key: value
                    for key, value in token["data"].items()
                    if key[1] not in URL_ATTRIBUTES or _is_allowed_url(value)
                }
            if token["type"] in ("StartTag", "EmptyTag") and token["name"] == "a":
                # The allow-list already dropped any rel the author gave.
                token["data"] = {**(token["data"] or {}), (None, "rel"): LINK_REL}
            yield token


class _InertLinkFilter(Filter):
    """Turn each sanitized link into plain text followed by its address (not clickable).

    Runs last, on the tokens the sanitizer, linkifier and link policy already cleaned: an
    <a> becomes a <span class="link-text">, and its href follows as text in another span.
    Only fixed names and attributes are emitted; the href is a text token (escaped).
    """

    def __iter__(self) -> Iterator[dict]:
        """Yield the tokens with every a element replaced by inert spans."""
        hrefs: list[str | None] = []
        for token in super().__iter__():
            kind = token["type"]
            if kind in ("StartTag", "EmptyTag") and token["name"] == "a":
                hrefs.append((token["data"] or {}).get((None, "href")))
                yield {
                    "type": "StartTag",
                    "name": "span",
                    "namespace": token.get("namespace"),
                    "data": {(None, "class"): "link-text"},
                }
                if kind == "EmptyTag":
                    yield from self._close(hrefs.pop(), token)
            elif kind == "EndTag" and token["name"] == "a" and hrefs:
                yield from self._close(hrefs.pop(), token)
            else:
                yield token

    @staticmethod
    def _close(href: str | None, token: dict) -> Iterator[dict]:
        namespace = token.get("namespace")
        yield {"type": "EndTag", "name": "span", "namespace": namespace}
        if href:
            yield {
                "type": "StartTag",
                "name": "span",
                "namespace": namespace,
                "data": {(None, "class"): "link-href"},
            }
            yield {"type": "Characters", "data": f" ({href})"}
            yield {"type": "EndTag", "name": "span", "namespace": namespace}


@functools.lru_cache(maxsize=256)
def _build_cleaner(thread_id: int, inert_links: bool = False) -> Cleaner:
    """Build the Cleaner for one thread: bleach's parser is not thread-safe."""
    linkify = functools.partial(
        LinkifyFilter,
        callbacks=[],  # rel is set by _LinkPolicyFilter, on authored links too
        skip_tags={"code"},  # like WordPress's make_clickable: code is not linked
        parse_email=False,
        url_re=URL_RE,
    )
    # strip=False: a disallowed tag is shown as escaped text (bleach's default and
    # most-tested path). Nothing the commenter typed silently disappears, a comment
    # about "<iframe>" stays readable, and moderators see what was attempted; the
    # escaped text is inert. (WordPress's kses removes such tags instead.)
    return Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        strip=False,
        strip_comments=True,
        filters=[linkify, _LinkPolicyFilter, *([_InertLinkFilter] if inert_links else [])],
    )


# Paragraph and line-break tags the commenter's editor may add: they become the line
# breaks they stand for before sanitizing (the text is shown with white-space: pre-line),
# rather than literal "<p>". Only these exact attribute-less forms; a newline never joins
# two fragments into a tag, and the result is sanitized as any other text.
_PARAGRAPH_BREAK_RE = re.compile(r"</p>\s*<p>", re.IGNORECASE)
_LINE_BREAK_RE = re.compile(r"</?p>|<br\s*/?>", re.IGNORECASE)
_OUTER_P_RE = re.compile(r"^\s*<p>|</p>\s*$", re.IGNORECASE)


def _breaks_as_newlines(text: str) -> str:
    text = _PARAGRAPH_BREAK_RE.sub("\n\n", _OUTER_P_RE.sub("", text))
    return _LINE_BREAK_RE.sub("\n", text)


def inert_comment_html(text: str, stored_html: str | None = None) -> str:
    """Sanitize a comment's text as clean_comment_html does, but with its links as text.

    For showing held and spam comments to moderators: the same sanitizer, plus a last
    filter that turns each link into its text and its address, nothing to click.

    :param stored_html: clean_comment_html's output for `text` (the comment's
        content_html). When it has no link, it is returned as is: the last filter would
        change nothing, so sanitizing again is skipped. Text with paragraph or line-break
        tags is sanitized again anyway (rows stored before those became line breaks).
    """
    breaks = _breaks_as_newlines(text)
    if stored_html is not None and breaks == text and "<a " not in stored_html:
        return stored_html
    return _build_cleaner(threading.get_ident(), inert_links=True).clean(
        bounded_markup(breaks, ALLOWED_TAGS)
    )


def clean_comment_html(text: str) -> CleanHtml:
    """Sanitize and linkify a comment's text into publishable HTML."""
    breaks = _breaks_as_newlines(text)
    cleaned = _build_cleaner(threading.get_ident()).clean(bounded_markup(breaks, ALLOWED_TAGS))
    # The serializer escapes every "<" in text and attribute values, so each "<a "
    # in the output is an <a> start tag (rel makes a space always follow the name).
    return CleanHtml(html=cleaned, link_count=cleaned.count("<a "))
