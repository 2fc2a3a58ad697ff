"""Training: corpus readers, fit and evaluation, version rows, the default import, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func
from sqlalchemy import select

from moderation import db
from moderation import training
from moderation.classifier import ArtifactRefused
from moderation.classifier import Doc
from moderation.classifier import load_version
from moderation.classifier.artifact import sha256_of
from moderation.settings import ModerationSettings
from moderation.tables import ClassifierVersion
from moderation.tables import Site
from moderation.tables import Status
from tests.admin_support import add_labelled
from tests.test_classifier import HAM
from tests.test_classifier import SHIPPED
from tests.test_classifier import SPAM
from tests.test_classifier import tiny_corpus

SETTINGS = ModerationSettings()

# --- corpus files: every format, as given and sniffed ---

YOUTUBE = (
    "COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS\n"
    'a1,Julius NM,2013-11-07T06:20:48,"Huh, check out this channel: kobyoshi02",1\n'
    "a2,Ann,,i love this song\ufeff,0\n"
    'a3,Bob,2014-01-01,"multi\nline ""quoted"" text",0\n'
)
SMS = 'ham\tGo until jurong point, "crazy".. Available only\nspam\tFree entry in 2 a wkly comp\n'
CSV = (
    "content,label,author_name,author_email,author_url\n"
    "Buy pills now,spam,Bot,bot@spam.example,http://spam.example\n"
    "Nice post,ham,Ann,ann@example.org,\n"
    "Cheap loans,1,,,\n"
    "Thanks!,0,,,\n"
)
JSONL = (
    '{"content": "Buy pills now", "label": "spam", "author_url": "http://spam.example"}\n'
    "\n"
    '{"content": "Nice post", "label": 0, "author_name": "Ann"}\n'
)
DAVIDSON = (
    ",count,hate_speech,offensive_language,neither,class,tweet\n"
    "0,3,0,0,3,2,so tired today\n"
    '1,3,0,3,0,1,"RT @someone: look at this &amp; laugh http://t.co/abc123"\n'
    "2,3,0,0,3,2,another plain tweet\n"
)
SCAMSPOT = json.dumps(
    {
        "1801": {"text": "dm #hāźeł_mcẹ̀wǝṅ for profits", "account": "binance", "type": "scam"},
        "1802": {"text": "great chart", "account": "wsj", "type": "real", "media": "9"},
        "1803": {"text": "who knows", "account": "wsj", "type": "unknown"},
        "1804": {"text": "invest with @fx_lady now", "account": "wsj", "type": "scam"},
    },
    ensure_ascii=False,
    indent=4,
)
FOXNEWS = "\n".join(
    json.dumps(row)
    for row in (
        {"title": "Vote", "text": "Nonsense, read the bill.", "label": 1, "user": "bob"},
        {"title": "Vote", "text": "A fair point, https://www.gao.gov/x", "label": 0},
        {"title": "Budget", "text": "Cut it.", "label": 0, "user": "ann", "meta": "m"},
    )
)
FILES = {
    "videos.csv": (YOUTUBE, "youtube", [1, 0, 0], False),
    "comments_extracted.json": (SCAMSPOT, "scamspot", [1, 0, 1], False),
    "fox-news-comments.json": (FOXNEWS, "foxnews", [0, 0, 0], False),
    "SMSSpamCollection": (SMS, "sms", [0, 1], True),
    "generic.csv": (CSV, "csv", [1, 0, 1, 0], False),
    "lines.jsonl": (JSONL, "jsonl", [1, 0], False),
    "labeled_data.csv": (DAVIDSON, "davidson", [0, 0], False),
}


@pytest.mark.parametrize("name", list(FILES))
@pytest.mark.parametrize("given", [True, False], ids=["format given", "format sniffed"])
def test_read_corpus_reads_every_format(tmp_path, name, given):
    text, fmt, labels, aux = FILES[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    corpus = training.read_corpus(path, fmt if given else None)
    assert list(corpus.labels) == labels
    assert set(corpus.aux) == {aux}
    assert corpus.sources[0]["format"] == fmt
    assert corpus.sources[0]["n"] == len(labels)
    assert all(doc.content and "\ufeff" not in doc.content for doc in corpus.docs)


def test_davidson_tweets_are_extra_ham_learned_from_but_not_calibrated_on(tmp_path):
    path = tmp_path / "labeled_data.csv"
    path.write_text(DAVIDSON, encoding="utf-8")
    tweets = training.read_corpus(path)
    # Every tweet with a link, then every DAVIDSON_STRIDE-th one without.
    assert [d.content for d in tweets.docs] == [
        "RT @someone: look at this &amp; laugh http://t.co/abc123",
        "so tired today",
    ]
    assert tweets.sources[0]["role"] == "extra ham"
    assert tweets.calibrated == (False, False)
    corpus = training.Corpus.join([tiny_corpus(), tweets])
    assert corpus.calibrated == (True,) * len(tiny_corpus()) + (False, False)
    assert training.fit(corpus.docs, corpus.labels, corpus.aux, corpus.calibrated)


def test_scamspot_and_foxnews_keep_their_groups_and_extras(tmp_path):
    (tmp_path / "s.json").write_text(SCAMSPOT, encoding="utf-8")
    (tmp_path / "f.json").write_text(FOXNEWS, encoding="utf-8")
    (tmp_path / "y.csv").write_text(YOUTUBE, encoding="utf-8")
    scams = training.read_corpus(tmp_path / "s.json")
    # "unknown" is skipped; folds group by the account commented on.
    assert scams.groups == ("binance", "wsj", "wsj")
    assert scams.docs[0].content == "dm #hāźeł_mcẹ̀wǝṅ for profits"
    fox = training.read_corpus(tmp_path / "f.json")
    assert fox.groups == ("Vote", "Vote", "Budget")
    assert fox.docs[0].author_name == "bob"
    # Hatefulness is not spam: every row is ham, the label kept as an extra.
    assert [e["hateful"] for e in fox.extras] == [1, 0, 0]
    youtube = training.read_corpus(tmp_path / "y.csv")
    joined = training.Corpus.join([youtube, fox])
    assert joined.groups == ("y.csv",) * 3 + ("Vote", "Vote", "Budget")
    assert len(joined.extras) == len(joined)


def test_read_corpus_keeps_fields_and_quotes(tmp_path):
    (tmp_path / "c.csv").write_text(CSV)
    (tmp_path / "s").write_text(SMS)
    (tmp_path / "y.csv").write_text(YOUTUBE)
    generic = training.read_corpus(tmp_path / "c.csv", "csv")
    assert generic.docs[0] == Doc(
        "Buy pills now", "Bot", "bot@spam.example", "http://spam.example"
    )
    assert generic.docs[1].author_url is None
    sms = training.read_corpus(tmp_path / "s", "sms")
    assert sms.docs[0].content == 'Go until jurong point, "crazy".. Available only'
    youtube = training.read_corpus(tmp_path / "y.csv", "youtube")
    assert youtube.docs[0].author_name == "Julius NM"
    assert youtube.docs[2].content == 'multi\nline "quoted" text'


@pytest.mark.parametrize(
    ("name", "text", "fmt", "message"),
    [
        ("bad.csv", "text,label\nhi,spam\n", "csv", "expected the columns content,label"),
        ("bad.csv", "content,label\nhi,maybe\n", "csv", "neither spam/ham nor 1/0"),
        ("bad.jsonl", '{"content": "hi", "label": "spam"}\n{oops\n', "jsonl", "bad.jsonl:2"),
        ("bad.tsv", "ham\n", "sms", "expected label<TAB>text"),
        ("bad.csv", "content,label\nhi,spam\n", "youtube", "expected the columns"),
        ("s.json", '["not", "an", "object"]', "scamspot", "expected one JSON object"),
        ("s.json", '{"1": {"text": "hi"}}', "scamspot", "comment 1: expected the keys"),
        ("f.json", '{"text": "hi", "title": "t"}\n{"text": 1}\n', "foxnews", "f.json:2"),
        ("f.json", '{"text": "hi", "title": "t"}\n{oops\n', "foxnews", "f.json:2"),
    ],
)
def test_read_corpus_refuses_bad_files_clearly(tmp_path, name, text, fmt, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(training.CorpusError, match=message):
        training.read_corpus(path, fmt)


def test_read_corpus_deduplicates_when_asked(tmp_path):
    path = tmp_path / "s"
    path.write_text("ham\thi\nham\thi\nspam\thi\nham\tho\n")
    assert len(training.read_corpus(path, "sms")) == 4
    assert len(training.read_corpus(path, "sms", dedupe=True)) == 3


# --- fit, evaluate, train ---


def test_evaluate_scores_counts_at_the_settings_thresholds():
    labels = [0, 0, 0, 1, 1]
    scores = [0.1, 0.6, 0.95, 0.4, 0.99]
    m = training.evaluate_scores(labels, scores, SETTINGS)
    assert m["n"] == 5
    assert m["accuracy"] == pytest.approx(2 / 5)  # flagged at ≥ 0.5
    assert m["fpr_hold"] == pytest.approx(2 / 3)
    assert m["fpr_spam"] == pytest.approx(1 / 3)
    assert m["ham_to_spam"] == 1
    strict = training.evaluate_scores(labels, scores, ModerationSettings(spam_threshold=0.96))
    assert strict["fpr_spam"] == 0


def test_train_evaluates_and_builds_a_loadable_version():
    trained = training.train(tiny_corpus(), SETTINGS, command="flask model train x.csv")
    m = trained.metrics["validation"]
    assert m["n"] == len(HAM) + len(SPAM)
    assert {"accuracy", "f1", "roc_auc", "mcc", "fpr_spam", "fpr_hold"} <= m.keys()
    assert m["roc_auc"] > 0.8  # cross-validated on 28 texts: a sanity floor
    manifest = trained.manifest
    assert manifest["sha256"] == sha256_of(trained.artifact)
    assert manifest["libraries"]["scikit-learn"]
    assert manifest["command"] == "flask model train x.csv"
    assert manifest["training_data"]["n"] == len(HAM) + len(SPAM)
    assert not hasattr(trained.classifier, "cv_proba_")  # not saved in the artifact
    loaded = load_version(trained.artifact, manifest["sha256"], manifest)
    docs = [Doc(HAM[0]), Doc(SPAM[0])]
    assert np.array_equal(loaded.predict_proba(docs), trained.classifier.predict_proba(docs))


def test_auxiliary_texts_get_their_own_weights_and_do_not_calibrate():
    corpus = tiny_corpus()
    sms = training.Corpus(
        (Doc("URGENT call 0800 now to claim your prize"), Doc("ok see you at 5 then")) * 5,
        (1, 0) * 5,
        (True,) * 10,
    )
    both = training.Corpus.join([corpus, sms])
    classifier = training.fit(both.docs, both.labels, both.aux)
    assert classifier.aux_coef_ is not None
    assert len(classifier.aux_coef_) == classifier.n_features_ + 1  # copies + intercept
    alone = training.fit(sms.docs, sms.labels, sms.aux)  # one medium only: no copies
    assert alone.aux_coef_ is None


def test_fit_refuses_a_single_label():
    with pytest.raises(ValueError, match="both spam"):
        training.fit([Doc("a"), Doc("b")], [0, 0])


# --- version rows and the shipped default ---


def test_store_version_adds_an_inactive_row_with_its_id(app):
    trained = training.train(tiny_corpus(), SETTINGS)
    with db.new_session(app, write=True) as s:
        row = training.store_version(s, trained, "tester", note="tiny")
        s.commit()
        version_id = row.id
    with db.new_session(app) as s:
        row = s.get(ClassifierVersion, version_id)
        assert row.active is False
        assert row.manifest["version"] == version_id
        assert row.sha256 == sha256_of(row.artifact)
        assert row.metrics["validation"]["n"] == len(HAM) + len(SPAM)


def test_a_fresh_database_imports_the_default_once(app):
    with db.new_session(app, write=True) as s:
        row = training.import_default_artifact(s, SHIPPED)
        s.commit()
        assert row is not None
        assert row.active
        assert row.activated_at is not None
        assert row.manifest["version"] == row.id
        assert training.import_default_artifact(s, SHIPPED) is None
        s.commit()
        assert s.scalar(select(func.count()).select_from(ClassifierVersion)) == 1


@pytest.mark.parametrize("tamper", ["sha256", "scikit-learn"])
def test_the_default_import_refuses_a_tampered_artifact(app, tmp_path, tamper):
    shutil.copy(SHIPPED, tmp_path / "default.skops")
    manifest = json.loads((SHIPPED.parent / "manifest.json").read_text())
    if tamper == "sha256":
        manifest["sha256"] = "0" * 64
    else:
        manifest["libraries"]["scikit-learn"] = "1.0.2"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with db.new_session(app, write=True) as s:
        with pytest.raises(ArtifactRefused):
            training.import_default_artifact(s, tmp_path / "default.skops")
        assert s.scalar(select(func.count()).select_from(ClassifierVersion)) == 0


# --- `flask model …` ---


@pytest.fixture
def model_cli(app: Flask) -> FlaskCliRunner:
    """Return a CLI runner (the `model` group is registered by create_app)."""
    return app.test_cli_runner()


def write_corpus(tmp_path: Path) -> tuple[Path, Path]:
    """Write the tiny corpus as generic CSV and JSON lines."""
    csv_path = tmp_path / "tiny.csv"
    lines = ["content,label"]
    lines += [f'"{t}",ham' for t in HAM] + [f'"{t}",spam' for t in SPAM]
    csv_path.write_text("\n".join(lines) + "\n")
    jsonl_path = tmp_path / "tiny.jsonl"
    records = [{"content": t, "label": 0} for t in HAM] + [
        {"content": t, "label": 1} for t in SPAM
    ]
    jsonl_path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return csv_path, jsonl_path


def active_id(app: Flask) -> int | None:
    """Return the active version id."""
    with db.new_session(app) as s:
        return s.scalar(select(ClassifierVersion.id).where(ClassifierVersion.active))


def test_model_commands_train_list_promote_evaluate_and_roll_back(app, model_cli, tmp_path):
    csv_path, jsonl_path = write_corpus(tmp_path)
    first = model_cli.invoke(args=["model", "train", str(csv_path), "--format", "csv"])
    assert first.exit_code == 0, first.output
    assert "version 1 stored (inactive)" in first.output
    assert active_id(app) is None

    promoted = model_cli.invoke(args=["model", "promote", "1"])
    assert promoted.exit_code == 0, promoted.output
    assert active_id(app) == 1

    second = model_cli.invoke(args=["model", "train", str(jsonl_path), "--promote", "--force"])
    assert second.exit_code == 0, second.output
    assert active_id(app) == 2

    listing = model_cli.invoke(args=["model", "list"])
    assert listing.exit_code == 0
    rows = listing.output.splitlines()[1:]
    assert rows[0].startswith("*    2")
    assert rows[1].startswith("     1")

    for args, version in [([], 2), (["--version", "1"], 1)]:
        out = model_cli.invoke(args=["model", "evaluate", str(jsonl_path), *args])
        assert out.exit_code == 0, out.output
        metrics = json.loads(out.output)
        assert metrics["version"] == version
        assert metrics["n"] == len(HAM) + len(SPAM)
        assert {"accuracy", "f1", "roc_auc", "mcc", "fpr_spam", "fpr_hold"} <= metrics.keys()

    back = model_cli.invoke(args=["model", "rollback"])
    assert back.exit_code == 0, back.output
    assert active_id(app) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model", "train"], "give corpus FILEs"),
        (["model", "promote", "99"], "no classifier version 99"),
        (["model", "rollback"], "No other version"),
        (["model", "evaluate", "{csv}"], "no active version"),
        (["model", "evaluate", "{csv}", "--version", "7"], "no version 7"),
        (["model", "train", "{csv}", "--format", "sms"], "label"),
    ],
)
def test_model_commands_fail_clearly(model_cli, tmp_path, args, message):
    csv_path, _ = write_corpus(tmp_path)
    result = model_cli.invoke(args=[a.format(csv=csv_path) for a in args])
    assert result.exit_code != 0
    assert message in result.output


def test_model_train_learns_from_moderators_decisions(app, model_cli, creds):
    with db.new_session(app) as s:
        site_id = s.scalar(select(Site.id).where(Site.name == "blog"))
    moderator = "mod@example.org"
    add_labelled(app, site_id, HAM, Status.APPROVED, moderator)
    add_labelled(app, site_id, SPAM, Status.SPAM, moderator)
    add_labelled(
        app, site_id, ["Not publishable, but not spam either."], Status.REJECTED, moderator
    )
    result = model_cli.invoke(args=["model", "train", "--include-decisions"])
    assert result.exit_code == 0, result.output
    assert f"decisions: {len(HAM) + len(SPAM)} texts, {len(SPAM)} spam" in result.output
    with db.new_session(app) as s:
        row = s.scalar(select(ClassifierVersion))
        assert row.manifest["training_data"]["sources"][0]["name"] == "decisions"
