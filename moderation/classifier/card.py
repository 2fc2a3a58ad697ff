"""The model card of a classifier version (markdown): data, licences, metrics, limits."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.2f} %"


def _num(value: Any) -> str:
    return "–" if value is None else f"{float(value):.4f}"


def _metric_row(name: str, m: Mapping[str, Any]) -> str:
    return (
        f"| {name} | {m.get('n')} | {_num(m.get('accuracy'))} | {_num(m.get('f1'))} |"
        f" {_num(m.get('roc_auc'))} | {_num(m.get('mcc'))} | {_pct(m.get('fpr_spam'))} |"
        f" {_pct(m.get('fpr_hold'))} |"
    )


def _transfer_row(name: str, m: Mapping[str, Any]) -> str:
    spam = int(m.get("n_spam") or 0)
    caught = f"{100 * float(m.get('recall', 0)):.1f} %" if spam else "–"
    return (
        f"| {name} | {m.get('n')} | {spam} | {_num(m.get('roc_auc'))} |"
        f" {_num(m.get('f1')) if spam else '–'} | {_num(m.get('mcc')) if spam else '–'} |"
        f" {_pct(m.get('fpr_spam'))} | {_pct(m.get('fpr_hold'))} | {caught} |"
    )


def _reading(params: Mapping[str, Any]) -> str:
    parts = []
    if params.get("fold_unicode"):
        parts.append("look-alike letters are folded first (NFKD, marks dropped, confusables)")
    if params.get("strip_urls"):
        parts.append("links are taken out of the n-gram text (their hosts stay as tokens)")
    if params.get("author_words"):
        parts.append("the author's name and site words are read with the text")
    if params.get("extra_meta"):
        parts.append("phone numbers, @handles and hashtags are tokens")
    if params.get("binned_signals"):
        parts.append("length, capitals and digits are bins, not linear signals")
    return (" Reading: " + "; ".join(parts) + ".") if parts else ""


def render_card(manifest: Mapping[str, Any], metrics: Mapping[str, Any]) -> str:
    """Return the model card (markdown): data, licences, metrics, limits, reproduction."""
    data = manifest.get("training_data", {})
    rows = "\n".join(
        f"| {s.get('name')} | {s.get('format', '')} | {s.get('role', '')} | {s.get('n')} |"
        f" {s.get('spam')} | `{str(s.get('sha256', ''))[:16]}…` |"
        for s in data.get("sources", [])
    )
    validation = metrics.get("validation", {})
    by_source = metrics.get("by_source", {})
    metric_rows = "\n".join(
        _metric_row(name, m) for name, m in [("all comment texts", validation), *by_source.items()]
    )
    lofo = metrics.get("leave_one_file_out") or {}
    lofo_rows = "\n".join(
        _metric_row(name, m)
        for name, m in [*lofo.get("files", {}).items(), ("all, pooled", lofo.get("all", {}))]
    )
    lofo_section = LOFO_TEMPLATE.format(rows=lofo_rows) if lofo else ""
    loco = metrics.get("leave_one_corpus_out") or {}
    loco_section = (
        LOCO_TEMPLATE.format(rows="\n".join(_transfer_row(n, m) for n, m in loco.items()))
        if loco
        else ""
    )
    formats = {src.get("format") for src in data.get("sources", [])}
    libraries = ", ".join(f"{k} {v}" for k, v in manifest.get("libraries", {}).items())
    params = manifest.get("params", {})
    feature_params = params.get("features", {})
    davidson = any(src.get("format") == "davidson" for src in data.get("sources", []))
    created = manifest.get("created_at", "")
    created = datetime.fromisoformat(created).date().isoformat() if created else ""
    return CARD_TEMPLATE.format(
        created=created,
        sha256=manifest.get("sha256", ""),
        libraries=libraries,
        n=data.get("n"),
        spam=data.get("spam"),
        ham=data.get("ham"),
        rows=rows,
        method=metrics.get("validation_method", ""),
        metric_rows=metric_rows,
        lofo_section=lofo_section,
        loco_section=loco_section,
        reading=_reading(feature_params),
        new_corpora_cite=(SCAMSPOT_CITE if "scamspot" in formats else "")
        + (FOXNEWS_CITE if "foxnews" in formats else ""),
        n_features=manifest.get("n_features"),
        C=params.get("C"),
        word_ngrams="–".join(map(str, feature_params.get("word_ngrams", []))),
        char_ngrams="–".join(map(str, feature_params.get("char_ngrams", []))),
        word_weight=feature_params.get("word_weight"),
        char_weight=feature_params.get("char_weight"),
        signal_weight=feature_params.get("signal_weight"),
        signals=SIGNALS_WITH_LINKS
        if feature_params.get("link_signal", True)
        else SIGNALS_NO_LINKS,
        extra_ham_model=EXTRA_HAM_MODEL if davidson else "",
        extra_ham_data=EXTRA_HAM_DATA if davidson else "",
        extra_ham_cite=EXTRA_HAM_CITE if davidson else "",
        link_limit=LINK_LIMIT_NO_COUNT
        if not feature_params.get("link_signal", True)
        else LINK_LIMIT,
        fit_seconds=manifest.get("fit_seconds"),
        command=manifest.get("command") or "flask model train …",
        spam_threshold=manifest.get("thresholds", {}).get("spam", 0.9),
        hold_threshold=manifest.get("thresholds", {}).get("hold", 0.5),
    )


SIGNALS_WITH_LINKS = (
    "link count, author URL present, length, share of capitals, share of digits, runs of"
    " repeated characters"
)
SIGNALS_NO_LINKS = (
    "author URL present, length, share of capitals, share of digits, runs of repeated\n"
    "characters (the link count is shown to moderators but is not a feature,\n"
    '`link_signal=False`: in the corpora it stood for "spam" on its own)'
)
EXTRA_HAM_MODEL = """ The Davidson tweets are extra
ham in the shared features (so that links, hosts and URL words are also seen in ham), but
are neither calibrated on nor counted in the metrics."""
EXTRA_HAM_DATA = """
The Davidson file is read by the `davidson` format: every tweet with a link (2,986) and
every 20th tweet without one (1,090), all as ham. None of them is spam; their own labels
(hate / offensive / neither) are another axis and are not used.
"""
EXTRA_HAM_CITE = """\
- **Davidson hate-speech / offensive-language tweets** (`labeled_data.csv`), MIT licence
  (tweet text under X/Twitter's terms). Davidson, Warmsley, Macy, Weber. *Automated Hate
  Speech Detection and the Problem of Offensive Language.* ICWSM 2017.
"""
LINK_LIMIT = """ A
  reader's comment linking to their own post scores high (it is held, or sent to spam),
  until the model learns otherwise from your moderators' decisions."""
LINK_LIMIT_NO_COUNT = """ The
  link count is not a feature and tweets with links are learned as ham, so one link is
  not spam on its own, but the words of a URL still carry weight ("com" most): a
  reader's comment linking to a .com site can still score high. The decision step holds
  a comment for a moderator instead of sending it to spam when its words without the
  links (or without its length, capitals and digits) score under the spam threshold,
  and a retraining job on your moderators' approvals teaches the model your readers'
  links."""

LOCO_TEMPLATE = """
**Transfer first (zero-shot, leave one corpus out):** each corpus is scored by a fit on
all the others (YouTube's four videos are one corpus; extra ham is always trained on).
This is what a site the model never saw gets. Fox News has no spam: its ROC AUC and F1
are undefined; its ham rates are what counts. "Ham held" is the share of ham not
published (≥ the hold threshold); spam caught, the share of spam not published.

| left out | n | spam | ROC AUC | spam F1 | MCC | ham to spam | ham held | spam caught |
|---|---|---|---|---|---|---|---|---|
{rows}
"""
SCAMSPOT_CITE = """\
- **ScamSpot Instagram comments** (`comments_extracted.json`, `scam`/`real` only), MIT
  (© 2023 Stefan Erben; comment text is Instagram users' content). ScamSpot project,
  `ScamSpot/scamspot_ig-comment-scraper` at commit `84f5ef09`.
"""
FOXNEWS_CITE = """\
- **Fox News comments** (`fox-news-comments.json`, all read as ham; hatefulness kept
  apart), MIT per the authors' README. Gao, Huang. *Detecting Online Hate Speech Using
  Context Aware Models.* RANLP 2017 (arXiv:1710.07395).
"""

LOFO_TEMPLATE = """
Leave one file out (for YouTube: leave one video out, the honest setting): each comment
file is scored by a fit on all the other files, SMS included. `bench/quality.py` prints
the same table, with 5-fold cross-validation on the deduplicated SMS corpus.

| held-out file | n | accuracy | F1 | ROC AUC | MCC | fpr_spam | fpr_hold |
|---|---|---|---|---|---|---|---|
{rows}
"""

CARD_TEMPLATE = """\
# Model card: the shipped comment-spam classifier

Created {created} by the project's own `flask model train`; sha256 `{sha256}`;
{libraries}. Loaded only through skops with the listed trusted types (never pickle).

## Intended use

Scores comments posted to a website (text, author name, email and URL) with a calibrated
spam probability; the decision step sends a comment to spam at ≥ {spam_threshold} and holds
it for a moderator at ≥ {hold_threshold}. It is the starting point of a fresh install:
retrain on your moderators' decisions (`flask model train --include-decisions`, or a
retraining job) as soon as you have a few hundred of them.

## Model

Logistic regression (L2, C = {C}) over TF-IDF word n-grams {word_ngrams} (weight
{word_weight}) and character n-grams {char_ngrams} within words (weight {char_weight}), the
hosts the text links to, the email domain and author site as tokens, and standardized
signals (weight {signal_weight}): {signals}; {n_features} features in all. Platt scaling
fitted on out-of-fold decision values of the comment texts only. SMS texts (another medium)
get their own copy of every feature (domain adaptation), so SMS-only patterns do not move the
weights that score comments.{extra_ham_model}{reading} Fitted in {fit_seconds} s.

## Training data

{n} labelled texts ({spam} spam, {ham} ham):

| file | format | role | texts | spam | sha256 |
|---|---|---|---|---|---|
{rows}
{extra_ham_data}
- **YouTube Spam Collection** (comments of 4 of the 5 videos), CC BY 4.0 (UCI).
  Alberto, Lochter, Almeida. *TubeSpam: Comment Spam Filtering on YouTube.* ICMLA 2015.
  doi:10.24432/C58885
- **SMS Spam Collection v.1**, CC BY 4.0 (UCI); the authors' readme: free, copyright kept,
  no warranty. Almeida, Gómez Hidalgo, Yamakami. *Contributions to the Study of SMS Spam
  Filtering.* DocEng 2011. doi:10.24432/C5CC84
{new_corpora_cite}{extra_ham_cite}
The corpora are not distributed with this project; only this artifact, trained on them, is.

## Metrics
{loco_section}
{method}; accuracy, F1 and MCC count a text as flagged at ≥ {hold_threshold};
fpr_spam is the share of ham sent to spam (≥ {spam_threshold}), fpr_hold the share of ham held.

| texts | n | accuracy | F1 | ROC AUC | MCC | fpr_spam | fpr_hold |
|---|---|---|---|---|---|---|---|
{metric_rows}

Random folds are optimistic where spam templates recur (the same spam is posted under
many videos).
{lofo_section}
## Known limits

- English only. The spam it has seen: 2013–2015 YouTube and SMS spam (link farms, "check
  out my channel", prize texts) and, where the card's data lists them, Instagram
  finance/crypto scams (ScamSpot). None of it is a blog's pharmacy, casino or SEO spam:
  such spam is scored on words the model may never have seen; import your site's history
  (`flask comments import`) and retrain on it.
- The author name, email and URL signals exist but the corpora carry no emails or author
  URLs (and names only for YouTube and Fox News), so their weights start at zero: they are
  learned from your decisions and your imported history only.
- Links still weigh: in the YouTube data almost every comment with a link is spam.{link_limit}
  Comments that link to the video they are posted under ("PSY - GANGNAM STYLE:
  http://youtu.be/…") are most of the ~1 % of YouTube ham sent to spam.
- "Like this comment if…" bait is labelled spam in the YouTube data and is often missed.
- Labels are the corpus authors'; some are debatable ("Hello from Pakistan" is spam).

## Reproduce

From the project folder, with the corpora in `../shared/data/` and any migrated database
(`flask db upgrade`; the new version is stored there inactive, and exported here):

```
{command}
```
"""
