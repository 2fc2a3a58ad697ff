"""The promotion guard: a paired exact test on the ham the two versions judge differently,
on the held-out labels and on the labels the active version never learned from."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest
from sqlalchemy import select

from moderation import db
from moderation import jobs
from moderation import retraining
from moderation.settings import ModerationSettings
from moderation.tables import ClassifierVersion
from moderation.tables import JobStatus
from moderation.tables import Site
from moderation.tables import Status
from moderation.training import spam_scores
from tests.admin_support import add_labelled
from tests.admin_support import fit_base
from tests.admin_support import novel_spam
from tests.admin_support import site_decisions
from tests.admin_support import site_ham
from tests.admin_support import store_version

SETTINGS = ModerationSettings()


@pytest.fixture(scope="module")
def base() -> object:
    """The tiny base classifier (a SpamEstimator from training.fit)."""
    return fit_base()


@pytest.mark.parametrize(
    ("worse", "better"), [(0, 0), (0, 3), (1, 0), (2, 1), (4, 0), (5, 0), (6, 1), (9, 2)]
)
def test_the_sign_test_is_mcnemars_exact_one_sided_test(worse, better):
    expected = (
        1.0 if worse == 0 else binomtest(worse, worse + better, alternative="greater").pvalue
    )
    assert retraining.sign_test(worse, better) == pytest.approx(expected)


def test_paired_counts_count_the_ham_only_one_version_sends_to_spam():
    spam = [False, False, False, False, True, True]
    candidate = [0.95, 0.95, 0.10, 0.50, 0.10, 0.99]
    active = [0.95, 0.10, 0.92, 0.91, 0.99, 0.10]
    # Ham 0: both; ham 1: candidate only; ham 2 and 3: active only; spam is not counted.
    # Misjudged at the hold threshold (0.5): ham 0 and 3 by both; ham 1 and spam 4 by the
    # candidate alone; ham 2 and spam 5 by the active version alone.
    assert retraining.paired_counts(spam, candidate, active, SETTINGS) == {
        "ham_to_spam": [1, 2],
        "errors": [2, 2],
    }


def test_the_paired_counts_decide_over_the_totals():
    candidate = {"n": 80, "f1": 0.9, "ham_to_spam": 6}
    active = {"n": 80, "f1": 0.9, "ham_to_spam": 1}
    # From the totals alone, at least 5 only by the candidate: p = 1/32, worse.
    alone = retraining.compare(candidate, active)
    assert alone["acceptable"] is False
    assert alone["ham_to_spam_discordant"] == [5, 0]
    # Paired, the active version sent one the candidate did not: 6 against 1, p = 1/16.
    paired = retraining.compare(candidate, active, {"ham_to_spam": [6, 1]})
    assert paired["acceptable"] is True
    assert paired["p_value"] == pytest.approx(8 / 128)
    assert "6 only by the candidate, 1 only by the active version" in paired["summary"]
    # Without paired errors, a lower F1 is still worse.
    lower = retraining.compare({**candidate, "f1": 0.8}, active, {"ham_to_spam": [0, 0]})
    assert lower["acceptable"] is False
    # With them, only significantly more comments misjudged is: 2 against 1 is noise,
    # 6 against 0 is not (p = 1/64).
    noise = {"ham_to_spam": [0, 0], "errors": [2, 1]}
    assert retraining.compare({**candidate, "f1": 0.8}, active, noise)["acceptable"] is True
    worse = retraining.compare(candidate, active, {"ham_to_spam": [0, 0], "errors": [6, 0]})
    assert worse["acceptable"] is False
    assert "misjudges more comments (6 only it against 0, p = 0.016" in worse["summary"]


def test_a_candidate_is_also_judged_on_labels_the_active_version_never_learned(base):
    examples = site_decisions(40)
    held = [e for e in examples if retraining.held_out(e.key)]
    learned = [e for e in examples if not retraining.held_out(e.key)]
    unseen = {e.key for e in learned[::2]}
    log: list[str] = []
    candidate = retraining.build_candidate(
        examples, base, SETTINGS, log.append, active_id=3, unseen=unseen
    )
    comparison = candidate.metrics["comparison"]
    assert (comparison["held_out"], comparison["unseen"]) == (len(held), len(unseen))
    assert comparison["n"] == len(held) + len(unseen)
    # The candidate is judged on those by its out-of-fold scores, the active one by its own.
    rows = [i for i, e in enumerate(learned) if e.key in unseen]
    labels = [e.spam for e in held] + [learned[i].spam for i in rows]
    ours = list(spam_scores(candidate.classifier, [e.doc for e in held]))
    ours += [float(candidate.classifier.out_of_fold_[i]) for i in rows]
    theirs = list(spam_scores(base, [e.doc for e in held] + [learned[i].doc for i in rows]))
    paired = retraining.paired_counts(labels, ours, theirs, SETTINGS)
    assert comparison["ham_to_spam_discordant"] == paired["ham_to_spam"]
    assert comparison["f1"][0] == pytest.approx(
        retraining.evaluate_scores(labels, ours, SETTINGS)["f1"]
    )
    # The held-out metrics are still the held-out ones alone.
    assert candidate.metrics["holdout"]["n"] == len(held)
    assert any(f"{len(unseen)} it never learned" in line for line in log)
    # Without such labels, only the held-out ones judge.
    only_held = retraining.build_candidate(examples, base, SETTINGS, log.append, active_id=3)
    assert only_held.metrics["comparison"]["n"] == len(held)
    assert only_held.metrics["comparison"]["unseen"] == 0


def test_a_training_job_counts_as_unseen_the_labels_made_after_the_active_version(
    app, client, creds, base
):
    with db.new_session(app) as s:
        site_id = s.scalar(select(Site.id).where(Site.name == "blog"))
    first = add_labelled(app, site_id, novel_spam(30, seed=4), Status.SPAM, "mod@example.org")
    first += add_labelled(app, site_id, site_ham(30, seed=4), Status.APPROVED, "mod@example.org")
    active_id = store_version(app, base, active=True)
    later = add_labelled(app, site_id, novel_spam(20, seed=5), Status.SPAM, "mod@example.org")
    later += add_labelled(app, site_id, site_ham(20, seed=5), Status.APPROVED, "mod@example.org")

    job = client.post("/api/v1/admin/training-jobs", json={}, headers=creds.headers("admin"))
    assert jobs.run_job(app, job.get_json()["id"]) is JobStatus.SUCCEEDED
    with db.new_session(app) as s:
        version = s.scalars(
            select(ClassifierVersion).order_by(ClassifierVersion.id.desc())
        ).first()
        comparison = version.metrics["comparison"]
    unseen = [i for i in later if not retraining.held_out(f"comment:{i}")]
    held = sum(retraining.held_out(f"comment:{i}") for i in first + later)
    assert version.metrics["compared_with"] == active_id
    assert (comparison["unseen"], comparison["held_out"]) == (len(unseen), held)
