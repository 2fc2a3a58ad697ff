"""How the classifier reads a comment: its normalized text, links, meta tokens and signals.

The n-grams are cut from the normalized text (entities decoded, tags dropped, link targets
kept); the meta tokens name the hosts the text links to and the author's email domain and
site; the signals are what spam carries outside the words (link count, author URL present,
length, share of capitals and digits, repeated characters).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

HREF_RE = re.compile(r"""<a\s[^>]*?href\s*=\s*["']?([^"' >]+)[^>]*>""", re.IGNORECASE)
TAG_RE = re.compile(r"<[^>]{0,200}>")
LINK_RE = re.compile(
    r"(?:https?://|www\.)[^\s<>\"']+"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|info|biz|ru|co|uk|me|tv|ly|io|us"
    r"|de|in|pl|fr|es|it|nl|br|cn|xyz|online|site|club|top)\b(?:/[^\s<>\"']*)?",
    re.IGNORECASE,
)
SCHEME_RE = re.compile(r"^(?:https?://)?(?:www\.)?", re.IGNORECASE)
REPEAT_RE = re.compile(r"(\S)\1{2,}")
WORD_RE = re.compile(r"\w+")
# Words of its own a comment needs besides its links to be scored without them: about a
# sentence, not a caption for a link ("check this out", "please like").
LINK_FREE_MIN_WORDS = 6
SIGNALS = ("links", "author_url", "length", "capitals", "digits", "repeats")


def normalize(text: str) -> str:
    """Return the text the n-grams read: entities decoded, tags dropped, link targets kept."""
    text = html.unescape(text or "").replace("\ufeff", "")
    text = HREF_RE.sub(lambda m: f" {m.group(1)} ", text)
    return TAG_RE.sub(" ", text)


def host_of(url: str) -> str:
    """Return the host part of a URL or bare domain, lowercased, without www."""
    rest = SCHEME_RE.sub("", url.strip().lower())
    return re.split(r"[/?#:\s]", rest, maxsplit=1)[0].strip(".")


def links_in(text: str) -> list[str]:
    """Return the links (URLs, www. names and bare domains) in normalized text."""
    return LINK_RE.findall(text)


def without_links(content: str) -> str | None:
    """Return the comment with its links taken out, for scoring its own words alone.

    None when it has no link, or fewer than LINK_FREE_MIN_WORDS words besides them. The
    text comes back HTML-escaped, so that normalize() reads it as this text again.
    """
    text = normalize(content)
    if not LINK_RE.search(text):
        return None
    rest = LINK_RE.sub(" ", text)
    if len(WORD_RE.findall(rest)) < LINK_FREE_MIN_WORDS:
        return None
    return html.escape(rest, quote=False)


def meta_tokens(doc: Any, links: Sequence[str]) -> str:
    """Return the doc's non-word tokens: linked hosts, email domain, author site."""
    tokens = [f"link:{host_of(link)}" for link in links]
    email = getattr(doc, "author_email", "") or ""
    if "@" in email:
        tokens.append("email:" + email.rsplit("@", 1)[1].strip().lower())
    url = getattr(doc, "author_url", None) or ""
    if url.strip():
        tokens.append("site:" + host_of(url))
    return " ".join(tokens)


def raw_signals(doc: Any, text: str, links: Sequence[str]) -> tuple[float, ...]:
    """Return the signals as a moderator reads them (counts and shares, not scaled)."""
    letters = sum(map(str.isalpha, text))
    return (
        float(len(links)),
        1.0 if (getattr(doc, "author_url", None) or "").strip() else 0.0,
        float(len(text)),
        sum(map(str.isupper, text)) / letters if letters else 0.0,
        sum(map(str.isdigit, text)) / len(text) if text else 0.0,
        float(len(REPEAT_RE.findall(text))),
    )


def shaped_signals(values: tuple[float, ...], link_signal: bool = True) -> list[float]:
    """Return the signals as the estimator reads them: counts on a log scale.

    The link count is zero unless link_signal is set (see features.CommentFeatures).
    """
    links, url, length, caps, digits, repeats = values
    links = math.log1p(links) if link_signal else 0.0
    return [links, url, math.log1p(length), caps, digits, math.log1p(repeats)]


def describe_signal(name: str, value: float) -> str:
    """Return a signal as a moderator reads it, e.g. `links=3` or `capitals=45%`."""
    if name == "author_url":
        return "author URL" if value else "no author URL"
    if name in ("capitals", "digits"):
        return f"{name}={value:.0%}"
    return f"{name}={value:g}"


def read_docs(
    docs: Sequence[Any], link_signal: bool = True
) -> tuple[list[str], list[str], np.ndarray]:
    """Return the docs' normalized texts, meta tokens and shaped signals."""
    texts, metas, shaped = [], [], []
    for doc in docs:
        text = normalize(doc.content)
        links = links_in(text)
        texts.append(text)
        metas.append(meta_tokens(doc, links))
        shaped.append(shaped_signals(raw_signals(doc, text, links), link_signal))
    return texts, metas, np.array(shaped, dtype=np.float64).reshape(len(texts), len(SIGNALS))
