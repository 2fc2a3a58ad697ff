"""Retraining: labels, the held-out split, the correction model, evaluation and the guard."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from moderation import db
from moderation import retraining
from moderation.classifier import ArtifactRefused
from moderation.classifier import Doc
from moderation.classifier import load_version
from moderation.classifier.artifact import dump_artifact
from moderation.classifier.artifact import library_versions
from moderation.problems import Problem
from moderation.retraining import CorpusError
from moderation.retraining import Example
from moderation.retraining import LocalCorrection
from moderation.settings import ModerationSettings
from moderation.tables import AuditEvent
from moderation.tables import ClassifierVersion
from moderation.tables import Comment
from moderation.tables import Site
from moderation.tables import Status
from moderation.tables import utcnow
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


def blog_id(app) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(Site.id).where(Site.name == "blog"))


def test_only_moderators_approve_and_spam_decisions_are_labels(app, creds, site_api):
    ids = [site_api.post(content=f"comment {i}").get_json()["id"] for i in range(6)]
    with db.new_session(app, write=True) as s:
        from moderation.tables import User

        moderator = s.scalar(select(User).where(User.email == "mod@example.org"))
        comments = [s.get(Comment, i) for i in ids]

        def decide(comment: Comment, status: Status, user_id: int | None) -> None:
            s.add(
                AuditEvent(
                    comment_id=comment.id,
                    actor="x",
                    user_id=user_id,
                    from_status=comment.status,
                    to_status=status,
                    at=utcnow(),
                )
            )
            comment.status = status

        decide(comments[0], Status.APPROVED, moderator.id)  # ham
        decide(comments[1], Status.SPAM, moderator.id)  # spam
        decide(comments[2], Status.REJECTED, moderator.id)  # not a label
        decide(comments[3], Status.SPAM, None)  # the system's verdict, not a label
        decide(comments[4], Status.SPAM, moderator.id)
        decide(comments[4], Status.APPROVED, moderator.id)  # "not spam": now ham
        # comments[5] stays pending
        s.commit()
    with db.new_session(app) as s:
        labels = retraining.moderator_labels(s)
        assert labels == {ids[0]: False, ids[1]: True, ids[4]: False}
        assert retraining.moderator_labels(s, [ids[1], ids[2]]) == {ids[1]: True}
        later = retraining.moderator_labels(s, since=utcnow())
        assert later == {}


def test_the_held_out_fifth_is_stable():
    keys = [f"comment:{i}" for i in range(5000)]
    first = [retraining.held_out(k) for k in keys]
    assert first == [retraining.held_out(k) for k in keys]
    assert 0.18 < sum(first) / len(first) < 0.22


def test_a_correction_learns_the_sites_spam_and_keeps_what_the_base_knows(base):
    spam = novel_spam(30, seed=1)
    ham = site_ham(30, seed=1)
    docs = [Doc(t) for t in spam + ham]
    correction = LocalCorrection(base=base).fit(docs, [1] * 30 + [0] * 30)

    unseen_spam = [Doc(t) for t in novel_spam(10, seed=99)]
    before = spam_scores(base, unseen_spam)
    after = spam_scores(correction, unseen_spam)
    assert before.mean() < 0.5 < after.mean(), (before, after)
    # What the base knew and the labels never showed is still known.
    generic = [Doc("FREE MONEY click here to win a free prize now")]
    assert spam_scores(correction, generic)[0] > 0.5
    reader = [Doc("Thanks, the second example made it click for me.")]
    assert spam_scores(correction, reader)[0] < 0.5
    pushes = correction.correction_contributions(unseen_spam[0])
    assert pushes
    assert any("telegram" in name or "signals" in name for name, _ in pushes)


def test_a_correction_fitted_on_agreeing_labels_barely_moves(base):
    docs = [Doc(t) for t in ["Buy cheap pills online now", "Great article, thanks"]]
    correction = LocalCorrection(base=base).fit(docs, [1, 0])
    probe = [Doc(t) for t in ["Cheap loans approved, click", "I shared it with my team"]]
    base_logit = retraining._logit(spam_scores(base, probe))
    new_logit = retraining._logit(spam_scores(correction, probe))
    assert np.all(np.abs(new_logit - base_logit) < 1.0)
    assert np.all(np.sign(new_logit) == np.sign(base_logit))


def test_a_correction_reweighs_the_bases_own_features(base):
    # The base learned "click" as spam; on this site readers write it in ham. Labels that
    # say so move the base's own weight for it (base_coef_), not only new n-grams.
    ham = [f"Nice, it made the idea click for me (reader note {i})" for i in range(20)]
    spam = novel_spam(20, seed=4)
    # Without the out-of-fold recalibration, which makes a fit on 40 labels less sure of
    # everything (this probe's base score of 1e-6 becomes about 3e-4): here the point is
    # the reweighing of one feature (test_retraining_calibration.py tests the calibration).
    correction = LocalCorrection(base=base, calibration_folds=0).fit(
        [Doc(t) for t in ham + spam], [0] * 20 + [1] * 20
    )
    assert correction.base_coef_ is not None
    assert correction.base_coef_.shape == (base.n_features_,)
    names = base.features_.feature_names()
    click = names.index('word "click"')
    assert correction.base_coef_[click] < 0  # towards ham, on top of the base's weight
    probe = [Doc("That diagram made it click, thanks")]
    assert spam_scores(correction, probe)[0] < spam_scores(base, probe)[0]
    # The decision is the documented sum: a * logit(p_base) + b + phi . w + x_base . v.
    z = retraining._logit(spam_scores(base, probe))
    phi = correction.ngrams_.transform([retraining.correction_text(probe[0])])
    x_base = base.features_.transform(probe)
    expected = (
        correction.slope_ * z
        + correction.intercept_
        + phi @ correction.coef_
        + x_base @ correction.base_coef_
    )
    assert correction.decision_function(probe) == pytest.approx(expected)


def test_a_correction_moves_only_the_base_features_its_labels_use(base):
    docs = [Doc(t) for t in novel_spam(15, seed=8) + site_ham(15, seed=8)]
    correction = LocalCorrection(base=base).fit(docs, [1] * 15 + [0] * 15)
    used = np.diff(base.features_.transform(docs).tocsc().indptr) > 0
    assert not used.all()  # the labels use few of the base's features
    assert np.all(correction.base_coef_[~used] == 0.0)
    assert np.any(correction.base_coef_[used] != 0.0)
    assert np.all(correction.coef_ != 0.0)  # every site n-gram comes from the labels


def test_class_balance_gives_spam_and_ham_the_same_total_weight():
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    weights = retraining.class_balance(y)
    assert weights[y == 1].sum() == pytest.approx(weights[y == 0].sum())
    assert weights.mean() == pytest.approx(1.0)
    assert np.all(retraining.class_balance(np.zeros(4)) == 1.0)


def test_a_balanced_correction_learns_rare_spam_labels_more(base):
    # Moderators' labels are mostly ham (the spam the base caught is rarely clicked): a
    # few spam labels among many ham should still teach the site's spam.
    spam = novel_spam(4, seed=11)
    ham = site_ham(40, seed=11)
    docs = [Doc(t) for t in spam + ham]
    y = [1] * 4 + [0] * 40
    plain = LocalCorrection(base=base, balance=False).fit(docs, y)
    balanced = LocalCorrection(base=base).fit(docs, y)
    unseen_spam = [Doc(t) for t in novel_spam(10, seed=98)]
    unseen_ham = [Doc(t) for t in site_ham(10, seed=98)]
    assert spam_scores(balanced, unseen_spam).mean() > spam_scores(plain, unseen_spam).mean()
    assert spam_scores(balanced, unseen_ham).max() < 0.5


def test_a_correction_saved_before_base_weights_loads_and_scores_as_before(base):
    docs = [Doc(t) for t in novel_spam(10, seed=6) + site_ham(10, seed=6)]
    old = LocalCorrection(base=base, base_weight=0.0, ngram_weight=1.0, balance=False).fit(
        docs, [1] * 10 + [0] * 10
    )
    assert old.base_coef_ is None
    for name in ("base_weight", "ngram_weight", "base_coef_", "balance"):  # as once saved
        delattr(old, name)
    blob = dump_artifact(old)
    manifest = {"libraries": library_versions()}
    loaded = load_version(blob, hashlib.sha256(blob).hexdigest(), manifest)
    assert (loaded.base_weight, loaded.ngram_weight, loaded.base_coef_) == (0.0, 1.0, None)
    assert loaded.balance is False
    probe = [Doc(t) for t in novel_spam(3, seed=7)]
    z = retraining._logit(spam_scores(base, probe))
    phi = old.ngrams_.transform([retraining.correction_text(d) for d in probe])
    expected = 1 / (1 + np.exp(-(old.slope_ * z + old.intercept_ + phi @ old.coef_)))
    assert spam_scores(loaded, probe) == pytest.approx(expected)


def test_evaluate_scores_at_the_thresholds():
    labels = [True, True, True, False, False, False, False]
    scores = [0.95, 0.6, 0.2, 0.92, 0.55, 0.1, 0.05]
    m = retraining.evaluate_scores(labels, scores, SETTINGS)
    assert m["confusion"] == {"tp": 2, "fn": 1, "fp": 2, "tn": 2}
    assert m["ham_to_spam"] == 1
    assert m["fpr_spam"] == pytest.approx(0.25)
    assert m["fpr_hold"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert m["accuracy"] == pytest.approx(4 / 7)
    assert m["pr_curve"][0][0] >= m["pr_curve"][-1][0] or m["pr_curve"]
    assert m["operating_points"]["spam"] == [pytest.approx(1 / 3, abs=1e-3), 0.5]


@pytest.mark.parametrize(
    ("candidate", "active", "acceptable"),
    [
        ({"n": 10, "f1": 0.9, "ham_to_spam": 0}, {"n": 10, "f1": 0.8, "ham_to_spam": 0}, True),
        ({"n": 10, "f1": 0.8, "ham_to_spam": 0}, {"n": 10, "f1": 0.8, "ham_to_spam": 0}, True),
        ({"n": 10, "f1": 0.7, "ham_to_spam": 0}, {"n": 10, "f1": 0.8, "ham_to_spam": 0}, False),
        # One more ham sent to spam on ten comments is no evidence (exact sign test,
        # p = 0.5): this row was False while the guard refused on any difference.
        ({"n": 10, "f1": 0.95, "ham_to_spam": 2}, {"n": 10, "f1": 0.8, "ham_to_spam": 1}, True),
        # Five more and none fewer is (p = 1/32 <= 0.05); four is not (p = 1/16).
        ({"n": 60, "f1": 0.95, "ham_to_spam": 5}, {"n": 60, "f1": 0.8, "ham_to_spam": 0}, False),
        ({"n": 60, "f1": 0.95, "ham_to_spam": 4}, {"n": 60, "f1": 0.8, "ham_to_spam": 0}, True),
        ({"n": 0, "f1": 0.0, "ham_to_spam": 0}, {"n": 0, "f1": 0.0, "ham_to_spam": 0}, None),
    ],
)
def test_compare_calls_worse_a_lower_f1_or_more_ham_sent_to_spam(candidate, active, acceptable):
    assert retraining.compare(candidate, active)["acceptable"] is acceptable


def test_build_candidate_evaluates_both_on_the_same_held_out_comments(base):
    examples = site_decisions(40)
    log: list[str] = []
    candidate = retraining.build_candidate(examples, base, SETTINGS, log.append, active_id=7)
    held = sum(retraining.held_out(e.key) for e in examples)
    assert candidate.metrics["holdout"]["n"] == held == candidate.metrics["active_on_holdout"]["n"]
    assert candidate.metrics["compared_with"] == 7
    assert candidate.metrics["comparison"]["acceptable"] is True
    assert candidate.metrics["holdout"]["f1"] > candidate.metrics["active_on_holdout"]["f1"]
    assert candidate.manifest["training_data"]["n"] == len(examples) - held
    assert candidate.manifest["sha256"] == hashlib.sha256(candidate.artifact).hexdigest()
    assert any("held-out" in line for line in log)
    # The artifact loads back through every check of the holder's loader, scores the same.
    loaded = load_version(candidate.artifact, candidate.manifest["sha256"], candidate.manifest)
    probe = [Doc(novel_spam(1, seed=5)[0])]
    assert spam_scores(loaded, probe)[0] == pytest.approx(
        spam_scores(candidate.classifier, probe)[0]
    )


def test_build_candidate_needs_both_kinds_of_label(base):
    examples = [Example(Doc(t), True, f"k{i}", "decisions") for i, t in enumerate(novel_spam(9))]
    with pytest.raises(ValueError, match="both spam and ham"):
        retraining.build_candidate(examples, base, SETTINGS, lambda _m: None)


class Untrusted:
    """A type no reviewer listed: an artifact holding it must be refused."""


def test_a_correction_holding_an_untrusted_type_is_refused(base):
    correction = LocalCorrection(base=base).fit([Doc("a b"), Doc("c d")], [1, 0])
    correction.extra = Untrusted()
    blob = dump_artifact(correction)
    manifest = {"libraries": library_versions()}
    with pytest.raises(ArtifactRefused, match="not trusted"):
        load_version(blob, hashlib.sha256(blob).hexdigest(), manifest)


@pytest.mark.parametrize("name", ["../secret.csv", "/etc/passwd", ".hidden", "missing.csv", " "])
def test_corpus_files_cannot_leave_the_corpus_folder(tmp_path, name):
    folder = tmp_path / "corpora"
    folder.mkdir()
    (tmp_path / "secret.csv").write_text("content,label\nx,spam\n")
    (folder / ".hidden").write_text("content,label\nx,spam\n")
    with pytest.raises(CorpusError):
        retraining.resolve_corpus_file({"CORPUS_DIR": str(folder)}, name)


def test_corpus_files_become_examples_keyed_by_their_text(tmp_path):
    folder = tmp_path / "corpora"
    folder.mkdir()
    (folder / "site.csv").write_text(
        "content,label,author_url\nhello there,ham,\nbuy now,spam,http://x.example\n"
    )
    (folder / "sms.txt").write_text("ham\tsee you at 5\nspam\tWIN a prize now\n")
    config = {"CORPUS_DIR": str(folder)}
    assert retraining.available_corpus_files(config) == ["site.csv", "sms.txt"]
    examples = retraining.corpus_examples(config, ["site.csv", "sms.txt"])
    assert [(e.doc.content, e.spam, e.source) for e in examples] == [
        ("hello there", False, "corpus:site.csv"),
        ("buy now", True, "corpus:site.csv"),
        ("see you at 5", False, "corpus:sms.txt"),
        ("WIN a prize now", True, "corpus:sms.txt"),
    ]
    assert examples[1].doc.author_url == "http://x.example"
    again = retraining.corpus_examples(config, ["site.csv"])
    assert [e.key for e in again] == [e.key for e in examples[:2]]
    (folder / "bad.csv").write_text("text,kind\nx,y\n")
    with pytest.raises(CorpusError, match="columns"):
        retraining.corpus_examples(config, ["bad.csv"])


def test_promotion_is_guarded_and_rollback_walks_back(app, creds, base):
    site_id = blog_id(app)
    add_labelled(app, site_id, novel_spam(40, seed=2), Status.SPAM, "mod@example.org")
    add_labelled(app, site_id, site_ham(40, seed=2), Status.APPROVED, "mod@example.org")
    base_id = store_version(app, base, active=True)
    with db.new_session(app) as s:
        examples = retraining.decision_examples(s)
    candidate = retraining.build_candidate(
        examples, base, SETTINGS, lambda _m: None, active_id=base_id
    )
    with db.new_session(app, write=True) as s:
        good_id = retraining.store_candidate(s, candidate, "admin@example.org").id
        s.commit()

    with db.new_session(app, write=True) as s:
        result = retraining.promote(s, good_id, force=False, actor="a", config=app.config)
        assert result.comparison["acceptable"] is True
        assert result.previous_id == base_id
        s.commit()
    # The base is now worse than the active version on the held-out comments: refused, and
    # judged afresh because its metrics were never compared with the active version.
    with db.new_session(app, write=True) as s:
        with pytest.raises(Problem) as refused:
            retraining.promote(s, base_id, force=False, actor="a", config=app.config)
        assert refused.value.status == 409
        assert refused.value.extensions["comparison"]["acceptable"] is False
        s.rollback()
    with db.new_session(app, write=True) as s:
        forced = retraining.promote(s, base_id, force=True, actor="a", config=app.config)
        assert forced.forced is True
        s.commit()
    # Rollback goes to the version served before, then further back, then stops.
    with db.new_session(app, write=True) as s:
        assert retraining.rollback(s, actor="a").version.id == good_id
        s.commit()
    with db.new_session(app, write=True) as s:
        assert retraining.rollback(s, actor="a").version.id == base_id
        s.commit()
    with db.new_session(app, write=True) as s:
        with pytest.raises(Problem) as nothing:
            retraining.rollback(s, actor="a")
        assert nothing.value.status == 409
    with db.new_session(app) as s:
        active = s.scalars(select(ClassifierVersion.id).where(ClassifierVersion.active)).all()
        assert active == [base_id]


def test_a_corrupt_version_is_never_promoted(app, creds, base):
    store_version(app, base, active=True)
    broken = store_version(app, base, active=False, note="broken")
    with db.new_session(app, write=True) as s:
        row = s.get(ClassifierVersion, broken)
        row.artifact = row.artifact[:-10]
        s.commit()
    with db.new_session(app, write=True) as s:
        with pytest.raises(Problem) as refused:
            retraining.promote(s, broken, force=True, actor="a", config=app.config)
        assert refused.value.type == "/problems/artifact-refused"


def test_promotion_without_held_out_comments_needs_force(app, creds, base):
    store_version(app, base, active=True)
    other = store_version(app, fit_base(), active=False, note="other")
    with db.new_session(app, write=True) as s:
        with pytest.raises(Problem) as refused:
            retraining.promote(s, other, force=False, actor="a", config=app.config)
        assert "no held-out" in refused.value.detail
        s.rollback()
        assert retraining.promote(s, other, force=True, actor="a", config=app.config).forced


def test_the_shipped_path_of_the_corpus_folder_is_under_instance(app):
    assert retraining.corpus_dir({"INSTANCE_PATH": "/srv/x"}) == Path("/srv/x/corpora")


def test_a_judgement_made_against_another_active_version_is_not_applied(app, creds, base):
    first = store_version(app, base, active=True)
    second = store_version(app, fit_base(), active=False, note="second")
    third = store_version(app, fit_base(), active=False, note="third")
    with db.new_session(app) as s:
        stale = retraining.judge_promotion(s, second, app.config)
    assert stale.active_id == first
    with db.new_session(app, write=True) as s:
        retraining.promote(s, third, force=True, actor="a", config=app.config)
        s.commit()
    with db.new_session(app, write=True) as s:
        with pytest.raises(Problem) as changed:
            retraining.apply_promotion(s, stale, force=True, actor="a")
        assert changed.value.type == "/problems/active-changed"
