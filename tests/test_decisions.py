"""The decision step alone: rules, score and thresholds to a status and its reasons."""

from __future__ import annotations

import pytest

from moderation.classifier import Contribution
from moderation.classifier import Score
from moderation.decisions import ReasonCode
from moderation.decisions import Signals
from moderation.decisions import decide
from moderation.decisions import find_word
from moderation.decisions import rule_fields
from moderation.settings import ModerationSettings
from moderation.tables import Status

FIELDS = rule_fields(
    author_name="Ann",
    author_email="ann@example.org",
    author_url=None,
    content="A thoughtful reply.",
    author_ip="192.0.2.1",
    user_agent="Mozilla/5.0",
)


def signals(p: float | None = 0.1, links: int = 0, known: bool = False, **fields: str) -> Signals:
    score = None if p is None else Score(p, 3, (Contribution('word "free"', 1.5),))
    return Signals({**FIELDS, **fields}, links, score, known)


@pytest.mark.parametrize(
    ("sig", "settings", "status", "codes"),
    [
        (signals(0.95), ModerationSettings(), Status.SPAM, {ReasonCode.SPAM_SCORE}),
        (signals(0.90), ModerationSettings(), Status.SPAM, {ReasonCode.SPAM_SCORE}),
        (signals(0.89, known=True), ModerationSettings(), Status.PENDING, {ReasonCode.HOLD_SCORE}),
        (signals(0.50), ModerationSettings(), Status.PENDING, {ReasonCode.HOLD_SCORE}),
        (signals(0.1), ModerationSettings(), Status.PENDING, {ReasonCode.FIRST_COMMENT}),
        (
            signals(0.1, known=True),
            ModerationSettings(),
            Status.APPROVED,
            {ReasonCode.KNOWN_AUTHOR},
        ),
        (
            signals(0.1),
            ModerationSettings(trust_new_authors=True),
            Status.APPROVED,
            {ReasonCode.TRUSTED_NEW_AUTHOR},
        ),
        (
            signals(None, known=True),
            ModerationSettings(),
            Status.PENDING,
            {ReasonCode.CLASSIFIER_UNAVAILABLE},
        ),
        (
            signals(0.1, links=2, known=True),
            ModerationSettings(),
            Status.PENDING,
            {ReasonCode.TOO_MANY_LINKS},
        ),
        (
            signals(0.1, links=1, known=True),
            ModerationSettings(),
            Status.APPROVED,
            {ReasonCode.KNOWN_AUTHOR},
        ),
        (
            signals(0.1, known=True, content="cheap VIAGRA"),
            ModerationSettings(disallowed_words=("viagra",)),
            Status.SPAM,
            {ReasonCode.DISALLOWED_WORD},
        ),
        (
            signals(0.1, known=True, user_agent="EvilBot/1"),
            ModerationSettings(moderation_words=("evilbot",)),
            Status.PENDING,
            {ReasonCode.MODERATION_WORD},
        ),
        (
            signals(0.6),
            ModerationSettings(hold_threshold=0.7, spam_threshold=0.8),
            Status.PENDING,
            {ReasonCode.LOW_SCORE},
        ),
    ],
)
def test_decide_applies_rules_then_score_then_history(sig, settings, status, codes):
    verdict = decide(sig, settings)
    assert verdict.status is status
    assert codes <= {reason.code for reason in verdict.reasons}


def test_score_reason_carries_the_top_features():
    verdict = decide(signals(0.95), ModerationSettings())
    score_reason = next(r for r in verdict.reasons if r.code is ReasonCode.SPAM_SCORE)
    assert score_reason.as_dict()["features"] == [{"feature": 'word "free"', "weight": 1.5}]


@pytest.mark.parametrize(
    ("words", "expected"),
    [(("  ",), None), (("EXAMPLE.ORG",), ("EXAMPLE.ORG", "author_email")), (("nope",), None)],
)
def test_find_word_ignores_case_and_blank_entries(words, expected):
    assert find_word(words, FIELDS) == expected
