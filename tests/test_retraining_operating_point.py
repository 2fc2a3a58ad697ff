"""A retrained version's own spam threshold: read from its out-of-fold scores of the
site's ham, carried in its artifact, and used by the decision step when it is higher."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from moderation.classifier import Doc
from moderation.classifier import Score
from moderation.classifier import load_version
from moderation.classifier.artifact import dump_artifact
from moderation.classifier.artifact import library_versions
from moderation.decisions import ReasonCode
from moderation.decisions import Signals
from moderation.decisions import decide
from moderation.retraining import LocalCorrection
from moderation.retraining.operating_point import MAX_FLOOR
from moderation.retraining.operating_point import MIN_HAM
from moderation.retraining.operating_point import spam_floor
from moderation.settings import ModerationSettings
from moderation.tables import Status
from tests.admin_support import fit_base
from tests.admin_support import novel_spam
from tests.admin_support import site_ham
from tests.admin_support import store_version
from tests.test_decisions import FIELDS

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "default.skops"
SETTINGS = ModerationSettings()


def ham_scores(highest: list[float], n: int = 200) -> tuple[list[float], list[bool]]:
    """Return out-of-fold scores of n ham (the highest given, the rest low) and 10 spam."""
    scores = highest + [0.05] * (n - len(highest)) + [0.99] * 10
    return scores, [False] * n + [True] * 10


@pytest.mark.parametrize(
    ("highest", "n", "floor"),
    [
        # 200 ham: 1 may score at or above it ((1 + 1) / 201 <= 1 %); the second must not.
        ([0.999, 0.97, 0.955], 200, 0.98),
        ([0.999, 0.95, 0.94], 200, 0.96),  # strictly above, in hundredths
        ([0.999, 0.40], 200, 0.41),  # under the site's threshold: the site's decides
        ([0.9999, 0.9999, 0.9995], 200, MAX_FLOOR),  # capped: never "nothing is spam"
        ([0.97, 0.955], 199, 0.96),  # 199 ham: 1 may score above it, as with 200
        ([0.97, 0.955], 198, 0.98),  # 198 ham: (1 + 1) / 199 > 1 %: none may
        ([0.97, 0.955], 100, 0.98),  # 100 ham: none may score above it
        ([0.97, 0.955], MIN_HAM - 1, None),  # too few ham: the site's threshold alone
    ],
)
def test_the_floor_keeps_unseen_ham_sent_to_spam_at_one_percent(highest, n, floor):
    scores, spam = ham_scores(highest, n)
    assert spam_floor(scores, spam) == (None if floor is None else pytest.approx(floor))
    if floor is not None:
        ham = np.asarray(scores)[~np.asarray(spam)]
        # Split-conformal bound on an unseen ham's chance to score at or above the floor.
        assert (np.sum(ham >= floor) + 1) / (n + 1) <= 0.01 or floor == MAX_FLOOR


def test_no_out_of_fold_scores_give_no_floor():
    assert spam_floor(None, [False] * 300) is None


def test_a_fitted_correction_carries_the_floor_of_its_out_of_fold_scores():
    base = fit_base()
    texts = novel_spam(50, seed=8) + site_ham(120, seed=8)
    y = [1] * 50 + [0] * 120
    correction = LocalCorrection(base=base).fit([Doc(t) for t in texts], y)
    assert correction.spam_floor_ is not None
    assert correction.spam_floor_ == spam_floor(correction.out_of_fold_, np.asarray(y, bool))
    # The artifact keeps it, through every check of the loader.
    blob = dump_artifact(correction)
    digest = hashlib.sha256(blob).hexdigest()
    loaded = load_version(blob, digest, {"sha256": digest, "libraries": library_versions()})
    assert loaded.spam_floor_ == correction.spam_floor_
    # Too few ham labels: none, and the site's threshold alone decides.
    few = LocalCorrection(base=base).fit([Doc(t) for t in texts[:90]], y[:90])
    assert few.spam_floor_ is None


def signals(p: float, floor: float | None) -> Signals:
    """Return the decision's inputs for a score p from a version with that floor."""
    return Signals(FIELDS, 0, Score(p, 5, spam_floor=floor), False)


@pytest.mark.parametrize(
    ("p", "floor", "status", "code"),
    [
        (0.95, 0.97, Status.PENDING, ReasonCode.HOLD_SCORE),  # between the two: held
        (0.98, 0.97, Status.SPAM, ReasonCode.SPAM_SCORE),
        (0.95, 0.60, Status.SPAM, ReasonCode.SPAM_SCORE),  # never lower than the site's
        (0.95, None, Status.SPAM, ReasonCode.SPAM_SCORE),
        (0.55, 0.97, Status.PENDING, ReasonCode.HOLD_SCORE),
    ],
)
def test_the_decision_sends_to_spam_at_the_higher_threshold(p, floor, status, code):
    verdict = decide(signals(p, floor), SETTINGS)
    assert verdict.status is status
    reason = next(r for r in verdict.reasons if r.code is code)
    own = "own spam threshold 0.97" in reason.detail
    assert own is (status is Status.PENDING and p >= SETTINGS.spam_threshold)


def test_the_intake_holds_what_only_the_sites_threshold_would_send_to_spam(app, site_api):
    from moderation.classifier import get_holder

    manifest = json.loads((SHIPPED.parent / "manifest.json").read_text())
    shipped = load_version(SHIPPED.read_bytes(), manifest["sha256"], manifest)
    texts = ["Join my telegram group for crypto signals, ask mentor Anna", "Thanks, nice post"]
    correction = LocalCorrection(base=shipped).fit([Doc(t) for t in texts * 40], [1, 0] * 40)
    assert correction.spam_floor_ is None  # 40 ham: too few for a floor of its own
    probe = "Ask mentor Anna on telegram for crypto signals"
    store_version(app, correction, active=True)
    sent = site_api.post(content=probe).get_json()
    assert sent["status"] == "spam"
    assert SETTINGS.spam_threshold <= sent["spam_score"] < MAX_FLOOR

    # The same correction, had its labels given it the highest floor, holds it instead.
    correction.spam_floor_ = MAX_FLOOR
    version = store_version(app, correction, active=True)
    with app.app_context():
        assert get_holder().score(Doc(probe)).spam_floor == MAX_FLOOR
    held = site_api.post(content=probe + " now").get_json()
    assert held["classifier_version"] == version
    assert SETTINGS.spam_threshold <= held["spam_score"] < MAX_FLOOR
    assert held["status"] == "pending"
    details = " ".join(r["detail"] for r in held["reasons"])
    assert f"own spam threshold {MAX_FLOOR:.2f}" in details
