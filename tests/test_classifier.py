"""The classifier: features and calibrated estimator, safe artifacts, the shipped model, and
the holder serving the database's active version in every process."""

from __future__ import annotations

import io
import json
import os
import pickletools
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io
from flask import Flask
from sqlalchemy import select
from sqlalchemy import update

from moderation import db
from moderation import training
from moderation.classifier import TRUSTED_TYPES
from moderation.classifier import ArtifactRefused
from moderation.classifier import ClassifierUnavailable
from moderation.classifier import Doc
from moderation.classifier import get_holder
from moderation.classifier import load_version
from moderation.classifier.artifact import dump_artifact
from moderation.classifier.artifact import library_versions
from moderation.classifier.artifact import sha256_of
from moderation.classifier.scorer import FastScorer
from moderation.features import CommentFeatures
from moderation.features import SpamEstimator
from moderation.reading import SIGNALS
from moderation.reading import without_links
from moderation.settings import ModerationSettings
from moderation.tables import ClassifierVersion
from moderation.tables import Comment
from moderation.tables import utcnow
from tests.conftest import shared_path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "default.skops"

HAM = [
    "Thanks for the clear write-up, it helped me a lot.",
    "I disagree with the second point, but the examples are good.",
    "Great article, I shared it with my team at work.",
    "Could you write a follow-up about testing this?",
    "This explains the bug I had last week, thank you.",
    "Nice photos from the trip, the mountains look beautiful.",
    "My grandmother used to make this recipe every winter.",
    "The documentation says the same thing, good summary.",
    "I tried this on my old laptop and it worked fine.",
    "Interesting read, though the conclusion feels a bit rushed.",
    "Where did you find the data for the second chart?",
    "Lovely post, it reminds me of my first job.",
    "I love this song, my kids sing it all day.",
    "The chorus is great but the video is too long.",
    "We read this in class today and discussed it.",
    "Happy birthday to the author, keep writing!",
]
SPAM = [
    "Buy cheap pills online now, free shipping, click here http://pills.example.com",
    "FREE MONEY!!! Click here to win a prize http://win.example.com",
    "Cheap loans approved instantly, visit www.loans.example.net now",
    "Earn $5000 a week from home, click this link http://earn.example.com",
    "Check out my channel and subscribe!!! http://youtube.example.com/me",
    "Best casino bonus, claim your FREE spins today at casino.example.com",
    "Discount watches replica cheap cheap, order now at watches.example.com",
    "Win a free iPhone, just click and enter your details www.iphone.example.org",
    "SUBSCRIBE to my channel for FREE gift cards!!! http://gift.example.com",
    "URGENT! You have WON £1000 cash. Call 09061701461 now to claim",
    "Make money fast working from home, details at http://cash.example.com",
    "Visit my website for cheap followers and likes http://likes.example.com",
]


def tiny_corpus() -> training.Corpus:
    """Return a small labelled corpus (comment texts only)."""
    docs = tuple(Doc(t) for t in HAM + SPAM)
    labels = tuple([0] * len(HAM) + [1] * len(SPAM))
    return training.Corpus(docs, labels, (False,) * len(docs))


@pytest.fixture(scope="module")
def tiny() -> SpamEstimator:
    """Fit a classifier on the tiny corpus once for the module."""
    corpus = tiny_corpus()
    return training.fit(corpus.docs, corpus.labels)


def artifact_of(classifier: Any) -> tuple[bytes, dict[str, Any]]:
    """Return a classifier's skops bytes and a minimal manifest for them."""
    blob = dump_artifact(classifier)
    return blob, {"sha256": sha256_of(blob), "libraries": library_versions()}


@pytest.fixture(scope="module")
def shipped() -> tuple[bytes, dict[str, Any]]:
    """Return the committed default artifact and its manifest."""
    manifest = json.loads((SHIPPED.parent / "manifest.json").read_text())
    return SHIPPED.read_bytes(), manifest


PROBES = [
    Doc(""),
    Doc("!!!"),
    Doc("Thanks, this helped."),
    Doc('<a href="http://spam.example.com/x">click</a> &amp; WIN now!!!'),
    Doc(
        "Ünïcödé ëverywhere, café déjà vu 2024",
        "Zoë",
        "zoe@mail.example.de",
        "https://zoe.example",
    ),
    Doc("FREE FREE FREE www.free.example.com http://x.example.net", "x", "a@b.c", None),
    *(Doc(t) for t in HAM[:3] + SPAM[:3]),
]


def test_fast_scorer_scores_exactly_as_predict_proba(tiny):
    scorer = FastScorer(tiny)
    batch = tiny.predict_proba(PROBES)[:, 1]
    one_by_one = np.array([scorer.score(doc)[0] for doc in PROBES])
    assert np.allclose(batch, one_by_one, atol=1e-12)


@pytest.fixture(scope="module")
def tiny_blog() -> SpamEstimator:
    """Fit the tiny corpus with every reading option of the blog model on."""
    corpus = tiny_corpus()
    features = CommentFeatures(
        fold_unicode=True,
        strip_urls=True,
        author_words=True,
        extra_meta=True,
        binned_signals=True,
    )
    return training.fit(corpus.docs, corpus.labels, features=features)


def test_fast_scorer_scores_exactly_as_predict_proba_with_every_reading_option(tiny_blog):
    scorer = FastScorer(tiny_blog)
    probes = [
        *PROBES,
        Doc("ḥāźeł_mcẹ̀wǝṅ on telegram @fx_lady #bitcoin +1 555 123 4567", "Cheap Pills"),
    ]
    batch = tiny_blog.predict_proba(probes)[:, 1]
    one_by_one = np.array([scorer.score(doc)[0] for doc in probes])
    assert np.allclose(batch, one_by_one, atol=1e-12)
    blob, manifest = artifact_of(tiny_blog)
    loaded = load_version(blob, manifest["sha256"], manifest)
    assert loaded.features_.reading_options() == tiny_blog.features_.reading_options()
    assert np.array_equal(loaded.predict_proba(probes), tiny_blog.predict_proba(probes))


FEATURE_NAME = re.compile(
    r'^(word|char) ".+"$|^(links to|email domain|site|has a) \S+$|^(links|length|repeats)=\d+$'
    r"|^(length|capitals|digits) bin \d$"
    r"|^(capitals|digits)=\d+%$|^(no )?author URL$"
)


def test_a_score_names_the_features_that_pushed_it(tiny):
    p, pushes = FastScorer(tiny).score(Doc("FREE MONEY!!! Click here http://win.example.com"))
    assert p > 0.5
    assert 0 < len(pushes) <= 5
    assert all(FEATURE_NAME.match(name) for name, _ in pushes), pushes
    assert max(weight for _, weight in pushes) > 0  # something pushed towards spam
    weights = [abs(weight) for _, weight in pushes]
    assert weights == sorted(weights, reverse=True)


def test_skops_round_trip_scores_the_same(tiny):
    blob, manifest = artifact_of(tiny)
    loaded = load_version(blob, manifest["sha256"], manifest)
    assert isinstance(loaded, SpamEstimator)
    assert np.array_equal(loaded.predict_proba(PROBES), tiny.predict_proba(PROBES))
    untrusted = skops.io.get_untrusted_types(data=blob)
    assert set(untrusted) <= set(TRUSTED_TYPES)
    assert "moderation.features.SpamEstimator" in untrusted


def test_a_classifier_that_has_scored_saves_no_ngram_lookup(tiny):
    tiny.predict_proba(PROBES)  # builds the per-process n-gram lookups (ngrams.Index)
    assert "_indexes" in tiny.features_.__dict__
    blob = dump_artifact(tiny)
    untrusted = skops.io.get_untrusted_types(data=blob)
    assert not [name for name in untrusted if name.startswith("moderation.ngrams")]
    assert set(untrusted) <= set(TRUSTED_TYPES)


def test_training_never_changes_the_estimator_it_saves(tiny):
    before = tiny.predict_proba(PROBES)
    dump_artifact(tiny)  # __getstate__ compacts vocabularies in a copy only
    assert np.array_equal(tiny.predict_proba(PROBES), before)


def marker_pickle(marker: Path) -> bytes:
    """Return a protocol-0 pickle whose loading would create `marker` (builtins.open)."""
    return f"cbuiltins\nopen\n(V{marker}\nVw\ntR.".encode()


def refused_artifacts(tiny: SpamEstimator, tmp_path: Path) -> dict[str, tuple[bytes, str, dict]]:
    """Return {case: (blob, sha256, manifest)} for every way an artifact is refused."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import FunctionTransformer

    good, manifest = artifact_of(tiny)
    versions = library_versions()
    cases: dict[str, tuple[bytes, str, dict]] = {}
    evil = marker_pickle(tmp_path / "pickle-ran")
    cases["a pickle"] = (evil, sha256_of(evil), {**manifest, "sha256": sha256_of(evil)})
    cases["checksum mismatch"] = (good + b"\0", manifest["sha256"], manifest)
    cases["manifest checksum mismatch"] = (
        good,
        manifest["sha256"],
        {**manifest, "sha256": "0" * 64},
    )
    older = {**manifest, "libraries": {**versions, "scikit-learn": "1.0.2"}}
    cases["another scikit-learn"] = (good, manifest["sha256"], older)
    cases["no scikit-learn version"] = (good, manifest["sha256"], {"sha256": manifest["sha256"]})
    truncated = good[: len(good) // 2]
    cases["truncated"] = (
        truncated,
        sha256_of(truncated),
        {**manifest, "sha256": sha256_of(truncated)},
    )
    hostile = dump_artifact(FunctionTransformer(func=os.system))
    cases["untrusted type"] = (
        hostile,
        sha256_of(hostile),
        {**manifest, "sha256": sha256_of(hostile)},
    )
    numeric = dump_artifact(LogisticRegression().fit([[0.0], [1.0]], [0, 1]))
    cases["fails the canary"] = (
        numeric,
        sha256_of(numeric),
        {**manifest, "sha256": sha256_of(numeric)},
    )
    return cases


REFUSALS = [
    ("a pickle", "not a skops artifact"),
    ("checksum mismatch", "checksum mismatch"),
    ("manifest checksum mismatch", "checksum mismatch"),
    ("another scikit-learn", "scikit-learn 1.0.2"),
    ("no scikit-learn version", "does not say which scikit-learn"),
    ("truncated", "not a skops artifact"),
    ("untrusted type", "not trusted"),
    ("fails the canary", "canary"),
]


@pytest.mark.parametrize(("case", "reason"), REFUSALS)
def test_loading_refuses_unsafe_or_broken_artifacts(tiny, tmp_path, case, reason):
    blob, sha256, manifest = refused_artifacts(tiny, tmp_path)[case]
    with pytest.raises(ArtifactRefused, match=reason):
        load_version(blob, sha256, manifest)


def test_a_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pickle-ran"
    evil = marker_pickle(marker)
    pickletools.dis(evil, out=io.StringIO())  # it is a valid pickle calling open(marker)
    manifest = {"sha256": sha256_of(evil), "libraries": library_versions()}
    with pytest.raises(ArtifactRefused, match="pickles are never loaded"):
        load_version(evil, sha256_of(evil), manifest)
    assert not marker.exists()


# --- the shipped default ---


def test_the_shipped_artifact_matches_its_manifest_and_card(shipped):
    blob, manifest = shipped
    assert len(blob) < 20 * 1024 * 1024
    assert sha256_of(blob) == manifest["sha256"]
    assert manifest["libraries"]["scikit-learn"] == library_versions()["scikit-learn"]
    assert manifest["command"].startswith("flask model train ")
    assert {s["name"] for s in manifest["training_data"]["sources"]} == {
        "Youtube01-Psy.csv",
        "Youtube02-KatyPerry.csv",
        "Youtube03-LMFAO.csv",
        "Youtube04-Eminem.csv",
        "SMSSpamCollection",
        "comments_extracted.json",
        "fox-news-comments.json",
        "labeled_data.csv",
    }
    card = (SHIPPED.parent / "card.md").read_text()
    needles = ("CC BY 4.0", "doi:10.24432/C58885", "doi:10.24432/C5CC84", "Davidson", "MIT")
    needles += ("ScamSpot", "Gao, Huang", "leave one corpus out")
    for needle in (*needles, manifest["command"]):
        assert needle in card


@pytest.mark.parametrize(
    ("text", "spam"),
    [
        ("Check out my channel and subscribe!!! http://bit.ly/2xyz", True),
        ("WINNER!! You have won a £1000 prize. Call 09061701461 to claim now", True),
        ("FREE iPhone giveaway, click here http://free-iphone.example.com", True),
        ("Thanks for the clear write-up, the second example helped me a lot.", False),
        ("I love this song, it reminds me of summer with my friends.", False),
        ("Great post. I disagree with the last paragraph: it ignores warm caches.", False),
    ],
)
def test_the_shipped_model_scores_spam_high_and_reader_comments_low(shipped, text, spam):
    blob, manifest = shipped
    classifier = load_version(blob, manifest["sha256"], manifest)
    p = classifier.predict_proba([Doc(text, "Reader", "reader@example.org")])[0, 1]
    # Spam is never published (the default hold threshold, 0.5); a reader's comment is
    # published with a low score. Trained with news and Instagram comments too, the model
    # is less sure of YouTube's giveaways than the YouTube-only one was (0.75, held).
    assert p >= 0.5 if spam else p < 0.3


@pytest.mark.parametrize(
    ("text", "spam"),
    [
        ("I disagree with point 3, see the docs: https://docs.python.org/3/library/json.html", 0),
        ("Good point. There is a longer discussion at https://en.wikipedia.org/wiki/Caching", 0),
        ("Same problem with my router, this thread helped: https://forum.openwrt.org/t/1234", 0),
        ("Check out my channel for free iPhone giveaway!!! subscribe http://bit.ly/xxx", 1),
        ("Earn $5000 a week from home, click here www.cash-now.biz", 1),
    ],
)
def test_the_shipped_model_does_not_send_a_reader_comment_to_spam_for_one_link(
    shipped, text, spam
):
    # The YouTube corpus has almost no ham with a link: the link count is not a feature,
    # and tweets with links (Davidson) are extra ham, so one link alone is not spam.
    blob, manifest = shipped
    classifier = load_version(blob, manifest["sha256"], manifest)
    p = classifier.predict_proba([Doc(text, "Reader", "reader@example.org")])[0, 1]
    threshold = ModerationSettings().spam_threshold
    assert p >= threshold if spam else p < threshold


def test_probabilities_are_calibrated_on_held_out_videos():
    data = shared_path("data")
    videos = sorted((data / "youtube-spam-collection").glob("Youtube0*.csv"))
    sms = training.read_corpus(data / "sms-spam-collection" / "SMSSpamCollection", "sms")
    tweets = training.read_corpus(
        data / "davidson-hate-speech-offensive" / "labeled_data.csv", "davidson"
    )  # as the shipped model is trained: extra ham, not calibrated on
    train = training.Corpus.join(
        [training.read_corpus(v, "youtube") for v in videos[:2]] + [sms, tweets]
    )
    # Two unseen videos, so that every score band holds enough comments to judge.
    held_out = training.Corpus.join([training.read_corpus(v, "youtube") for v in videos[2:]])
    classifier = training.fit(train.docs, train.labels, train.aux, train.calibrated)
    p = training.spam_scores(classifier, held_out.docs)
    y = np.asarray(held_out.labels)
    # Reliability: in each score band, the predicted and the observed share of spam agree.
    gaps = []
    for low, high in [(0.0, 0.1), (0.1, 0.5), (0.5, 0.9), (0.9, 1.01)]:
        band = (p >= low) & (p < high)
        assert band.sum() >= 10, (low, high, band.sum())
        gaps.append((band.sum(), abs(p[band].mean() - y[band].mean())))
    expected_error = sum(n * gap for n, gap in gaps) / sum(n for n, _ in gaps)
    assert expected_error < 0.05, gaps
    assert max(gap for _, gap in gaps) < 0.2, gaps
    assert np.mean((p - y) ** 2) < 0.05  # Brier score


# --- the holder: the database's active version, in every process ---


def add_version(
    app: Flask,
    blob: bytes,
    manifest: dict[str, Any],
    *,
    sha256: str | None = None,
    activate: bool = True,
) -> int:
    """Store a version row; activate it (and deactivate the others) in one transaction."""
    with db.new_session(app, write=True) as s:
        if activate:
            s.execute(update(ClassifierVersion).values(active=False))
        row = ClassifierVersion(
            created_by="test",
            artifact=blob,
            sha256=sha256 or manifest["sha256"],
            manifest=manifest,
            metrics={},
            active=activate,
            activated_at=utcnow() if activate else None,
        )
        s.add(row)
        s.commit()
        return row.id


def import_shipped(app: Flask) -> int:
    """Import the shipped artifact as the database's first, active version."""
    with db.new_session(app, write=True) as s:
        row = training.import_default_artifact(s, SHIPPED)
        s.commit()
        return row.id


def test_the_holder_is_unavailable_until_a_version_is_active(app):
    with app.app_context():
        holder = get_holder()
        with pytest.raises(ClassifierUnavailable, match="no classifier version is active"):
            holder.score(Doc("hello"))
        status = holder.status()
    assert status["loaded"] is False
    assert status["version"] is None


def test_the_holder_serves_the_imported_default_and_explains_its_score(app, client):
    version = import_shipped(app)
    with app.app_context():
        score = get_holder().score(
            Doc("Check out my channel, free iPhone giveaway!!! http://bit.ly/x")
        )
    assert score.version == version
    assert score.spam_probability >= 0.9
    assert score.top_features
    assert all(FEATURE_NAME.match(c.feature) for c in score.top_features)
    body = client.get("/readyz").get_json()
    assert body["classifier"]["loaded"] is True
    assert body["classifier"]["version"] == version


@pytest.mark.parametrize(
    "corruption", ["truncated bytes", "checksum mismatch", "another scikit-learn", "a pickle"]
)
def test_a_refused_version_leaves_the_old_one_serving(app, shipped, tmp_path, corruption):
    blob, manifest = shipped
    first = import_shipped(app)
    with app.app_context():
        holder = get_holder()
        assert holder.score(Doc("hello")).version == first
        if corruption == "truncated bytes":
            bad = blob[: len(blob) // 3]
            second = add_version(app, bad, {**manifest, "sha256": sha256_of(bad)})
        elif corruption == "checksum mismatch":
            second = add_version(app, blob[:-1] + b"x", manifest)
        elif corruption == "another scikit-learn":
            libraries = {**manifest["libraries"], "scikit-learn": "0.24.2"}
            second = add_version(app, blob, {**manifest, "libraries": libraries})
        else:
            evil = marker_pickle(tmp_path / "pickle-ran")
            second = add_version(app, evil, {**manifest, "sha256": sha256_of(evil)})
        assert holder.score(Doc("hello")).version == first  # still serving
        status = holder.status()
        assert status["version"] == first
        assert status["refused"]["version"] == second
        assert status["refused"]["reason"]
        assert not (tmp_path / "pickle-ran").exists()
        third = add_version(app, blob, manifest)  # a good promotion is taken up
        assert holder.score(Doc("hello")).version == third
        assert holder.status()["refused"] is None


WATCHER = """
import sys, time
from moderation import create_app
from moderation.classifier import Doc, get_holder
app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": sys.argv[1],
                  "CLASSIFIER_POLL_SECONDS": 0.2, "CLASSIFIER_RESCORE_ON_LOAD": False})
with app.app_context():
    holder = get_holder()
    first = holder.score(Doc("hello")).version
    print(first, flush=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        version = holder.score(Doc("hello")).version
        if version != first:
            print(version, flush=True)
            break
        time.sleep(0.02)
"""


def test_a_promotion_reaches_another_process_within_the_poll_interval(app, shipped):
    blob, manifest = shipped
    first = import_shipped(app)
    with subprocess.Popen(
        [sys.executable, "-c", WATCHER, app.config["DATABASE_URL"]],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as watcher:
        try:
            assert watcher.stdout is not None
            assert watcher.stdout.readline().strip() == str(first)
            promoted_at = time.monotonic()
            second = add_version(app, blob, manifest)
            assert watcher.stdout.readline().strip() == str(second)
            assert time.monotonic() - promoted_at < 5.0
            assert watcher.wait(timeout=10) == 0
        finally:
            if watcher.poll() is None:
                watcher.kill()


def test_the_intake_scores_with_the_shipped_model(app, site_api):
    version = import_shipped(app)
    spam = site_api.post(content="Check out my channel and subscribe!!! http://bit.ly/2xyz")
    assert spam.status_code == 201
    body = spam.get_json()
    assert body["status"] == "spam"
    reason = next(r for r in body["reasons"] if r["code"] == "spam_score")
    assert f"(v{version})" in reason["detail"]
    assert reason["features"]
    ham = site_api.post(content="Thanks for the clear write-up, the second example helped.")
    assert ham.get_json()["status"] == "pending"  # a first comment waits, scored low
    assert any(r["code"] == "low_score" for r in ham.get_json()["reasons"])
    with db.new_session(app) as s:
        versions = set(s.scalars(select(ClassifierVersion.id)))
    assert versions == {version}


READER_WITH_LINK = (
    "I had the same problem, this StackOverflow answer fixed it for me "
    "https://stackoverflow.com/questions/123/how-to"
)


def test_the_holder_scores_a_comment_without_its_links(app):
    import_shipped(app)
    with app.app_context():
        holder = get_holder()
        score = holder.score(Doc(READER_WITH_LINK, "Reader", "reader@example.org"))
        own = holder.score(Doc(without_links(READER_WITH_LINK), "Reader", "reader@example.org"))
        plain = holder.score(Doc("A reply without any link, long enough to be a sentence."))
        caption = holder.score(Doc("please like :D https://vote.example.com/1"))
        caption_words = holder.score(
            Doc(without_links("please like :D https://vote.example.com/1"))
        )
    # The shipped model learned "a link = spam" from its corpora: the link alone makes
    # this reader's comment spam, its own words do not.
    assert score.spam_probability >= 0.9
    assert score.without_links == pytest.approx(own.spam_probability)
    assert score.without_links < 0.5
    assert own.without_links is None
    assert plain.without_links is None
    # A caption is judged by its own few words too ("please like" is spam vocabulary).
    assert caption.without_links == pytest.approx(caption_words.spam_probability)


SELF_PROMOTION = (
    "Hey everyone! I am a 15 year old singer and songwriter from Ohio. I just uploaded my"
    " first cover and it would mean the world to me if you listened to it and told me what"
    " you think. I have been practicing for years and I really want to get better, thank"
    " you so much for reading this!"
)


def test_the_holder_scores_a_comment_without_its_shape_signals(app):
    import_shipped(app)
    with app.app_context():
        loaded = get_holder().current()
        score = get_holder().score(Doc(SELF_PROMOTION))
        low = get_holder().score(Doc("Thanks, the second example helped me."), 0.5)
    # Its words as the estimator weighs them with the signal columns at 0 (their mean).
    estimator = loaded.classifier
    row = estimator.features_.transform([Doc(SELF_PROMOTION)]).toarray()[0]
    row[estimator.n_features_ - len(SIGNALS) :] = 0.0
    z = estimator.slope_ * (row @ estimator.coef_ + estimator.intercept_) + estimator.offset_
    assert score.without_signals == pytest.approx(1 / (1 + np.exp(-z)), abs=1e-9)
    assert score.spam_probability >= 0.9 > score.without_signals  # the length pushes it over
    assert low.spam_probability < 0.5
    assert low.without_signals is None  # not asked under the hold threshold


def turn_off_the_guard(client, creds) -> None:
    """Switch off "links or length alone never send a comment to spam", as an admin."""
    turned_off = client.patch(
        "/api/v1/admin/settings",
        json={"links_alone_never_spam": False},
        headers=creds.headers("admin"),
    )
    assert turned_off.status_code == 200, turned_off.get_json()


def test_the_intake_holds_a_comment_that_only_its_length_makes_spam(app, client, creds, site_api):
    version = import_shipped(app)
    body = site_api.post(content=SELF_PROMOTION).get_json()
    assert body["status"] == "pending"
    (reason,) = [r for r in body["reasons"] if r["code"] == "signals_alone"]
    assert reason["detail"].endswith(f"digits and repeats: held, not spam (v{version})")
    with db.new_session(app) as s:
        assert s.get(Comment, body["id"]).spam_score_without_signals < 0.9
    turn_off_the_guard(client, creds)
    again = site_api.post(content=SELF_PROMOTION, author_email="c@example.org")
    assert again.get_json()["status"] == "spam"


@pytest.mark.parametrize(
    ("content", "author", "status", "code"),
    [
        # A reader's thanks or source: a link is all that scores it spam (the issue's
        # "Great post, thanks!" scored 0.93); its words alone do not. Held, not spam.
        ("Great post, thanks! https://example.org", "Dana", "pending", "links_alone"),
        (READER_WITH_LINK, "Reader", "pending", "links_alone"),
        # Spam whose own words are spam as well still goes to spam with its link.
        (
            "Check out my channel, free iPhone giveaway!!! http://bit.ly/xx",
            "Promo",
            "spam",
            "spam_score",
        ),
        (
            "I made $5000 in one week with bitcoin trading, message Mr. Smith on telegram"
            " https://t.me/investwithsmith",
            "Smith",
            "spam",
            "spam_score",
        ),
    ],
)
def test_a_link_alone_holds_a_comment_and_spam_words_still_send_it_to_spam(
    app, site_api, content, author, status, code
):
    import_shipped(app)
    body = site_api.post(content=content, author_name=author).get_json()
    assert body["status"] == status
    assert [r["code"] for r in body["reasons"] if "features" in r] == [code]


def test_the_intake_holds_a_comment_that_only_its_link_makes_spam(app, client, creds, site_api):
    version = import_shipped(app)
    reader = site_api.post(content=READER_WITH_LINK)
    assert reader.status_code == 201
    body = reader.get_json()
    assert body["status"] == "pending"
    (reason,) = [r for r in body["reasons"] if r["code"] == "links_alone"]
    assert reason["detail"].endswith(f"without: held, not spam (v{version})")
    assert reason["features"]
    spam = site_api.post(content="Check out my channel, free iPhone giveaway!!! http://bit.ly/xx")
    assert spam.get_json()["status"] == "spam"  # its own words are spam too
    with db.new_session(app) as s:
        stored = s.get(Comment, body["id"])
        assert stored.spam_score_without_links < 0.5
    # An admin who prefers Akismet's way turns the rule off: the same comment is spam.
    turn_off_the_guard(client, creds)
    again = site_api.post(content=READER_WITH_LINK, author_email="b@example.org")
    assert again.get_json()["status"] == "spam"


def test_the_holder_serves_and_explains_a_retrained_correction(app, shipped):
    from moderation.retraining import LocalCorrection

    blob, manifest = shipped
    base = load_version(blob, manifest["sha256"], manifest)
    texts = ["Join my telegram group for crypto signals, ask mentor Anna", "Thanks, nice post"]
    # 40 labels of each: a retrained correction is recalibrated (Platt's targets), so it is
    # at most (n + 1) / (n + 2) sure of n spam labels; 10 of them capped a paraphrase at 0.84.
    correction = LocalCorrection(base=base).fit([Doc(t) for t in texts * 40], [1, 0] * 40)
    corrected, corrected_manifest = artifact_of(correction)
    version = add_version(app, corrected, corrected_manifest)
    with app.app_context():
        score = get_holder().score(Doc("Ask mentor Anna on telegram for crypto signals"))
    assert score.version == version
    assert score.spam_probability >= 0.9
    assert score.top_features


def test_the_card_written_by_export_carries_the_shipped_cards_sources_and_limits(shipped):
    # `flask model train … --export models` writes the card: from the shipped manifest it
    # must name every source with its licence, the signals as trained, and the link limit.
    from moderation.classifier.card import render_card

    _, manifest = shipped
    manifest = dict(manifest)
    metrics = manifest.pop("metrics")
    card = render_card(manifest, metrics)
    for needle in ("CC BY 4.0", "doi:10.24432/C58885", "Davidson", "MIT licence", "ICWSM 2017"):
        assert needle in card
    assert "`link_signal=False`" in card
    assert '"com" most' in card
    assert manifest["command"] in card
    without_tweets = {
        **manifest,
        "training_data": {
            **manifest["training_data"],
            "sources": [
                s for s in manifest["training_data"]["sources"] if s["format"] != "davidson"
            ],
        },
        "params": {**manifest["params"], "features": {"link_signal": True}},
    }
    plain = render_card(without_tweets, metrics)
    assert "Davidson" not in plain
    assert "link count, author URL present" in plain


def test_the_card_shows_the_leave_one_corpus_out_table_first(shipped):
    from moderation.classifier.card import render_card

    _, manifest = shipped
    manifest = dict(manifest)
    metrics = dict(manifest.pop("metrics"))
    fox = {"n": 1528, "n_spam": 0, "roc_auc": None, "f1": 0.0, "fpr_spam": 0.0013}
    metrics["leave_one_corpus_out"] = {
        "ScamSpot": {"n": 3444, "n_spam": 1150, "roc_auc": 0.83, "f1": 0.26, "recall": 0.16},
        "Fox News": {**fox, "mcc": 0.0, "fpr_hold": 0.0209},
    }
    manifest["params"] = {
        **manifest["params"],
        "features": {**manifest["params"]["features"], "binned_signals": True},
    }
    card = render_card(manifest, metrics)
    metrics_part = card.split("## Metrics", 1)[1]
    assert metrics_part.index("leave one corpus out") < metrics_part.index("cross-validation")
    assert "| ScamSpot | 3444 | 1150 | 0.8300 | 0.2600 |" in card
    assert "| Fox News | 1528 | 0 | – | – | – | 0.13 % | 2.09 % | – |" in card
    assert "length, capitals and digits are bins" in card
