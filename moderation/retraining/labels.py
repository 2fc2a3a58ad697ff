"""What retraining learns from: job options, moderators' labels and corpus files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.auth import SITE_ACTOR_PREFIX
from moderation.classifier import Doc
from moderation.imports.store import IMPORT_ACTOR_PREFIX
from moderation.rescore import doc_of
from moderation.tables import AkismetReport
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import Status
from moderation.training import CorpusError
from moderation.training import read_corpus

HOLDOUT_PERCENT = 20
CORPUS_SUFFIXES = (".csv", ".jsonl", ".tsv", ".txt", "")


@dataclass(frozen=True)
class TrainingOptions:
    """A training job's options, as stored in training_jobs.options."""

    include_decisions: bool = True
    since: datetime | None = None
    corpus_files: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "include_decisions": self.include_decisions,
            "since": self.since.isoformat() if self.since else None,
            "corpus_files": list(self.corpus_files),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingOptions:
        """Read the JSON form."""
        since = data.get("since")
        return cls(
            include_decisions=bool(data.get("include_decisions", True)),
            since=datetime.fromisoformat(since) if since else None,
            corpus_files=tuple(data.get("corpus_files") or ()),
        )


@dataclass(frozen=True)
class Example:
    """One labelled text; `key` decides whether it is held out."""

    doc: Doc
    spam: bool
    key: str
    source: str


def held_out(key: str) -> bool:
    """Return whether an example is held out (a stable hash, so every version agrees)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HOLDOUT_PERCENT


def corpus_dir(config: Mapping[str, Any]) -> Path:
    """Return the folder admins put base corpus files in (MODERATION_CORPUS_DIR)."""
    configured = config.get("CORPUS_DIR")
    if configured:
        return Path(configured)
    return Path(config.get("INSTANCE_PATH") or "instance") / "corpora"


def available_corpus_files(config: Mapping[str, Any]) -> list[str]:
    """Return the names of the corpus files an admin can pick."""
    folder = corpus_dir(config)
    if not folder.is_dir():
        return []
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in CORPUS_SUFFIXES
    )


def resolve_corpus_file(config: Mapping[str, Any], name: str) -> Path:
    """Return the path of a corpus file by name, refusing anything outside the folder."""
    folder = corpus_dir(config).resolve()
    if "/" in name or "\\" in name or name.startswith(".") or not name.strip():
        raise CorpusError(f"{name!r} is not a file name in the corpus folder")
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        raise CorpusError(f"{name!r} is not a file in the corpus folder {folder}")
    return path


def moderator_labels(
    session: Session, ids: Sequence[int] | None = None, since: datetime | None = None
) -> dict[int, bool]:
    """Return {comment id: is spam} for comments whose approved/spam status a moderator set.

    A moderator is a user (review page, API), or a site reporting its own moderators'
    decision (Akismet's submit-spam/ham): a site's event that changed a status. The
    site's event that created the comment (from no status) is the intake's, not a label.
    An imported comment's status is its site moderators' final decision: a label.
    """
    by_site_moderator = and_(
        AuditEvent.actor.startswith(SITE_ACTOR_PREFIX), AuditEvent.from_status.is_not(None)
    )
    imported = AuditEvent.actor.startswith(IMPORT_ACTOR_PREFIX)
    decided = (
        exists()
        .where(AuditEvent.comment_id == Comment.id)
        .where(or_(AuditEvent.user_id.is_not(None), by_site_moderator, imported))
        .where(AuditEvent.to_status == Comment.status)
    )
    if since is not None:
        decided = decided.where(AuditEvent.at >= since)
    stmt = select(Comment.id, Comment.status).where(
        Comment.status.in_((Status.APPROVED, Status.SPAM)), decided
    )
    if ids is not None:
        if not ids:
            return {}
        stmt = stmt.where(Comment.id.in_(ids))
    return {cid: status is Status.SPAM for cid, status in session.execute(stmt)}


def decision_examples(session: Session, since: datetime | None = None) -> list[Example]:
    """Return the moderators' labels as examples (oldest first)."""
    labels = moderator_labels(session, since=since)
    if not labels:
        return akismet_report_examples(session, since)
    examples = []
    ids = sorted(labels)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        comments = session.scalars(select(Comment).where(Comment.id.in_(chunk)))
        for comment in comments:
            examples.append(
                Example(doc_of(comment), labels[comment.id], f"comment:{comment.id}", "decisions")
            )
    examples.extend(akismet_report_examples(session, since))
    examples.sort(key=lambda e: e.key)
    return examples


def akismet_report_examples(session: Session, since: datetime | None = None) -> list[Example]:
    """Return sites' submit-spam / submit-ham about comments never checked here (labels)."""
    stmt = select(AkismetReport).order_by(AkismetReport.id)
    if since is not None:
        stmt = stmt.where(AkismetReport.created_at >= since)
    return [
        Example(
            Doc(
                content=report.content,
                author_name=report.author_name,
                author_email=report.author_email,
                author_url=report.author_url,
            ),
            report.spam,
            f"akismet-report:{report.id}",
            "decisions",
        )
        for report in session.scalars(stmt)
    ]


def corpus_examples(config: Mapping[str, Any], names: Iterable[str]) -> list[Example]:
    """Read the named corpus files (format sniffed) into examples keyed by their text."""
    examples = []
    for name in names:
        corpus = read_corpus(resolve_corpus_file(config, name))
        for doc, label in zip(corpus.docs, corpus.labels, strict=True):
            key = "corpus:" + hashlib.sha256(doc.content.encode("utf-8")).hexdigest()
            examples.append(Example(doc, bool(label), key, f"corpus:{name}"))
    return examples
