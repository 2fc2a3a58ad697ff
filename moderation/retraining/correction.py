"""The candidate: a frozen base classifier and a prior-centred logistic correction."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.base import ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from moderation.retraining.operating_point import spam_floor

EPS = 1e-6
MIN_SCALE = 0.05  # a calibration never flattens the correction to a constant


def correction_text(doc: Any) -> str:
    """Return the text the correction reads: the comment, its author's URL and name."""
    get = (
        doc.get
        if isinstance(doc, Mapping)
        else lambda name, default="": getattr(doc, name, default)
    )
    content = str(get("content", "") or "").replace("\ufeff", "")
    url = str(get("author_url", "") or "")
    name = str(get("author_name", "") or "")
    return f"{content}\n{name} {url}".strip()


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def _sigmoid(m: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * m))  # stable for large |m|


def make_features(max_features: int = 20_000) -> FeatureUnion:
    """Return the correction's n-gram features (word 1-2, character 2-5 within words)."""
    return FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    lowercase=True,
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                    token_pattern=r"(?u)\b\w+\b",  # noqa: S106 (a regex, not a password)
                    max_features=max_features,
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    lowercase=True,
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    sublinear_tf=True,
                    max_features=max_features,
                ),
            ),
        ]
    )


class LocalCorrection(ClassifierMixin, BaseEstimator):
    """A frozen base classifier corrected by a prior-centred logistic fit on local labels.

    predict_proba(X) takes what the base takes (Docs) and returns
    sigmoid(a * logit(p_base) + b + w . phi(text) + v . x_base); see the module docstring.
    """

    # Stored artifacts name this class by this path (see TRUSTED_TYPES in
    # classifier/artifact.py): skops records __module__, so keep the package's.
    __module__ = "moderation.retraining"

    def __init__(
        self,
        base: Any = None,
        strength: float = 0.03,
        slope_strength: float = 20.0,
        intercept_strength: float = 5.0,
        max_features: int = 20_000,
        base_weight: float = 1.0,
        ngram_weight: float = 0.7,
        balance: bool = True,
        calibration_folds: int = 5,
        calibration_strength: float = 5.0,
    ) -> None:
        self.base = base
        self.strength = strength
        self.slope_strength = slope_strength
        self.intercept_strength = intercept_strength
        self.max_features = max_features
        self.base_weight = base_weight
        self.ngram_weight = ngram_weight
        self.balance = balance
        self.calibration_folds = calibration_folds
        self.calibration_strength = calibration_strength

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a saved correction (those saved before base_weight corrected n-grams only)."""
        state = dict(state)
        state.setdefault("base_weight", 0.0)
        state.setdefault("ngram_weight", 1.0)
        state.setdefault("base_coef_", None)
        state.setdefault("balance", False)
        state.setdefault("calibration_folds", 0)  # saved before out-of-fold calibration
        state.setdefault("calibration_strength", 0.0)
        state.setdefault("calibration_", (1.0, 0.0))
        state.setdefault("out_of_fold_", None)
        state.setdefault("spam_floor_", None)  # saved before versions had their own
        super().__setstate__(state)

    def base_logit(self, X: Sequence[Any]) -> np.ndarray:
        """Return the base's log-odds of spam (0 when there is no base)."""
        if self.base is None:
            return np.zeros(len(X))
        return _logit(self.base.predict_proba(X)[:, 1])

    def _base_view(self, X: Sequence[Any]) -> tuple[np.ndarray, Any]:
        """Return the base's log-odds and, when corrected too, its feature matrix.

        The base's features are read once: its log-odds come from the same matrix, exactly
        as its predict_proba computes them.
        """
        features = getattr(self.base, "features_", None)
        if self.base is None or not self.base_weight or features is None:
            return self.base_logit(X), None
        matrix = sparse.csr_matrix(features.transform(X))
        z = self.base.slope_ * self.base._decision(matrix) + self.base.offset_
        return _logit(_sigmoid(z)), matrix

    def fit(
        self,
        X: Sequence[Any],
        y: Sequence[int],
        sample_weight: Sequence[float] | None = None,
        base_logit: np.ndarray | None = None,
    ) -> LocalCorrection:
        """Fit the correction (the base is never refitted), then recalibrate its log-odds
        by Platt scaling fitted on out-of-fold log-odds of the same labels.

        Fitted on a few hundred labels with a loose prior on the n-gram weights, the fit
        separates its own labels and is sure of itself: in-sample, a site's ham sits far
        below the spam threshold, but comments it never saw (with the site's spam words in
        ordinary talk) reach it. The out-of-fold log-odds show how sure it should be; the
        scale (≤ 1) and shift are folded into slope_, intercept_, coef_ and base_coef_, so
        scoring is unchanged. Class balance stays in the fit (it learns rare spam labels)
        but not in the calibration, which is fitted on the labels as they are.
        """
        y_arr = np.asarray(y, dtype=float)
        weights = np.ones(len(y_arr)) if sample_weight is None else np.asarray(sample_weight)
        if self.balance:
            weights = weights * class_balance(y_arr)
        z, matrix = self._base_view(X)
        if base_logit is not None:
            z = np.asarray(base_logit, dtype=float)
        texts = [correction_text(d) for d in X]
        fitted = self._fit_block(texts, z, matrix, y_arr, weights)
        self.ngrams_, self.slope_, self.intercept_, self.coef_, self.base_coef_ = fitted
        scale, shift, oof = self._out_of_fold_calibration(texts, z, matrix, y_arr, weights)
        self.calibration_ = (scale, shift)
        # What each label's comment scores when the fit never saw it (calibrated): an
        # honest estimate of how the candidate treats this site's comments.
        self.out_of_fold_ = None if oof is None else _sigmoid(scale * oof + shift)
        # Its own spam threshold: where those scores send at most 1 % of the ham to spam.
        self.spam_floor_ = spam_floor(self.out_of_fold_, y_arr.astype(bool))
        if oof is not None:  # folded in: the decision stays a * z + b + phi w + x v
            self.slope_ *= scale
            self.intercept_ = self.intercept_ * scale + shift
            self.coef_ = self.coef_ * scale
            if self.base_coef_ is not None:
                self.base_coef_ = self.base_coef_ * scale
        self.classes_ = np.array([0, 1])
        return self

    def _fit_block(
        self, texts: list[str], z: np.ndarray, matrix: Any, y: np.ndarray, weights: np.ndarray
    ) -> tuple[Any, float, float, np.ndarray, np.ndarray | None]:
        """Fit the n-grams and the offset logistic on one set of labels; return the parts."""
        ngrams = make_features(self.max_features)
        phi = sparse.csr_matrix(ngrams.fit_transform(texts))
        for _, vectorizer in ngrams.transformer_list:
            # The n-grams max_features pruned: large, and never used to transform.
            if hasattr(vectorizer, "stop_words_"):
                del vectorizer.stop_words_
        n_grams = phi.shape[1]
        design = phi * self.ngram_weight
        if matrix is not None:
            design = sparse.hstack([design, matrix * self.base_weight], format="csr")
        slope, intercept, coef = _fit_offset_logistic(
            design,
            z,
            y,
            weights,
            strength=self.strength,
            slope_strength=self.slope_strength if self.base is not None else 1e6,
            intercept_strength=self.intercept_strength,
        )
        # The block weights are folded in: decision = phi @ coef_ + x_base @ base_coef_.
        ngram_coef = np.ascontiguousarray(coef[:n_grams] * self.ngram_weight)
        base_coef = (
            None if matrix is None else np.ascontiguousarray(coef[n_grams:] * self.base_weight)
        )
        return ngrams, slope, intercept, ngram_coef, base_coef

    def _out_of_fold_calibration(
        self, texts: list[str], z: np.ndarray, matrix: Any, y: np.ndarray, weights: np.ndarray
    ) -> tuple[float, float, np.ndarray | None]:
        """Return Platt's (scale, shift) of the decision fitted on its out-of-fold values
        (stratified folds, fitted exactly as the whole), and those values; (1, 0, None)
        when a class has fewer labels than folds."""
        folds = int(self.calibration_folds)
        n_spam = int(y.sum())
        if folds < 2 or min(n_spam, len(y) - n_spam) < folds:
            return 1.0, 0.0, None
        order = np.argsort(y, kind="stable")
        fold_of = np.empty(len(y), dtype=int)
        fold_of[order] = np.arange(len(y)) % folds  # stratified, deterministic
        oof = np.zeros(len(y))
        for k in range(folds):
            fit_rows = np.flatnonzero(fold_of != k)
            test_rows = np.flatnonzero(fold_of == k)
            sub = None if matrix is None else matrix[fit_rows]
            ngrams, a, b, coef, base_coef = self._fit_block(
                [texts[i] for i in fit_rows], z[fit_rows], sub, y[fit_rows], weights[fit_rows]
            )
            phi = ngrams.transform([texts[i] for i in test_rows])
            m = a * z[test_rows] + b + phi @ coef
            if base_coef is not None:
                m = m + matrix[test_rows] @ base_coef
            oof[test_rows] = m
        scale, shift = platt_scaling(oof, y, self.calibration_strength)
        return scale, shift, oof

    def decision_function(self, X: Sequence[Any]) -> np.ndarray:
        """Return the corrected log-odds of spam."""
        phi = self.ngrams_.transform([correction_text(d) for d in X])
        if self.base_coef_ is None:
            z = self.base_logit(X)
            return self.slope_ * z + self.intercept_ + phi @ self.coef_
        z, matrix = self._base_view(X)
        return self.slope_ * z + self.intercept_ + phi @ self.coef_ + matrix @ self.base_coef_

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        """Return [[p(ham), p(spam)], ...]."""
        p = _sigmoid(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X: Sequence[Any]) -> np.ndarray:
        """Return 1 for spam (p ≥ 0.5), 0 for ham."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def correction_contributions(self, doc: Any, top: int = 5) -> list[tuple[str, float]]:
        """Return the site n-grams that moved this comment's log-odds most, with their push.

        (What the correction changed of the base's own feature weights, base_coef_, is
        named with the base's features by holder.explain.)
        """
        phi = sparse.csr_matrix(self.ngrams_.transform([correction_text(doc)]))
        names = self.ngrams_.get_feature_names_out()
        pushes = [
            (str(names[j]), float(v * self.coef_[j]))
            for j, v in zip(phi.indices, phi.data, strict=True)
        ]
        pushes.sort(key=lambda item: abs(item[1]), reverse=True)
        return [(_readable(name), push) for name, push in pushes[:top] if abs(push) > 1e-3]


def class_balance(y: np.ndarray) -> np.ndarray:
    """Return per-example weights giving spam and ham the same total, averaging 1.

    Moderators' labels are mostly ham: spam the classifier already sent to spam is rarely
    clicked. Unweighted, the correction learns the words of this site's ham (the video's
    name, "youtube") as signs of ham, and lowers spam that uses them.
    """
    y = np.asarray(y, dtype=float)
    n_spam = float(y.sum())
    n_ham = len(y) - n_spam
    if n_spam == 0 or n_ham == 0:
        return np.ones(len(y))
    return np.where(y == 1, len(y) / (2 * n_spam), len(y) / (2 * n_ham))


def platt_scaling(m: np.ndarray, y: np.ndarray, prior: float = 0.0) -> tuple[float, float]:
    """Return (scale, shift) minimising the log-loss of sigmoid(scale m + shift) against
    Platt's smoothed targets, plus prior/2 ((scale - 1)^2 + shift^2), with the scale kept
    within [MIN_SCALE, 1].

    The scale never exceeds 1: calibration may only make a fit less sure of itself. The
    prior centres it on no change, as the correction's own priors centre it on the base:
    on 40 labels with 7 spam, unpenalised, it flattened a correction to a tenth of its
    log-odds and held less spam than the base did.
    """
    n_spam = float(np.sum(y))
    n_ham = len(y) - n_spam
    t = np.where(np.asarray(y) == 1, (n_spam + 1) / (n_spam + 2), 1 / (n_ham + 2))

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        q = theta[0] * m + theta[1]
        loss = np.sum(np.logaddexp(0.0, q) - t * q)
        loss += 0.5 * prior * ((theta[0] - 1.0) ** 2 + theta[1] ** 2)
        r = _sigmoid(q) - t
        grad = np.array([r @ m, r.sum()]) + prior * np.array([theta[0] - 1.0, theta[1]])
        return float(loss), grad

    bounds = [(MIN_SCALE, 1.0), (None, None)]
    result = minimize(objective, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B", bounds=bounds)
    return float(result.x[0]), float(result.x[1])


def _readable(name: str) -> str:
    """Name a correction n-gram as the base names its features: `word "free"`."""
    kind, _, gram = name.partition("__")
    return f'word "{gram}"' if kind == "words" else f'char "{gram}"'


def _fit_offset_logistic(
    phi: sparse.csr_matrix,
    z: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    *,
    strength: float,
    slope_strength: float,
    intercept_strength: float,
) -> tuple[float, float, np.ndarray]:
    """Minimise the weighted log-loss of sigmoid(a z + b + phi w) with priors a~1, b~0, w~0.

    Only the columns some example uses are optimised: the others' optimum is exactly 0
    (the prior's centre, where their gradient is 0), and most of the base's features
    appear in none of a few hundred labels, so the fit is several times faster.
    """
    full = phi.shape[1]
    used = np.flatnonzero(np.diff(phi.tocsc().indptr))
    phi = sparse.csr_matrix(phi[:, used])
    n_features = phi.shape[1]
    phi_t = phi.T.tocsr()

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, b, beta = theta[0], theta[1], theta[2:]
        m = a * z + b + phi @ beta
        # log(1 + e^m) - y m, computed stably
        loss = np.sum(weights * (np.logaddexp(0.0, m) - y * m))
        loss += 0.5 * (
            strength * beta @ beta + slope_strength * (a - 1.0) ** 2 + intercept_strength * b * b
        )
        r = weights * (_sigmoid(m) - y)
        grad = np.empty_like(theta)
        grad[0] = r @ z + slope_strength * (a - 1.0)
        grad[1] = r.sum() + intercept_strength * b
        grad[2:] = phi_t @ r + strength * beta
        return float(loss), grad

    start = np.zeros(n_features + 2)
    start[0] = 1.0
    result = minimize(objective, start, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    theta = result.x
    coef = np.zeros(full)
    coef[used] = theta[2:]
    return float(theta[0]), float(theta[1]), coef
