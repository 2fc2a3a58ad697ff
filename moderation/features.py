"""The classifier's features of a comment, and the calibrated linear estimator over them.

These are the only custom types a classifier artifact may hold (classifier.TRUSTED_TYPES):
skops rebuilds them from their attributes, never by running pickled code.

Features, in four blocks: word 1-2-grams and character 3-5-grams (TF-IDF of the
normalized text), "meta" tokens (the hosts the text links to, the author's email domain
and site), and a few standardized signals spam carries outside the words (link count,
author URL present, length, share of capitals and digits, repeated characters). With
binned_signals, length, capitals and digits are read as bins (a linear length learned
"long means spam"; see bench/selection.py). The link
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
import warnings
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
from moderation import reading
from moderation.reading import SIGNALS

WORD_PATTERN = r"(?u)\b\w+\b|[$£€!?]"
META_PATTERN = r"\S+"
VECTORIZERS = ("words_", "chars_", "meta_")
PLATT_C = 1e4  # Platt scaling: 2 parameters, barely regularized
META_LABELS = {
    "link": "links to",
    "email": "email domain",
    "site": "site",
    "has": "has a",
    "len": "length bin",
    "caps": "capitals bin",
    "digits": "digits bin",
}


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
        fold_unicode: bool = False,
        strip_urls: bool = False,
        author_words: bool = False,
        extra_meta: bool = False,
        binned_signals: bool = False,
    ) -> None:
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.word_weight = word_weight
        self.char_weight = char_weight
        self.meta_weight = meta_weight
        self.signal_weight = signal_weight
        self.min_df = min_df
        self.link_signal = link_signal
        self.fold_unicode = fold_unicode
        self.strip_urls = strip_urls
        self.author_words = author_words
        self.extra_meta = extra_meta
        self.binned_signals = binned_signals

    def reading_options(self) -> reading.ReadingOptions:
        """Return how these features read a comment (see reading.ReadingOptions)."""
        return reading.ReadingOptions(
            fold_unicode=self.fold_unicode,
            strip_urls=self.strip_urls,
            author_words=self.author_words,
            extra_meta=self.extra_meta,
            binned_signals=self.binned_signals,
            link_signal=self.link_signal,
        )

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
        texts, metas, shaped = reading.read_docs(X, self.reading_options())
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
        texts, metas, shaped = reading.read_docs(X, self.reading_options())
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
        # Artifacts saved before the reading options existed read comments the first way.
        for option in ("fold_unicode", "strip_urls", "author_words", "extra_meta"):
            state.setdefault(option, False)
        state.setdefault("binned_signals", False)
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

    def column_terms(self) -> list[str]:
        """Return the term of every word, char and meta column, in column order.

        The strings are the vocabularies' own (a list of 8-byte references), so a scorer
        can keep it and name a column only when it explains a score.
        """
        terms: list[str] = []
        for vectorizer in (self.words_, self.chars_, self.meta_):
            if vectorizer is None:
                continue
            block = [""] * len(vectorizer.vocabulary_)
            for term, index in vectorizer.vocabulary_.items():
                block[index] = term
            terms.extend(block)
        return terms

    def column_name(self, column: int, term: str) -> str:
        """Return a readable name of an n-gram or meta column, e.g. `word "free"`."""
        words, chars = len(self.words_.vocabulary_), len(self.chars_.vocabulary_)
        if column < words:
            return f'word "{term}"'
        if column < words + chars:
            return f'char "{term}"'
        kind, _, value = term.partition(":")
        return f"{META_LABELS.get(kind, kind)} {value}"

    def feature_names(self) -> list[str]:
        """Return a readable name per column, e.g. `word "free"`, `char "www."`."""
        names = [self.column_name(i, term) for i, term in enumerate(self.column_terms())]
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


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Return the logistic function of z, stable for large |z|."""
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
        if len(np.unique(labels[calibrate_rows])) < 2:
            # The comment rows are of one class (e.g. only a ham corpus beside an
            # auxiliary one): calibrate on every held-out row rather than on none.
            calibrate_rows = np.isfinite(oof)
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
        self.cv_proba_ = sigmoid(self.slope_ * oof + self.offset_)
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
        p = sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Sequence[Any]) -> np.ndarray:
        """Return 1 for spam (p ≥ 0.5), 0 for ham."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)
