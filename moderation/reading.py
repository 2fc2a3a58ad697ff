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
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
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
SIGNALS = ("links", "author_url", "length", "capitals", "digits", "repeats")
# Letters that look like Latin ones but that NFKD does not take apart (obfuscated spam:
# "ḥāźeł_mcẹ̀wǝṅ" reads "hazel_mcewen"): Cyrillic and Greek look-alikes, stroked and
# turned letters. NFKD already maps full-width, mathematical and other compatibility forms.
CONFUSABLES = str.maketrans(
    {
        **dict(zip("аеорсухіјѕԁӏвнкмтьɑαορτυνεκιϲ", "aeopcyxijsdlbhkmtbaaoptuvekic", strict=True)),
        **dict(zip("АВЕКМНОРСТХУІЈЅΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEKMHOPCTXYIJSABEZHIKMNOPTYX", strict=True)),
        **dict(zip("łŁøØđĐħĦıǝəɐɔŧŦƀɨʉ", "lLoOdDhHieeactTbiu", strict=True)),
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
    }
)
PHONE_RE = re.compile(r"(?<!\w)\+?\(?\d[\d\s().-]{7,}\d(?!\w)")
HANDLE_RE = re.compile(r"(?<![\w@])@\w{2,}")
HASHTAG_RE = re.compile(r"(?<![\w&#])#\w*[^\W\d]\w*")
# Length bins (characters) for the binned signals: a bin can weigh, but never grow with
# the length (in the corpora long meant spam; on a news site it means an argued reply).
LENGTH_BINS = (20, 60, 150, 400, 1000)


@dataclass(frozen=True)
class ReadingOptions:
    """How a comment is read (CommentFeatures' options; the defaults are the first model's)."""

    fold_unicode: bool = False  # NFKD, marks dropped, confusables mapped, before n-grams
    strip_urls: bool = False  # links out of the n-gram text (their hosts stay as meta)
    author_words: bool = False  # the name's and author site's words join the n-gram text
    extra_meta: bool = False  # phone numbers, @handles, hashtags as meta tokens
    binned_signals: bool = False  # length/capitals/digits as bins, not linear signals
    link_signal: bool = True


def fold(text: str) -> str:
    """Return the text with look-alike letters read as plain ones (NFKD, no marks)."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.translate(CONFUSABLES)


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

    None when it has no link. A caption ("Great post, thanks!", "check out my channel")
    or nothing at all may remain: what is left is all the evidence the comment carries
    besides its links, and the decision step sends it to spam only if that scores spam
    too. The text comes back HTML-escaped, so that normalize() reads it as this text again.
    """
    text = normalize(content)
    if not LINK_RE.search(text):
        return None
    return html.escape(LINK_RE.sub(" ", text), quote=False)


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


def _words_of_host(url: str) -> str:
    """Return a site's host words without www and its last label ("cheap pills online")."""
    labels = host_of(url).split(".")
    return " ".join(re.split(r"[-_\d]+", " ".join(labels[:-1] if len(labels) > 1 else labels)))


def _bin(value: float, edges: Sequence[float]) -> int:
    return sum(value >= edge for edge in edges)


def read_doc(doc: Any, options: ReadingOptions) -> tuple[str, str, tuple[float, ...]]:
    """Return what the n-grams read, the meta tokens and the raw signals of one doc."""
    text = normalize(doc.content)
    links = links_in(text)
    raw = raw_signals(doc, text, links)
    grams = LINK_RE.sub(" ", text) if options.strip_urls else text
    meta = meta_tokens(doc, links)
    if options.author_words:
        name = getattr(doc, "author_name", "") or ""
        url = getattr(doc, "author_url", None) or ""
        grams = " ".join(part for part in (grams, name, _words_of_host(url) if url else ""))
    if options.fold_unicode:
        grams = fold(grams)
    if options.extra_meta:
        plain = fold(text) if options.fold_unicode else text
        found = [
            name
            for name, pattern in (("phone", PHONE_RE), ("handle", HANDLE_RE), ("tag", HASHTAG_RE))
            if any(
                name != "phone" or sum(map(str.isdigit, m)) >= 9
                for m in pattern.findall(LINK_RE.sub(" ", plain))
            )
        ]
        meta = " ".join([meta, *(f"has:{name}" for name in found)])
    if options.binned_signals:
        _, _, length, caps, digits, _ = raw
        meta += f" len:{_bin(length, LENGTH_BINS)} caps:{_bin(caps, (0.3, 0.6))}"
        meta += f" digits:{_bin(digits, (0.05, 0.15))}"
    return grams, meta, raw


def shaped_for(raw: tuple[float, ...], options: ReadingOptions) -> list[float]:
    """Return the signals the estimator reads (binned: only author URL and repeats stay)."""
    shaped = shaped_signals(raw, options.link_signal)
    if options.binned_signals:
        shaped[2] = shaped[3] = shaped[4] = 0.0  # read as bins (meta tokens) instead
    return shaped


def read_docs(
    docs: Sequence[Any], options: ReadingOptions | bool = True
) -> tuple[list[str], list[str], np.ndarray]:
    """Return the docs' n-gram texts, meta tokens and shaped signals.

    `options` may be a bool for the first model's reading (its link_signal).
    """
    if isinstance(options, bool):
        options = ReadingOptions(link_signal=options)
    texts, metas, shaped = [], [], []
    for doc in docs:
        grams, meta, raw = read_doc(doc, options)
        texts.append(grams)
        metas.append(meta)
        shaped.append(shaped_for(raw, options))
    return texts, metas, np.array(shaped, dtype=np.float64).reshape(len(texts), len(SIGNALS))
