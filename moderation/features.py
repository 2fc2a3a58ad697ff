"""What the classifier reads of a comment, and the calibrated linear estimator over it.

These are the only custom types a classifier artifact may hold (classifier.TRUSTED_TYPES):
skops rebuilds them from their attributes, never by running pickled code.

Features, in four blocks: word 1-2-grams and character 3-5-grams (TF-IDF of the
normalized text), "meta" tokens (the hosts the text links to, the author's email domain
and site), and a few standardized signals spam carries outside the words (link count,
author URL present, length, share of capitals and digits, repeated characters). The link
count is kept at zero unless link_signal is set: in the corpora nearly every comment with a
link is spam, so it learned "one link = spam"; the linked hosts and URL words remain.

The estimator is a logistic regression with Platt scaling fitted on out-of-fold
decision values, like CalibratedClassifierCV(method="sigmoid", ensemble=False), with
one difference: texts from an auxiliary corpus (SMS, a different medium) get their own
copy of every feature, so what is true only of SMS does not leak into the weights that
score comments (Daumé's "frustratingly easy" domain adaptation), and the calibration is
fitted on the comment rows only, so the probabilities are those of comments.
"""

from __future__ import annotations

import copy
import html
import math
import re
import warnings
from collections import Counter
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import numpy as np
from joblib import Parallel
from joblib import delayed
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.base import ClassifierMixin
from sklearn.base import TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.model_selection import StratifiedShuffleSplit
from threadpoolctl import threadpool_limits

from moderation import ngrams

WORD_PATTERN = r"(?u)\b\w+\b|[$£€!?]"
META_PATTERN = r"\S+"
HREF_RE = re.compile(r"""<a\s[^>]*?href\s*=\s*["']?([^"' >]+)[^>]*>""", re.IGNORECASE)
TAG_RE = re.compile(r"<[^>]{0,200}>")
LINK_RE = re.compile(
    r"(?:https?://|www\.)[^\s<>\"']+"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|info|biz|ru|co|uk|me|tv|ly|io|us"
    r"|de|in|pl|fr|es|it|nl|br|cn|xyz|online|site|club|top)\b(?:/[^\s<>\"']*)?",
    re.IGNORECASE,
)
SCHEME_RE = re.compile(r"^(?:https?://)?(?:www\.)?", re.IGNORECASE)
REPEAT_RE = re.compile(r"(\S)\1{2,}")
VECTORIZERS = ("words_", "chars_", "meta_")
SIGNALS = ("links", "author_url", "length", "capitals", "digits", "repeats")
PLATT_C = 1e4  # Platt scaling: 2 parameters, barely regularized


def normalize(text: str) -> str:
    """Return the text the n-grams read: entities decoded, tags dropped, link targets kept."""
    text = html.unescape(text or "").replace("\ufeff", "")
    text = HREF_RE.sub(lambda m: f" {m.group(1)} ", text)
    return TAG_RE.sub(" ", text)


def host_of(url: str) -> str:
    """Return the host part of a URL or bare domain, lowercased, without www."""
    rest = SCHEME_RE.sub("", url.strip().lower())
    return re.split(r"[/?#:\s]", rest, maxsplit=1)[0].strip(".")


def links_in(text: str) -> list[str]:
    """Return the links (URLs, www. names and bare domains) in normalized text."""
    return LINK_RE.findall(text)


def meta_tokens(doc: Any, links: Sequence[str]) -> str:
    """Return the doc's non-word tokens: linked hosts, email domain, author site."""
    tokens = [f"link:{host_of(link)}" for link in links]
    email = getattr(doc, "author_email", "") or ""
    if "@" in email:
        tokens.append("email:" + email.rsplit("@", 1)[1].strip().lower())
    url = getattr(doc, "author_url", None) or ""
    if url.strip():
        tokens.append("site:" + host_of(url))
    return " ".join(tokens)


def raw_signals(doc: Any, text: str, links: Sequence[str]) -> tuple[float, ...]:
    """Return the signals as a moderator reads them (counts and shares, not scaled)."""
    letters = sum(map(str.isalpha, text))
    return (
        float(len(links)),
        1.0 if (getattr(doc, "author_url", None) or "").strip() else 0.0,
        float(len(text)),
        sum(map(str.isupper, text)) / letters if letters else 0.0,
        sum(map(str.isdigit, text)) / len(text) if text else 0.0,
        float(len(REPEAT_RE.findall(text))),
    )


def _shaped(values: tuple[float, ...], link_signal: bool = True) -> list[float]:
    # Counts grow on a log scale; shares are already in [0, 1].
    links, url, length, caps, digits, repeats = values
    links = math.log1p(links) if link_signal else 0.0
    return [links, url, math.log1p(length), caps, digits, math.log1p(repeats)]


def describe_signal(name: str, value: float) -> str:
    """Return a signal as a moderator reads it, e.g. `links=3` or `capitals=45%`."""
    if name == "author_url":
        return "author URL" if value else "no author URL"
    if name in ("capitals", "digits"):
        return f"{name}={value:.0%}"
    return f"{name}={value:g}"


def _read(
    docs: Sequence[Any], link_signal: bool = True
) -> tuple[list[str], list[str], np.ndarray]:
    """Return the docs' normalized texts, meta tokens and shaped signals."""
    texts, metas, shaped = [], [], []
    for doc in docs:
        text = normalize(doc.content)
        links = links_in(text)
        texts.append(text)
        metas.append(meta_tokens(doc, links))
        shaped.append(_shaped(raw_signals(doc, text, links), link_signal))
    return texts, metas, np.array(shaped, dtype=np.float64).reshape(len(texts), len(SIGNALS))


class CommentFeatures(TransformerMixin, BaseEstimator):
    """Turn docs (content, author_name, author_email, author_url) into a sparse matrix."""

    def __init__(
        self,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (3, 5),
        word_weight: float = 2.0,
        char_weight: float = 1.0,
        meta_weight: float = 1.0,
        signal_weight: float = 0.5,
        min_df: int = 2,
        link_signal: bool = False,
    ) -> None:
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.word_weight = word_weight
        self.char_weight = char_weight
        self.meta_weight = meta_weight
        self.signal_weight = signal_weight
        self.min_df = min_df
        self.link_signal = link_signal

    def _vectorizers(self, n_docs: int) -> tuple[TfidfVectorizer, TfidfVectorizer]:
        # A tiny corpus keeps every n-gram (pruning would leave too little to learn).
        min_df = self.min_df if n_docs >= 100 else 1
        common = {"sublinear_tf": True, "min_df": min_df, "dtype": np.float64}
        words = TfidfVectorizer(
            ngram_range=tuple(self.word_ngrams), token_pattern=WORD_PATTERN, **common
        )
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.char_ngrams), **common)
        return words, chars

    def fit(self, X: Sequence[Any], y: Any = None) -> CommentFeatures:
        """Learn the vocabularies, IDF weights and signal scales."""
        self.fit_transform(X)
        return self

    def fit_transform(self, X: Sequence[Any], y: Any = None, **_: Any) -> Any:
        """Learn the features from the docs and return their matrix."""
        texts, metas, shaped = _read(X, self.link_signal)
        self.words_, self.chars_ = self._vectorizers(len(texts))
        self.__dict__.pop("_indexes", None)
        word_m = ngrams.fit_transform(self.words_, texts)
        char_m = ngrams.fit_transform(self.chars_, texts)
        self.meta_ = CountVectorizer(
            token_pattern=META_PATTERN, lowercase=True, binary=True, dtype=np.float64
        )
        try:
            meta_m = self.meta_.fit_transform(metas)
        except ValueError:  # no text links, emails or sites in the training data
            self.meta_ = None
            meta_m = sparse.csr_matrix((len(texts), 0))
        self.signal_mean_ = shaped.mean(axis=0)
        std = shaped.std(axis=0)
        self.signal_scale_ = np.where(std > 1e-9, std, 1.0)
        return self._stack(word_m, char_m, meta_m, shaped)

    def transform(self, X: Sequence[Any]) -> Any:
        """Return the feature matrix of the docs (one row a doc)."""
        texts, metas, shaped = _read(X, self.link_signal)
        words, chars = self._ngram_indexes()
        word_m = words.transform(texts)
        char_m = chars.transform(texts)
        if self.meta_ is None:
            meta_m = sparse.csr_matrix((len(texts), 0))
        else:
            meta_m = self.meta_.transform(metas)
        return self._stack(word_m, char_m, meta_m, shaped)

    def _ngram_indexes(self) -> tuple[ngrams.Index, ngrams.Index]:
        """Return the bulk lookups of the word and char vocabularies (built once, not saved)."""
        if "_indexes" not in self.__dict__:
            self._indexes = (ngrams.Index(self.words_), ngrams.Index(self.chars_))
        return self._indexes

    def _stack(self, word_m: Any, char_m: Any, meta_m: Any, shaped: Any) -> Any:
        signals = (shaped - self.signal_mean_) / self.signal_scale_
        return sparse.hstack(
            [
                word_m * self.word_weight,
                char_m * self.char_weight,
                meta_m * self.meta_weight,
                sparse.csr_matrix(signals * self.signal_weight),
            ],
            format="csr",
        )

    def __getstate__(self) -> dict[str, Any]:
        """Return the state to save, each vocabulary as one string (compact for skops)."""
        state = dict(super().__getstate__())  # a copy: object's is __dict__ itself
        state.pop("_indexes", None)  # rebuilt from the vocabularies when needed
        for name in VECTORIZERS:
            vectorizer = state.get(name)
            vocabulary = getattr(vectorizer, "vocabulary_", None)
            if vocabulary is None or any("\n" in term for term in vocabulary):
                continue
            light = copy.copy(vectorizer)
            del light.vocabulary_
            state[name] = light
            state[name + "terms"] = "\n".join(sorted(vocabulary, key=vocabulary.__getitem__))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore the state saved by __getstate__ (vocabularies back to dicts)."""
        state = dict(state)
        # Artifacts saved before link_signal existed learned a weight for the link count.
        state.setdefault("link_signal", True)
        for name in VECTORIZERS:
            terms = state.pop(name + "terms", None)
            if terms is not None:
                state[name].vocabulary_ = {t: i for i, t in enumerate(terms.split("\n"))}
        super().__setstate__(state)

    def blocks(self) -> list[tuple[str, int]]:
        """Return (block name, width) in column order: word, char, meta, signal."""
        meta = 0 if self.meta_ is None else len(self.meta_.vocabulary_)
        return [
            ("word", len(self.words_.vocabulary_)),
            ("char", len(self.chars_.vocabulary_)),
            ("meta", meta),
            ("signal", len(SIGNALS)),
        ]

    def feature_names(self) -> list[str]:
        """Return a readable name per column, e.g. `word "free"`, `char "www."`."""
        names: list[str] = []
        for kind, vectorizer in (("word", self.words_), ("char", self.chars_)):
            block = [""] * len(vectorizer.vocabulary_)
            for gram, index in vectorizer.vocabulary_.items():
                block[index] = f'{kind} "{gram}"'
            names.extend(block)
        if self.meta_ is not None:
            block = [""] * len(self.meta_.vocabulary_)
            for token, index in self.meta_.vocabulary_.items():
                kind, _, value = token.partition(":")
                label = {"link": "links to", "email": "email domain", "site": "site"}
                block[index] = f"{label.get(kind, kind)} {value}"
            names.extend(block)
        names.extend(SIGNALS)
        return names


def augment(X: Any, aux: np.ndarray | None) -> Any:
    """Append the auxiliary-domain copy of every feature and an auxiliary intercept."""
    if aux is None:
        return X
    flag = aux.astype(np.float64)
    return sparse.hstack(
        [X, sparse.diags(flag) @ X, sparse.csr_matrix(flag[:, None])], format="csr"
    )


def _fit_linear(
    C: float, max_iter: int, X: Any, y: np.ndarray, train: Any, test: Any
) -> tuple[Any, bool]:
    """Fit the logistic regression on the train rows (all when None).

    Returns (decision values of the test rows, converged), or (the fitted model,
    converged) for the fit on all rows.
    """
    linear = LogisticRegression(C=C, max_iter=max_iter)
    # One BLAS thread: L-BFGS's vector updates are small, and threads contending for two
    # cores made fits up to ten times slower.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        # Convergence is reported in the manifest (converged), not as a warning.
        warnings.simplefilter("ignore", ConvergenceWarning)
        if train is None:
            linear.fit(X, y)
        else:
            linear.fit(X[train], y[train])
    converged = bool(np.all(linear.n_iter_ < max_iter))
    if train is None:
        return linear, converged
    return linear.decision_function(X[test]), converged


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class SpamEstimator(ClassifierMixin, BaseEstimator):
    """Calibrated logistic regression over CommentFeatures; predict_proba takes docs."""

    def __init__(
        self,
        features: CommentFeatures | None = None,
        C: float = 30.0,
        cv: int = 5,
        holdout_above: int = 20_000,
        max_iter: int = 2000,
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.features = features
        self.C = C
        self.cv = cv
        self.holdout_above = holdout_above
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(
        self,
        X: Sequence[Any],
        y: Sequence[int],
        aux: Sequence[bool] | None = None,
        calibrate: Sequence[bool] | None = None,
    ) -> SpamEstimator:
        """Fit features, weights and calibration; `aux` marks auxiliary-corpus docs.

        `calibrate` marks the docs the Platt scaling is fitted on (default: every doc not
        auxiliary); extra ham of another kind (not comments) is learned from but left out,
        so the probabilities stay those of comments.

        Sets cv_proba_: calibrated out-of-fold probabilities of the training docs (an
        honest estimate of the fit's quality; training drops it before saving).
        """
        from sklearn.base import clone

        labels = np.asarray(y, dtype=np.int64)
        if set(np.unique(labels)) != {0, 1}:
            raise ValueError("training needs both spam (1) and ham (0) examples")
        flags = np.zeros(len(labels), bool) if aux is None else np.asarray(aux, bool)
        use_aux = bool(flags.any() and not flags.all())
        self.features_ = clone(self.features or CommentFeatures())
        X_base = self.features_.fit_transform(X)
        width = X_base.shape[1]
        X_fit = augment(X_base, flags) if use_aux else X_base
        calibrate_rows = ~flags if use_aux else np.ones(len(labels), bool)
        if calibrate is not None:
            calibrate_rows &= np.asarray(calibrate, bool)
        splits = self._splits(labels, flags)
        tasks = [(train, test) for train, test in splits] + [(None, None)]
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_linear)(self.C, self.max_iter, X_fit, labels, train, test)
            for train, test in tasks
        )
        linear, converged = results[-1]
        oof = np.full(len(labels), np.nan)
        for (_, test), (decision, fold_converged) in zip(splits, results, strict=False):
            oof[test] = decision
            converged = converged and fold_converged
        if not splits:  # too few examples to hold any out: calibrate in-sample
            oof = linear.decision_function(X_fit)
        self.converged_ = converged
        calibrate_rows &= np.isfinite(oof)
        platt = LogisticRegression(C=PLATT_C).fit(
            oof[calibrate_rows, None], labels[calibrate_rows]
        )
        self.slope_ = float(platt.coef_[0, 0])
        self.offset_ = float(platt.intercept_[0])
        coef = linear.coef_[0]
        self.coef_ = np.ascontiguousarray(coef[:width])
        self.aux_coef_ = np.ascontiguousarray(coef[width:]) if use_aux else None
        self.intercept_ = float(linear.intercept_[0])
        self.classes_ = np.array([0, 1])
        self.n_features_ = width
        self.cv_proba_ = _sigmoid(self.slope_ * oof + self.offset_)
        return self

    def _splits(self, labels: np.ndarray, flags: np.ndarray) -> list[tuple[Any, Any]]:
        """Return the held-out splits: k folds, or one 20 % holdout for large corpora."""
        strata = labels + 2 * flags  # every split gets both labels of both domains
        counts = np.bincount(strata)
        smallest = int(counts[counts > 0].min())
        if len(labels) > self.holdout_above and smallest >= 5:
            splitter: Any = StratifiedShuffleSplit(
                1, test_size=0.2, random_state=self.random_state
            )
        elif min(self.cv, smallest) >= 2:
            splitter = StratifiedKFold(
                min(self.cv, smallest), shuffle=True, random_state=self.random_state
            )
        else:
            return []
        return list(splitter.split(np.zeros(len(labels)), strata))

    def _decision(self, X_base: Any) -> np.ndarray:
        return np.asarray(X_base @ self.coef_).ravel() + self.intercept_

    def decision_function(self, X: Sequence[Any]) -> np.ndarray:
        """Return the calibrated log-odds of spam."""
        return self.slope_ * self._decision(self.features_.transform(X)) + self.offset_

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        """Return [[p(ham), p(spam)], ...] for the docs."""
        p = _sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Sequence[Any]) -> np.ndarray:
        """Return 1 for spam (p ≥ 0.5), 0 for ham."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)


class FastScorer:
    """Score one doc at a time without scikit-learn's per-call validation (~5x faster).

    Built from a fitted SpamEstimator when it is loaded, never saved; it computes exactly
    what SpamEstimator.predict_proba does (a test holds them equal).
    """

    def __init__(self, estimator: SpamEstimator) -> None:
        features = estimator.features_
        self.estimator = estimator
        self.names = features.feature_names()
        self.blocks: list[tuple[Callable[[str], list[str]], dict[str, int], Any, int, float]] = []
        offset = 0
        for vectorizer, weight in (
            (features.words_, features.word_weight),
            (features.chars_, features.char_weight),
        ):
            self.blocks.append(
                (
                    vectorizer.build_analyzer(),
                    vectorizer.vocabulary_,
                    vectorizer.idf_,
                    offset,
                    float(weight),
                )
            )
            offset += len(vectorizer.vocabulary_)
        self.meta = features.meta_
        self.meta_offset = offset
        self.meta_weight = float(features.meta_weight)
        self.first_signal = estimator.n_features_ - len(SIGNALS)
        self.features = features
        self.coef = estimator.coef_
        self.intercept = estimator.intercept_
        self.slope = estimator.slope_
        self.offset = estimator.offset_

    def row(self, doc: Any) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
        """Return the doc's feature (indices, values) and its raw signals."""
        text = normalize(doc.content)
        links = links_in(text)
        indices: list[int] = []
        values: list[float] = []
        for analyze, vocabulary, idf, offset, weight in self.blocks:
            counts = Counter(j for j in map(vocabulary.get, analyze(text)) if j is not None)
            if not counts:
                continue
            cols = list(counts)
            tfidf = (1.0 + np.log(np.fromiter(counts.values(), float, len(cols)))) * idf[cols]
            norm = math.sqrt(float(tfidf @ tfidf))
            indices.extend(offset + j for j in cols)
            values.extend((tfidf * (weight / norm)).tolist())
        if self.meta is not None:
            vocabulary = self.meta.vocabulary_
            for token in set(meta_tokens(doc, links).lower().split()):
                j = vocabulary.get(token)
                if j is not None:
                    indices.append(self.meta_offset + j)
                    values.append(self.meta_weight)
        raw = raw_signals(doc, text, links)
        shaped = (
            np.array(_shaped(raw, self.features.link_signal)) - self.features.signal_mean_
        ) / (self.features.signal_scale_)
        indices.extend(range(self.first_signal, self.first_signal + len(SIGNALS)))
        values.extend((shaped * self.features.signal_weight).tolist())
        return np.array(indices, dtype=np.int64), np.array(values), raw

    def score(self, doc: Any, top: int = 5) -> tuple[float, list[tuple[str, float]]]:
        """Return the doc's spam probability and the features that pushed it most."""
        indices, values, raw = self.row(doc)
        pushes = values * self.coef[indices] * self.slope
        z = float(pushes.sum()) + self.slope * self.intercept + self.offset
        return float(_sigmoid(np.array([z]))[0]), self._named(indices, pushes, raw, top)

    def pushes(
        self, doc: Any, top: int = 5, scale: float = 1.0, extra: np.ndarray | None = None
    ) -> list[tuple[str, float]]:
        """Return the features that pushed the doc most when its log-odds are scaled by
        `scale` and `extra` weights are added to the estimator's (a correction's)."""
        indices, values, raw = self.row(doc)
        weights = self.coef[indices] * (self.slope * scale)
        if extra is not None:
            weights = weights + extra[indices]
        return self._named(indices, values * weights, raw, top)

    def _named(
        self, indices: np.ndarray, pushes: np.ndarray, raw: tuple[float, ...], top: int
    ) -> list[tuple[str, float]]:
        out = []
        for k in np.argsort(-np.abs(pushes))[:top]:
            if abs(pushes[k]) < 1e-3:
                break
            index = int(indices[k])
            if index >= self.first_signal:
                which = index - self.first_signal
                label = describe_signal(SIGNALS[which], raw[which])
            else:
                label = self.names[index]
            out.append((label, float(pushes[k])))
        return out
