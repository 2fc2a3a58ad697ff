"""The decision step alone: rules, score and thresholds to a status and its reasons."""

from __future__ import annotations

import pytest

from moderation.classifier import Contribution
from moderation.classifier import Score
from moderation.decisions import REASON_LABELS
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


def signals(
    p: float | None = 0.1,
    links: int = 0,
    known: bool = False,
    own: float | None = None,
    plain: float | None = None,
    **fields: str,
) -> Signals:
    """Build the decision's inputs; `own` is the score without the comment's links,
    `plain` the score with its length, capitals, digits and repeats at their mean."""
    top = (Contribution('word "free"', 1.5),)
    score = None if p is None else Score(p, 3, top, own, plain)
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


@pytest.mark.parametrize(
    ("sig", "settings", "status", "code"),
    [
        # Only the links push it over the spam threshold: held for a moderator.
        (signals(0.97, links=1, own=0.12), ModerationSettings(), Status.PENDING, "links_alone"),
        (signals(0.97, links=1, own=0.89), ModerationSettings(), Status.PENDING, "links_alone"),
        # Its own words are spam too, or it was not scored without links (the text has
        # none the reader recognizes; only sanitize's count saw one): spam.
        (signals(0.97, links=1, own=0.90), ModerationSettings(), Status.SPAM, "spam_score"),
        (signals(0.97, links=1, own=None), ModerationSettings(), Status.SPAM, "spam_score"),
        # The admin turned the rule off.
        (
            signals(0.97, links=1, own=0.12),
            ModerationSettings(links_alone_never_spam=False),
            Status.SPAM,
            "spam_score",
        ),
        # Below the spam threshold the rule has nothing to do; a known author still waits
        # when the score holds.
        (
            signals(0.6, links=1, own=0.1, known=True),
            ModerationSettings(),
            Status.PENDING,
            "hold_score",
        ),
        # Its own spam threshold: the rule follows the admin's threshold.
        (
            signals(0.85, links=1, own=0.75),
            ModerationSettings(spam_threshold=0.8),
            Status.PENDING,
            "links_alone",
        ),
        # A disallowed word still sends it to spam.
        (
            signals(0.97, links=1, own=0.1, content="cheap VIAGRA"),
            ModerationSettings(disallowed_words=("viagra",)),
            Status.SPAM,
            "links_alone",
        ),
    ],
)
def test_links_alone_never_send_a_comment_to_spam(sig, settings, status, code):
    verdict = decide(sig, settings)
    assert verdict.status is status
    score_reasons = [r for r in verdict.reasons if r.features is not None]
    assert [str(r.code) for r in score_reasons] == [code]


@pytest.mark.parametrize(
    ("sig", "settings", "status", "code"),
    [
        # Only its length (or capitals, digits) pushes it over the spam threshold: held.
        (signals(0.95, plain=0.40), ModerationSettings(), Status.PENDING, "signals_alone"),
        (signals(0.95, plain=0.89), ModerationSettings(), Status.PENDING, "signals_alone"),
        # Its words score spam without them too, or they were not scored so: spam.
        (signals(0.95, plain=0.90), ModerationSettings(), Status.SPAM, "spam_score"),
        (signals(0.95, plain=None), ModerationSettings(), Status.SPAM, "spam_score"),
        # A link and the length: the links are named first.
        (
            signals(0.97, links=1, own=0.2, plain=0.3),
            ModerationSettings(),
            Status.PENDING,
            "links_alone",
        ),
        # Its own words are spam without the links, but only the length makes them so.
        (
            signals(0.97, links=1, own=0.95, plain=0.5),
            ModerationSettings(),
            Status.PENDING,
            "signals_alone",
        ),
        # The admin turned the rule off (Akismet's way: the score alone decides).
        (
            signals(0.95, plain=0.4),
            ModerationSettings(links_alone_never_spam=False),
            Status.SPAM,
            "spam_score",
        ),
        # Under the spam threshold the rule has nothing to do.
        (signals(0.6, plain=0.1), ModerationSettings(), Status.PENDING, "hold_score"),
        # It follows the admin's spam threshold.
        (
            signals(0.85, plain=0.79),
            ModerationSettings(spam_threshold=0.8),
            Status.PENDING,
            "signals_alone",
        ),
    ],
)
def test_length_capitals_and_digits_alone_never_send_a_comment_to_spam(
    sig, settings, status, code
):
    verdict = decide(sig, settings)
    assert verdict.status is status
    score_reasons = [r for r in verdict.reasons if r.features is not None]
    assert [str(r.code) for r in score_reasons] == [code]


def test_signals_alone_reason_names_both_scores():
    verdict = decide(signals(0.95, plain=0.31), ModerationSettings())
    (reason,) = [r for r in verdict.reasons if r.code is ReasonCode.SIGNALS_ALONE]
    assert reason.detail == (
        "0.95 ≥ 0.90, 0.31 without its length, capitals, digits and repeats: held, not spam (v3)"
    )


def test_links_alone_reason_names_both_scores():
    verdict = decide(signals(0.97, links=1, own=0.12), ModerationSettings())
    (reason,) = [r for r in verdict.reasons if r.code is ReasonCode.LINKS_ALONE]
    assert reason.detail == "0.97 ≥ 0.90 with its links, 0.12 without: held, not spam (v3)"
    assert reason.as_dict()["features"] == [{"feature": 'word "free"', "weight": 1.5}]


def test_every_reason_has_a_label_for_moderators():
    assert set(REASON_LABELS) == set(ReasonCode)
    assert all(REASON_LABELS.values())


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
