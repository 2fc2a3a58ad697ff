"""What proposed settings would have decided for the latest comments, before saving them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.classifier import Score
from moderation.decisions import Signals
from moderation.decisions import Verdict
from moderation.decisions import decide
from moderation.decisions import stored_signals
from moderation.retraining import moderator_labels
from moderation.retraining.versions import spam_floors
from moderation.settings import ModerationSettings
from moderation.tables import Comment
from moderation.tables import Status

PREVIEW_SIZE = 1000
CHANGED_SHOWN = 200
EXCERPT_CHARS = 160
DECIDED = (Status.PENDING, Status.APPROVED, Status.SPAM)


@dataclass(frozen=True)
class ChangedComment:
    """A comment the proposed settings would decide differently."""

    id: int
    author_name: str
    excerpt: str
    spam_score: float | None
    current: Status
    proposed: Status
    moderator_label: Status | None  # approved or spam when a moderator labelled it


@dataclass(frozen=True)
class LabelledOutcome:
    """How the decisions fare on the comments moderators labelled (the costly mistakes)."""

    ham: int = 0
    spam: int = 0
    ham_to_spam: int = 0  # approved by a moderator, sent to spam by the settings
    spam_published: int = 0  # spam by a moderator, published by the settings


@dataclass(frozen=True)
class Preview:
    """Counts per status under the current and the proposed settings, and what changes."""

    n: int
    current: dict[Status, int]
    proposed: dict[Status, int]
    changed_total: int
    changed: list[ChangedComment] = field(default_factory=list)
    labelled_current: LabelledOutcome = LabelledOutcome()
    labelled_proposed: LabelledOutcome = LabelledOutcome()


def _excerpt(comment: Comment) -> str:
    text = " ".join(comment.content_raw.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def _first_approvals(session: Session, comments: list[Comment]) -> dict[tuple[int, str], object]:
    """Return the creation time of each (site, email)'s first approved comment."""
    emails = {c.author_email for c in comments}
    if not emails:
        return {}
    stmt = (
        select(Comment.site_id, Comment.author_email, func.min(Comment.created_at))
        .where(Comment.status == Status.APPROVED, Comment.author_email.in_(emails))
        .group_by(Comment.site_id, Comment.author_email)
    )
    return {(site, email): first for site, email, first in session.execute(stmt)}


def signals_of(comment: Comment, known_author: bool, spam_floor: float | None = None) -> Signals:
    """Rebuild the decision's inputs from a stored comment and its stored score.

    `spam_floor` is the own spam threshold of the version that scored it, if it has one.
    """
    score = None
    if comment.spam_score is not None:
        score = Score(
            spam_probability=comment.spam_score,
            version=comment.classifier_version or 0,
            without_links=comment.spam_score_without_links,
            without_signals=comment.spam_score_without_signals,
            spam_floor=spam_floor,
        )
    return stored_signals(comment, score, known_author)


def _tally(outcome: dict[str, int], verdict: Verdict, label: Status | None) -> None:
    if label is Status.APPROVED:
        outcome["ham"] += 1
        outcome["ham_to_spam"] += verdict.status is Status.SPAM
    elif label is Status.SPAM:
        outcome["spam"] += 1
        outcome["spam_published"] += verdict.status is Status.APPROVED


def preview_settings(
    session: Session,
    current: ModerationSettings,
    proposed: ModerationSettings,
    *,
    limit: int = PREVIEW_SIZE,
) -> Preview:
    """Decide the latest `limit` comments under both settings and compare.

    Each comment is decided from what was stored with it: its score (by the version
    that scored it then, with that version's own spam threshold), its links, its words;
    an author counts as known when an approved comment of theirs on the same site is
    older. Moderators' decisions are not applied, so the counts show the settings alone.
    """
    comments = list(
        session.scalars(
            select(Comment).order_by(Comment.created_at.desc(), Comment.id.desc()).limit(limit)
        )
    )
    first_approved = _first_approvals(session, comments)
    labels = moderator_labels(session, [c.id for c in comments])
    floors = spam_floors(session, {c.classifier_version for c in comments})
    counts_now: Counter[Status] = Counter()
    counts_new: Counter[Status] = Counter()
    labelled_now = dict.fromkeys(("ham", "spam", "ham_to_spam", "spam_published"), 0)
    labelled_new = dict(labelled_now)
    changed: list[ChangedComment] = []
    changed_total = 0
    for comment in comments:
        first = first_approved.get((comment.site_id, comment.author_email))
        known = first is not None and first < comment.created_at
        floor = floors.get(comment.classifier_version or 0)
        signals = signals_of(comment, known_author=known, spam_floor=floor)
        now, new = decide(signals, current), decide(signals, proposed)
        counts_now[now.status] += 1
        counts_new[new.status] += 1
        label = Status.SPAM if labels.get(comment.id) else None
        if comment.id in labels and not labels[comment.id]:
            label = Status.APPROVED
        _tally(labelled_now, now, label)
        _tally(labelled_new, new, label)
        if now.status is not new.status:
            changed_total += 1
            if len(changed) < CHANGED_SHOWN:
                changed.append(
                    ChangedComment(
                        id=comment.id,
                        author_name=comment.author_name,
                        excerpt=_excerpt(comment),
                        spam_score=comment.spam_score,
                        current=now.status,
                        proposed=new.status,
                        moderator_label=label,
                    )
                )
    return Preview(
        n=len(comments),
        current={status: counts_now[status] for status in DECIDED},
        proposed={status: counts_new[status] for status in DECIDED},
        changed_total=changed_total,
        changed=changed,
        labelled_current=LabelledOutcome(**labelled_now),
        labelled_proposed=LabelledOutcome(**labelled_new),
    )
