"""Labelled corpora for training: the file formats `flask model train` reads, and the decisions.

A Corpus is docs with labels (1 spam, 0 ham), flags for texts of another medium (SMS: its
own copy of every feature) and for extra ham that is not comments (Davidson's tweets:
learned from, not calibrated on), and a summary of each source for the manifest.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import io
import json
import re
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from moderation.classifier.interface import Doc

YOUTUBE_COLUMNS = frozenset({"COMMENT_ID", "AUTHOR", "CONTENT", "CLASS"})
LINK_HINT_RE = re.compile(r"https?://|www\.", re.IGNORECASE)


class CorpusFormat(enum.StrEnum):
    """The labelled-text formats `flask model train` reads."""

    YOUTUBE = "youtube"  # UCI YouTube Spam Collection CSV (comments)
    SMS = "sms"  # UCI SMS Spam Collection: label<TAB>text (auxiliary: another medium)
    CSV = "csv"  # content,label[,author_name,author_email,author_url]
    JSONL = "jsonl"  # the same fields, one JSON object a line
    DAVIDSON = "davidson"  # Davidson et al. 2017 tweets: extra ham, many with a link
    SCAMSPOT = "scamspot"  # ScamSpot Instagram comments: {id: {text, account, type}}
    FOXNEWS = "foxnews"  # Gao & Huang 2017 Fox News comments: JSON lines, all ham


AUXILIARY_FORMATS = frozenset({CorpusFormat.SMS})
# Formats read as extra ham of another kind than comments: learned from (in the shared
# features), but neither calibrated on nor counted in the comment metrics.
HAM_ONLY_FORMATS = frozenset({CorpusFormat.DAVIDSON})
DAVIDSON_COLUMNS = frozenset({"class", "tweet"})
# Every tweet with a link, and every DAVIDSON_STRIDE-th one without (~1,100 of 21,797).
DAVIDSON_STRIDE = 20


SCAMSPOT_LABELS = {"scam": 1, "real": 0}  # "unknown" is not labelled: skipped
SCAMSPOT_HINT_RE = re.compile(r'"account"\s*:')
FOXNEWS_KEYS = frozenset({"text", "title"})


class CorpusError(ValueError):
    """A corpus file cannot be read as the format it is said (or sniffed) to be."""


@dataclass(frozen=True)
class Corpus:
    """Labelled docs (1 spam, 0 ham); `aux` marks texts of another medium than comments."""

    docs: tuple[Doc, ...]
    labels: tuple[int, ...]
    aux: tuple[bool, ...]
    sources: tuple[dict[str, Any], ...] = ()
    # False marks extra ham that is not comments (HAM_ONLY_FORMATS); empty: every doc.
    calibrate: tuple[bool, ...] = ()
    # Per doc, what evaluation folds group by (video, account, article; "" = none), and
    # what a corpus says beside the spam label (Fox News: {"hateful": 0|1}).
    groups: tuple[str, ...] = ()
    extras: tuple[Mapping[str, Any], ...] = ()

    @property
    def calibrated(self) -> tuple[bool, ...]:
        """Return, per doc, whether it is a comment text (calibrated on, counted)."""
        return self.calibrate or (True,) * len(self.docs)

    def __len__(self) -> int:
        return len(self.docs)

    @classmethod
    def join(cls, corpora: Iterable[Corpus]) -> Corpus:
        """Concatenate corpora, keeping each one's source summary."""
        parts = list(corpora)
        return cls(
            docs=tuple(d for c in parts for d in c.docs),
            labels=tuple(y for c in parts for y in c.labels),
            aux=tuple(a for c in parts for a in c.aux),
            sources=tuple(s for c in parts for s in c.sources),
            calibrate=tuple(f for c in parts for f in c.calibrated),
            groups=tuple(g for c in parts for g in (c.groups or ("",) * len(c))),
            extras=tuple(e for c in parts for e in (c.extras or ({},) * len(c))),
        )


def parse_label(value: Any) -> int:
    """Return 1 for spam and 0 for ham (spam/ham, 1/0, true/false; any case)."""
    text = str(value).strip().lower()
    if text in ("spam", "1", "true"):
        return 1
    if text in ("ham", "0", "false"):
        return 0
    raise CorpusError(f"label {value!r} is neither spam/ham nor 1/0")


def file_sha256(path: Path) -> str:
    """Return a file's sha256."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sniff_format(path: Path) -> CorpusFormat:
    """Guess a corpus file's format from its name and first line."""
    if path.suffix.lower() == ".jsonl":
        return CorpusFormat.JSONL
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        head = handle.read(4096)
    first = head.split("\n", 1)[0]
    if head.lstrip().startswith("{"):
        try:
            record = json.loads(first)
        except ValueError:  # not one object a line: ScamSpot's one object, indented
            record = None
        if isinstance(record, dict) and record.keys() >= FOXNEWS_KEYS:
            return CorpusFormat.FOXNEWS
        if SCAMSPOT_HINT_RE.search(head):
            return CorpusFormat.SCAMSPOT
    if set(first.strip().split(",")) >= YOUTUBE_COLUMNS:
        return CorpusFormat.YOUTUBE
    if set(first.strip().split(",")) >= DAVIDSON_COLUMNS | {"hate_speech", "neither"}:
        return CorpusFormat.DAVIDSON
    if first.split("\t", 1)[0].strip().lower() in ("ham", "spam"):
        return CorpusFormat.SMS
    return CorpusFormat.CSV


def _text(value: Any) -> str:
    return str(value or "").replace("\ufeff", "").strip()


def _doc(record: Mapping[str, Any]) -> Doc:
    url = _text(record.get("author_url"))
    return Doc(
        content=_text(record.get("content")),
        author_name=_text(record.get("author_name")),
        author_email=_text(record.get("author_email")),
        author_url=url or None,
    )


Row = tuple[Doc, int, str, Mapping[str, Any]]  # doc, label, fold group, extras


def _scamspot_rows(text: str) -> list[Row]:
    """Read ScamSpot's one JSON object; unlabelled ("unknown") comments are skipped."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise CorpusError("expected one JSON object keyed by comment id")
    rows: list[Row] = []
    for key, record in data.items():
        if not isinstance(record, dict) or "type" not in record or "text" not in record:
            raise CorpusError(f"comment {key}: expected the keys text, account, type")
        label = SCAMSPOT_LABELS.get(str(record["type"]))
        if label is not None:
            doc = Doc(content=_text(record["text"]))
            rows.append((doc, label, _text(record.get("account")), {}))
    return rows


def _foxnews_rows(text: str, name: str) -> list[Row]:
    """Read the Fox News comments: all ham, grouped by article, hatefulness kept."""
    rows: list[Row] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise CorpusError(f"{name}:{number}: {exc}") from None
        if not isinstance(record, dict) or not record.keys() >= FOXNEWS_KEYS:
            raise CorpusError(f"{name}:{number}: expected the keys text, title")
        doc = Doc(content=_text(record["text"]), author_name=_text(record.get("user")))
        extra = {"hateful": int(record.get("label") or 0)}
        rows.append((doc, 0, _text(record["title"]), extra))
    return rows


def _rows(path: Path, fmt: CorpusFormat) -> list[Row]:
    text = path.read_text(encoding="utf-8-sig")
    if fmt is CorpusFormat.SCAMSPOT:
        return _scamspot_rows(text)
    if fmt is CorpusFormat.FOXNEWS:
        return _foxnews_rows(text, path.name)
    return [(doc, label, "", {}) for doc, label in _plain_rows(path, text, fmt)]


def _plain_rows(path: Path, text: str, fmt: CorpusFormat) -> list[tuple[Doc, int]]:
    if fmt is CorpusFormat.SMS:
        rows = []
        reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
        for number, row in enumerate(reader, 1):
            if not row:
                continue
            if len(row) < 2:
                raise CorpusError(f"{path.name}:{number}: expected label<TAB>text")
            rows.append((Doc(content=_text("\t".join(row[1:]))), parse_label(row[0])))
        return rows
    if fmt is CorpusFormat.JSONL:
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise CorpusError(f"{path.name}:{number}: {exc}") from None
                rows.append((_doc(record), parse_label(record.get("label"))))
        return rows
    reader = csv.DictReader(io.StringIO(text))
    columns = set(reader.fieldnames or ())
    if fmt is CorpusFormat.DAVIDSON:
        if not columns >= DAVIDSON_COLUMNS:
            raise CorpusError(f"{path.name}: expected the columns {sorted(DAVIDSON_COLUMNS)}")
        # No tweet is spam (the labels are hate / offensive / neither, another axis): all
        # are ham. Kept: every tweet with a link (the ham with links comments lack), and
        # a deterministic sample of the others.
        tweets = [_text(r["tweet"]) for r in reader]
        linked = [t for t in tweets if LINK_HINT_RE.search(t)]
        plain = [t for t in tweets if not LINK_HINT_RE.search(t)][::DAVIDSON_STRIDE]
        return [(Doc(content=t), 0) for t in linked + plain]
    if fmt is CorpusFormat.YOUTUBE:
        if not columns >= YOUTUBE_COLUMNS:
            raise CorpusError(f"{path.name}: expected the columns {sorted(YOUTUBE_COLUMNS)}")
        # DATE is never read: it is empty for every spam row of one video (a leak).
        return [
            (Doc(content=_text(r["CONTENT"]), author_name=_text(r["AUTHOR"])), int(r["CLASS"]))
            for r in reader
        ]
    if not columns >= {"content", "label"}:
        raise CorpusError(f"{path.name}: expected the columns content,label")
    return [(_doc(r), parse_label(r["label"])) for r in reader]


def read_corpus(
    path: Path | str, fmt: CorpusFormat | str | None = None, *, dedupe: bool = False
) -> Corpus:
    """Read a labelled corpus file (format sniffed when not given); skip empty texts."""
    path = Path(path)
    fmt = CorpusFormat(fmt) if fmt else sniff_format(path)
    try:
        rows = _rows(path, fmt)
    except (OSError, UnicodeDecodeError, KeyError, ValueError) as exc:
        if isinstance(exc, CorpusError):
            raise
        raise CorpusError(f"{path.name} is not a {fmt} corpus: {exc}") from None
    rows = [row for row in rows if row[0].content]
    if dedupe:
        seen: set[tuple[str, int]] = set()
        unique = []
        for row in rows:
            if (row[0].content, row[1]) not in seen:
                seen.add((row[0].content, row[1]))
                unique.append(row)
        rows = unique
    aux = fmt in AUXILIARY_FORMATS
    ham_only = fmt in HAM_ONLY_FORMATS
    spam = sum(row[1] for row in rows)
    source = {
        "name": path.name,
        "path": str(path),
        "format": str(fmt),
        "sha256": file_sha256(path),
        "n": len(rows),
        "spam": spam,
        "ham": len(rows) - spam,
        "role": "auxiliary" if aux else "extra ham" if ham_only else "comments",
    }
    if fmt is CorpusFormat.YOUTUBE:  # one file is one video
        groups = (path.name,) * len(rows)
    else:
        groups = tuple(row[2] for row in rows)
    return Corpus(
        docs=tuple(row[0] for row in rows),
        labels=tuple(row[1] for row in rows),
        aux=(aux,) * len(rows),
        sources=(source,),
        calibrate=(not ham_only,) * len(rows),
        groups=groups,
        extras=tuple(row[3] for row in rows),
    )


def decision_corpus(session: Session) -> Corpus:
    """Return the moderators' decisions as a corpus: spam is spam, approved is ham.

    Only statuses a moderator set count (retraining.moderator_labels): the classifier's
    own verdicts are not labels, and "rejected" (not publishable) is not a spam label.
    """
    from moderation.retraining import decision_examples

    examples = decision_examples(session)
    spam = sum(e.spam for e in examples)
    return Corpus(
        docs=tuple(e.doc for e in examples),
        labels=tuple(int(e.spam) for e in examples),
        aux=(False,) * len(examples),
        sources=(
            {"name": "decisions", "n": len(examples), "spam": spam, "ham": len(examples) - spam},
        ),
    )
