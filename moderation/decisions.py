"""The decision step: rules, score and thresholds turn into a status and its reasons."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from moderation.classifier import Score
from moderation.settings import ModerationSettings
from moderation.tables import Status


class ReasonCode(enum.StrEnum):
    """Why a comment got its status (several may apply)."""

    DISALLOWED_WORD = "disallowed_word"
    MODERATION_WORD = "moderation_word"
    TOO_MANY_LINKS = "too_many_links"
    SPAM_SCORE = "spam_score"
    LINKS_ALONE = "links_alone"
    SIGNALS_ALONE = "signals_alone"
    HOLD_SCORE = "hold_score"
    LOW_SCORE = "low_score"
    CLASSIFIER_UNAVAILABLE = "classifier_unavailable"
    KNOWN_AUTHOR = "known_author"
    FIRST_COMMENT = "first_comment"
    TRUSTED_NEW_AUTHOR = "trusted_new_author"
    IMPORTED = "imported"


# How moderators read each code (the review page's cards, the API document).
REASON_LABELS: dict[ReasonCode, str] = {
    ReasonCode.DISALLOWED_WORD: "Disallowed word",
    ReasonCode.MODERATION_WORD: "Moderation word",
    ReasonCode.TOO_MANY_LINKS: "Too many links",
    ReasonCode.SPAM_SCORE: "Spam score",
    ReasonCode.LINKS_ALONE: "Spam for its links alone",
    ReasonCode.SIGNALS_ALONE: "Spam for its length or characters alone",
    ReasonCode.HOLD_SCORE: "Doubtful score",
    ReasonCode.LOW_SCORE: "Low score",
    ReasonCode.CLASSIFIER_UNAVAILABLE: "Not scored",
    ReasonCode.KNOWN_AUTHOR: "Known author",
    ReasonCode.FIRST_COMMENT: "First comment",
    ReasonCode.TRUSTED_NEW_AUTHOR: "New authors trusted",
    ReasonCode.IMPORTED: "Imported from the site's history",
}


@dataclass(frozen=True)
class Reason:
    """One reason, as stored with the comment and shown to moderators."""

    code: ReasonCode
    detail: str = ""
    features: tuple[dict[str, Any], ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form stored in comments.reasons."""
        data: dict[str, Any] = {"code": str(self.code), "detail": self.detail}
        if self.features is not None:
            data["features"] = list(self.features)
        return data


@dataclass(frozen=True)
class Signals:
    """What the decision is made from, gathered by the intake."""

    fields: dict[str, str]  # name, email, url, content, ip, user agent: for word rules
    link_count: int
    score: Score | None
    known_author: bool


@dataclass(frozen=True)
class Verdict:
    """The decision: a status and every reason that led to it."""

    status: Status
    reasons: tuple[Reason, ...] = field(default_factory=tuple)


def rule_fields(
    *,
    author_name: str,
    author_email: str,
    author_url: str | None,
    content: str,
    author_ip: str | None,
    user_agent: str | None,
) -> dict[str, str]:
    """Return the fields the word lists are matched against (WordPress's set)."""
    return {
        "author_name": author_name,
        "author_email": author_email,
        "author_url": author_url or "",
        "content": content,
        "author_ip": author_ip or "",
        "user_agent": user_agent or "",
    }


def stored_signals(comment: Any, score: Score | None, known_author: bool) -> Signals:
    """Rebuild the decision's inputs from a stored comment (links as sanitize counted them)."""
    return Signals(
        fields=rule_fields(
            author_name=comment.author_name,
            author_email=comment.author_email,
            author_url=comment.author_url,
            content=comment.content_raw,
            author_ip=comment.author_ip,
            user_agent=comment.user_agent,
        ),
        link_count=comment.content_html.count("<a "),
        score=score,
        known_author=known_author,
    )


def verdict_columns(verdict: Verdict, score: Score | None) -> dict[str, Any]:
    """Return the comment columns a decision sets: status, the scores, version, reasons."""
    return {
        "status": verdict.status,
        "spam_score": score.spam_probability if score else None,
        "spam_score_without_links": score.without_links if score else None,
        "spam_score_without_signals": score.without_signals if score else None,
        "classifier_version": score.version if score else None,
        "reasons": [reason.as_dict() for reason in verdict.reasons],
    }


def apply_verdict(comment: Any, verdict: Verdict, score: Score | None) -> None:
    """Set a stored comment's status, score and reasons from a decision (no flush)."""
    for column, value in verdict_columns(verdict, score).items():
        setattr(comment, column, value)


def find_word(words: tuple[str, ...], fields: dict[str, str]) -> tuple[str, str] | None:
    """Return (word, field) for the first listed word found in any field, ignoring case."""
    lowered = {name: value.casefold() for name, value in fields.items() if value}
    for word in words:
        needle = word.strip().casefold()
        if not needle:
            continue
        for name, value in lowered.items():
            if needle in value:
                return word.strip(), name
    return None


def decide(signals: Signals, settings: ModerationSettings) -> Verdict:
    """Apply WordPress's rules, then the score, then the author's history."""
    reasons: list[Reason] = []
    spam = hold = False

    if hit := find_word(settings.disallowed_words, signals.fields):
        spam = True
        reasons.append(Reason(ReasonCode.DISALLOWED_WORD, f'"{hit[0]}" in {hit[1]}'))
    if hit := find_word(settings.moderation_words, signals.fields):
        hold = True
        reasons.append(Reason(ReasonCode.MODERATION_WORD, f'"{hit[0]}" in {hit[1]}'))
    if settings.max_links and signals.link_count >= settings.max_links:
        hold = True
        reasons.append(
            Reason(
                ReasonCode.TOO_MANY_LINKS,
                f"{signals.link_count} links (holding at {settings.max_links})",
            )
        )

    score = signals.score
    if score is None:
        hold = True
        reasons.append(Reason(ReasonCode.CLASSIFIER_UNAVAILABLE, "no classifier could score it"))
    else:
        features = tuple(
            {"feature": c.feature, "weight": round(c.weight, 4)} for c in score.top_features
        )
        p, own, plain = score.spam_probability, score.without_links, score.without_signals
        # A retrained version may carry its own, higher spam threshold, read from the
        # site's labels it never saw (retraining.operating_point); never a lower one.
        spam_at = max(settings.spam_threshold, score.spam_floor or 0.0)
        own_floor = spam_at > settings.spam_threshold
        # Signals that only correlate inside one corpus (a link, the length, the share of
        # digits or capitals) never send a comment to spam on their own: its words must
        # score spam without them too.
        guard = p >= spam_at and settings.links_alone_never_spam
        if guard and own is not None and own < spam_at:
            hold = True
            code, detail = (
                ReasonCode.LINKS_ALONE,
                f"{p:.2f} ≥ {spam_at:.2f} with its links, {own:.2f} without: held, not spam",
            )
        elif guard and plain is not None and plain < spam_at:
            hold = True
            code, detail = (
                ReasonCode.SIGNALS_ALONE,
                f"{p:.2f} ≥ {spam_at:.2f}, {plain:.2f} without its length,"
                " capitals, digits and repeats: held, not spam",
            )
        elif p >= spam_at:
            spam = True
            code, detail = (
                ReasonCode.SPAM_SCORE,
                f"{p:.2f} ≥ {spam_at:.2f}",
            )
        elif p >= settings.hold_threshold:
            hold = True
            code, detail = (
                ReasonCode.HOLD_SCORE,
                f"{p:.2f} ≥ {settings.hold_threshold:.2f}",
            )
            if own_floor and p >= settings.spam_threshold:
                detail += (
                    f"; under this version's own spam threshold {spam_at:.2f}, set from"
                    " this site's labels"
                )
        else:
            code, detail = (
                ReasonCode.LOW_SCORE,
                f"{p:.2f} < {settings.hold_threshold:.2f}",
            )
        reasons.append(Reason(code, f"{detail} (v{score.version})", features))

    if spam:
        return Verdict(Status.SPAM, tuple(reasons))
    if hold:
        return Verdict(Status.PENDING, tuple(reasons))
    if signals.known_author:
        reasons.append(Reason(ReasonCode.KNOWN_AUTHOR, "an earlier comment was approved"))
        return Verdict(Status.APPROVED, tuple(reasons))
    if settings.trust_new_authors:
        reasons.append(Reason(ReasonCode.TRUSTED_NEW_AUTHOR, "new authors are trusted"))
        return Verdict(Status.APPROVED, tuple(reasons))
    reasons.append(Reason(ReasonCode.FIRST_COMMENT, "first comments wait for a moderator"))
    return Verdict(Status.PENDING, tuple(reasons))
