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

# An <a> tag and its href. Applied only to a window that ends at the tag's ">" (see
# _links_as_text): over open text, its backtracking was cubic in "<a href=" repeats.
HREF_RE = re.compile(r"""<a\s[^>]*?href\s*=\s*["']?([^"' >]+)[^>]*>""", re.IGNORECASE)
ANCHOR_START_RE = re.compile(r"<a\s", re.IGNORECASE)
ANCHOR_MAX = 2048  # an <a> tag longer than this (to its ">") is not read as a link
TAG_RE = re.compile(r"<[^>]{0,200}>")
# A link: a URL or www. name (URL_RE), or a dotted name whose last label but the first
# starts with a top-level domain (TLD_RE), with a path if one follows that domain.
# One pattern that backtracked over the labels to find the domain was quadratic in a run
# such as "a.a.a…" (64 KB took minutes): the run is matched whole, possessively, and its
# domain found afterwards (_link_spans), with what the one pattern found.
URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
URL_START_RE = re.compile(r"https?://|www\.", re.IGNORECASE)
RUN_RE = re.compile(
    r"(?:https?://|www\.)[^\s<>\"']+"
    r"|\b(?P<run>[a-z0-9-]++(?:\.[a-z0-9-]++)++)(?P<path>/[^\s<>\"']*)?",
    re.IGNORECASE,
)
TLD_RE = re.compile(
    r"(?:com|net|org|info|biz|ru|co|uk|me|tv|ly|io|us"
    r"|de|in|pl|fr|es|it|nl|br|cn|xyz|online|site|club|top)\b",
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
    return TAG_RE.sub(" ", _links_as_text(text))


def _links_as_text(text: str) -> str:
    """Replace each <a …href=…> tag by its href, in time linear in the text."""
    parts: list[str] = []
    kept = looked = 0
    while (start := ANCHOR_START_RE.search(text, looked)) is not None:
        at = start.start()
        close = text.find(">", at, at + ANCHOR_MAX)
        tag = HREF_RE.match(text, at, close + 1) if close >= 0 else None
        if tag is None:
            looked = at + 1
            continue
        parts += [text[kept:at], f" {tag.group(1)} "]
        kept = looked = tag.end()
    return "".join(parts) + text[kept:] if parts else text


def _link_spans(text: str) -> list[tuple[int, int]]:
    """Return the (start, end) of each link in the text, left to right, in linear time."""
    spans: list[tuple[int, int]] = []
    pos = 0
    while (found := RUN_RE.search(text, pos)) is not None:
        run = found.group("run")
        if run is None:  # a URL or www. name
            spans.append(found.span())
            pos = max(found.end(), found.start() + 1)
            continue
        start, run_end = found.start("run"), found.end("run")
        end = _domain_end(text, start, run, found.end() if found.group("path") else None)
        if end is not None:
            spans.append((start, end))
        # What the run holds past its link (or all of it, with none) has no domain of its
        # own to end a link; a URL or www. name may still start in it, as in "a.www.b".
        url = _url_in(text, end if end is not None else start + 1, run_end)
        if url is not None:
            spans.append(url)
        pos = max(url[1] if url else 0, end or 0, run_end)
    return spans


def _url_in(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Return the span of the first URL or www. name that starts in text[start:end]."""
    while (begin := URL_START_RE.search(text, start, end + len("https://"))) is not None:
        if begin.start() >= end:
            return None
        url = URL_RE.match(text, begin.start())
        if url is not None:
            return url.span()
        start = begin.start() + 1
    return None


def _domain_end(text: str, start: int, run: str, path_end: int | None) -> int | None:
    """Return where a dotted run's link ends: after its last domain, or after its path."""
    labels = run.split(".")
    offsets = [start]
    for label in labels[:-1]:
        offsets.append(offsets[-1] + len(label) + 1)
    for index in range(len(labels) - 1, 0, -1):
        domain = TLD_RE.match(text, offsets[index])
        if domain is not None:
            whole = domain.end() == offsets[index] + len(labels[index])
            last = index == len(labels) - 1
            return path_end if whole and last and path_end is not None else domain.end()
    return None


def host_of(url: str) -> str:
    """Return the host part of a URL or bare domain, lowercased, without www."""
    rest = SCHEME_RE.sub("", url.strip().lower())
    return re.split(r"[/?#:\s]", rest, maxsplit=1)[0].strip(".")


def links_in(text: str) -> list[str]:
    """Return the links (URLs, www. names and bare domains) in normalized text."""
    return [text[start:end] for start, end in _link_spans(text)]


def strip_links(text: str, spans: Sequence[tuple[int, int]] | None = None) -> str:
    """Return the text with each link replaced by a space."""
    spans = _link_spans(text) if spans is None else spans
    parts, kept = [], 0
    for start, end in spans:
        parts += [text[kept:start], " "]
        kept = end
    return "".join(parts) + text[kept:]


def without_links(content: str) -> str | None:
    """Return the comment with its links taken out, for scoring its own words alone.

    None when it has no link. A caption ("Great post, thanks!", "check out my channel")
    or nothing at all may remain: what is left is all the evidence the comment carries
    besides its links, and the decision step sends it to spam only if that scores spam
    too. The text comes back HTML-escaped, so that normalize() reads it as this text again.
    """
    text = normalize(content)
    spans = _link_spans(text)
    if not spans:
        return None
    return html.escape(strip_links(text, spans), quote=False)


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
    spans = _link_spans(text)
    links = [text[start:end] for start, end in spans]
    raw = raw_signals(doc, text, links)
    grams = strip_links(text, spans) if options.strip_urls else text
    meta = meta_tokens(doc, links)
    if options.author_words:
        name = getattr(doc, "author_name", "") or ""
        url = getattr(doc, "author_url", None) or ""
        grams = " ".join(part for part in (grams, name, _words_of_host(url) if url else ""))
    if options.fold_unicode:
        grams = fold(grams)
    if options.extra_meta:
        # Folding can change where links are, so the folded text finds its own.
        plain = strip_links(fold(text)) if options.fold_unicode else strip_links(text, spans)
        found = [
            name
            for name, pattern in (("phone", PHONE_RE), ("handle", HANDLE_RE), ("tag", HASHTAG_RE))
            if any(
                name != "phone" or sum(map(str.isdigit, m)) >= 9 for m in pattern.findall(plain)
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
