"""Bounds on the markup a comment hands to html5lib, whose cost grows faster than its length.

bleach parses with html5lib, and two of its steps are quadratic: the tree builder in the
formatting elements a text leaves open or misnests (and in the end tags that walk past
them), and the tokenizer in a tag's distinct attributes (each is checked against all
before it). 64 KB comments of either took 2 to 4.5 s of CPU. A tag past a bound is shown as
text instead (its "<" escaped), as bleach shows a disallowed tag: the reader still sees what
was typed, and bleach sanitizes the result as any other text.
"""

from __future__ import annotations

import re
from collections.abc import Collection

MAX_TAGS = 500  # start and end tags of allowed elements a comment keeps
MAX_ATTRIBUTES = 16  # attributes one tag may carry (WordPress's allowed tags have two)
TAG_SCAN = 8192  # characters from a tag's "<" to its ">"

TAG_RE = re.compile(r"</?([A-Za-z][^\s/>]*)")
# One step of html5lib's attribute states: separators, then the tag's end or one attribute
# (a name, and a quoted or unquoted value). Python's \s is wider than HTML's white space,
# so this splits at least as often as html5lib does: it never counts fewer attributes.
ATTRIBUTE_RE = re.compile(
    r"""[\s/]*(?:(>)|[^\s/>][^\s/>=]*(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]*))?)"""
)
HTML_SEPARATORS = " \t\n\r\x0c/"


def bounded_markup(text: str, allowed: Collection[str]) -> str:
    """Return the text with the tags past MAX_TAGS, MAX_ATTRIBUTES or TAG_SCAN as text.

    Linear in the text: each tag is looked at from its "<" up to its end, or to at most
    MAX_ATTRIBUTES attributes; a tag that is kept is skipped whole.
    """
    parts: list[str] = []
    kept = pos = allowed_seen = 0
    close = -1  # the first ">" at or after the tag looked at (len(text): none)
    while (tag := TAG_RE.search(text, pos)) is not None:
        start = tag.start()
        if close < start:
            found = text.find(">", start)
            close = found if found >= 0 else len(text)
        end = _tag_end(text, tag.end(), close)
        if end is not None and tag.group(1).lower() in allowed:
            allowed_seen += 1
            if allowed_seen > MAX_TAGS:
                end = None
        if end is None:
            parts += [text[kept:start], "&lt;"]
            kept = pos = start + 1
        else:
            pos = max(end, start + 1)
    return "".join(parts) + text[kept:] if parts else text


def _tag_end(text: str, after_name: int, close: int) -> int | None:
    """Return where a tag ends, or None when it is too long or has too many attributes."""
    if close - after_name > TAG_SCAN:
        return None
    if text.count('"', after_name, close) == 0 and text.count("'", after_name, close) == 0:
        # No quotes: the tag ends at the first ">", and each attribute follows a separator.
        separators = sum(text.count(c, after_name, close) for c in HTML_SEPARATORS)
        return close + 1 if separators <= MAX_ATTRIBUTES else None
    pos = after_name
    for _ in range(MAX_ATTRIBUTES + 1):
        step = ATTRIBUTE_RE.match(text, pos)
        if step is None or step.end() == pos:
            return len(text)  # the tag runs to the end of the text
        if step.group(1):
            return step.end()
        pos = step.end()
    return None
