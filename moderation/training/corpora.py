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


AUXILIARY_FORMATS = frozenset({CorpusFormat.SMS})
# Formats read as extra ham of another kind than comments: learned from (in the shared
# features), but neither calibrated on nor counted in the comment metrics.
HAM_ONLY_FORMATS = frozenset({CorpusFormat.DAVIDSON})
DAVIDSON_COLUMNS = frozenset({"class", "tweet"})
# Every tweet with a link, and every DAVIDSON_STRIDE-th one without (~1,100 of 21,797).
DAVIDSON_STRIDE = 20


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
        first = handle.readline()
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


def _rows(path: Path, fmt: CorpusFormat) -> list[tuple[Doc, int]]:
    text = path.read_text(encoding="utf-8-sig")
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
    rows = [(doc, label) for doc, label in rows if doc.content]
    if dedupe:
        seen: set[tuple[str, int]] = set()
        unique = []
        for doc, label in rows:
            if (doc.content, label) not in seen:
                seen.add((doc.content, label))
                unique.append((doc, label))
        rows = unique
    aux = fmt in AUXILIARY_FORMATS
    ham_only = fmt in HAM_ONLY_FORMATS
    spam = sum(label for _, label in rows)
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
    return Corpus(
        docs=tuple(doc for doc, _ in rows),
        labels=tuple(label for _, label in rows),
        aux=(aux,) * len(rows),
        sources=(source,),
        calibrate=(not ham_only,) * len(rows),
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
