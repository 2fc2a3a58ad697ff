"""Re-score the comments held because no classifier could score them (Akismet's re-check).

A comment is re-scored only while it is still pending, unscored, held with the reason
classifier_unavailable, and no moderator has acted on it (no audit event by a user).
Its status is decided again by decisions.decide with the intake's rules; the update
carries the comment's version (optimistic lock), so a moderator's decision made
meanwhile wins and the re-score is skipped, never the other way round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

from flask import Flask
from sqlalchemy import Exists
from sqlalchemy import exists
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from moderation import db
from moderation.classifier import ClassifierUnavailable
from moderation.classifier import Doc
from moderation.classifier import Score
from moderation.decisions import ReasonCode
from moderation.decisions import apply_verdict
from moderation.decisions import decide
from moderation.decisions import stored_signals
from moderation.settings import ModerationSettings
from moderation.settings import load_settings
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import Status
from moderation.tables import utcnow
from moderation.webhooks.outbox import status_changed

logger = logging.getLogger(__name__)

BATCH = 50  # comments per transaction: bounds how long a re-score holds the write lock
ACTOR = "classifier"


@dataclass
class RescoreResult:
    """What a re-score run did."""

    examined: int = 0
    rescored: int = 0
    skipped: int = 0  # changed meanwhile (a moderator won the race)
    statuses: dict[str, int] = field(default_factory=dict)
    last_id: int = 0
    unavailable: bool = False  # stopped because no classifier could score

    def add(self, other: RescoreResult) -> None:
        """Accumulate another batch's counts."""
        self.examined += other.examined
        self.rescored += other.rescored
        self.skipped += other.skipped
        for key, value in other.statuses.items():
            self.statuses[key] = self.statuses.get(key, 0) + value
        self.last_id = max(self.last_id, other.last_id)
        self.unavailable = self.unavailable or other.unavailable


def moderator_acted() -> Exists:
    """Return the condition "a user has an audit event on this comment"."""
    return (
        exists().where(AuditEvent.comment_id == Comment.id).where(AuditEvent.user_id.is_not(None))
    )


def is_held_unscored(comment: Comment) -> bool:
    """Return whether a comment waits for a score (held while no classifier could score)."""
    return (
        comment.status is Status.PENDING
        and comment.spam_score is None
        and any(
            (reason or {}).get("code") == ReasonCode.CLASSIFIER_UNAVAILABLE
            for reason in comment.reasons or []
        )
    )


def held_comments(session: Session, *, after_id: int = 0, limit: int = BATCH) -> list[Comment]:
    """Return up to `limit` comments waiting for a score, by id, after `after_id`."""
    stmt = (
        select(Comment)
        .where(
            Comment.id > after_id,
            Comment.status == Status.PENDING,
            Comment.spam_score.is_(None),
            ~moderator_acted(),
        )
        .order_by(Comment.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def known_author(session: Session, comment: Comment) -> bool:
    """Return whether the author has another approved comment on this site (same email)."""
    stmt = select(
        exists().where(
            Comment.site_id == comment.site_id,
            Comment.author_email == comment.author_email,
            Comment.status == Status.APPROVED,
            Comment.id != comment.id,
        )
    )
    return bool(session.scalar(stmt))


def doc_of(comment: Comment) -> Doc:
    """Return what the classifier reads of a stored comment."""
    return Doc(
        content=comment.content_raw,
        author_name=comment.author_name,
        author_email=comment.author_email,
        author_url=comment.author_url,
    )


def apply_score(
    session: Session, comment: Comment, score: Score, settings: ModerationSettings
) -> Status | None:
    """Decide a held comment again with its score; return its status, None if it changed.

    Runs in a savepoint: a lost optimistic-lock race rolls back this comment only.
    """
    signals = stored_signals(comment, score, known_author(session, comment))
    verdict = decide(signals, settings)
    now = utcnow()
    before = comment.status
    try:
        with session.begin_nested():
            apply_verdict(comment, verdict, score)
            comment.updated_at = now
            if comment.status is Status.REJECTED:  # decide() never rejects; kept honest
                comment.dedupe_key = None
            session.flush()
            if verdict.status is not before:
                session.add(
                    AuditEvent(
                        comment_id=comment.id,
                        actor=ACTOR,
                        user_id=None,
                        at=now,
                        from_status=before,
                        to_status=verdict.status,
                        note=f"re-scored by classifier version {score.version}",
                    )
                )
                session.flush()
                status_changed(
                    session,
                    comment,
                    before,
                    ACTOR,
                    f"re-scored by classifier version {score.version}",
                    now=now,
                )
    except StaleDataError:
        session.expire(comment)
        return None
    return verdict.status


def rescore_held(
    session: Session,
    score: Callable[[Doc], Score],
    settings: ModerationSettings,
    *,
    after_id: int = 0,
    limit: int = BATCH,
) -> RescoreResult:
    """Re-score one batch of held comments in the session (no commit)."""
    result = RescoreResult(last_id=after_id)
    for comment in held_comments(session, after_id=after_id, limit=limit):
        result.examined += 1
        result.last_id = comment.id
        if not is_held_unscored(comment):
            continue
        try:
            comment_score = score(doc_of(comment))
        except ClassifierUnavailable:
            result.unavailable = True
            break
        status = apply_score(session, comment, comment_score, settings)
        if status is None:
            result.skipped += 1
            continue
        result.rescored += 1
        result.statuses[str(status)] = result.statuses.get(str(status), 0) + 1
    return result


def run_rescore(
    app: Flask,
    score: Callable[[Doc], Score],
    *,
    batch: int = BATCH,
    max_comments: int | None = None,
) -> RescoreResult:
    """Re-score every held comment, one committed batch at a time."""
    total = RescoreResult()
    while True:
        with db.new_session(app) as session:  # look before taking the write lock
            if not held_comments(session, after_id=total.last_id, limit=1):
                return total
        with db.new_session(app, write=True) as session:
            settings = load_settings(session)
            result = rescore_held(session, score, settings, after_id=total.last_id, limit=batch)
            session.commit()
        total.add(result)
        done = result.examined < batch or result.unavailable
        if done or (max_comments is not None and total.examined >= max_comments):
            return total


def rescore_in_background(app: Flask, holder: object) -> threading.Thread:
    """Start re-scoring held comments in a daemon thread (the intake never waits)."""

    def work() -> None:
        try:
            result = run_rescore(app, holder.score)  # type: ignore[attr-defined]
        except SQLAlchemyError as exc:
            logger.warning("re-scoring held comments stopped: %s", exc)
            return
        if result.rescored or result.skipped:
            logger.info(
                "re-scored %s held comments (%s skipped): %s",
                result.rescored,
                result.skipped,
                result.statuses,
            )

    thread = threading.Thread(target=work, name="classifier-rescore", daemon=True)
    thread.start()
    return thread
