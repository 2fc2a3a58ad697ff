"""The per-process holder of the active classifier version.

Every worker polls the active version id at most every CLASSIFIER_POLL_SECONDS, with
its own short session, so a promotion reaches every process and host within seconds
and without a shared filesystem. A new version is loaded fully (every check of
artifact.load_version) before it replaces the old one; a refused one leaves the old one
serving, and status() says why. Scores never wait for a load once a version serves:
the thread that polls loads, the others keep scoring with what they have.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import threading
import time
from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from moderation import db
from moderation.classifier.artifact import ArtifactRefused
from moderation.classifier.artifact import load_version
from moderation.classifier.interface import ClassifierUnavailable
from moderation.classifier.interface import Contribution
from moderation.classifier.interface import Doc
from moderation.classifier.interface import Score
from moderation.tables import ClassifierVersion
from moderation.tables import utcnow

logger = logging.getLogger(__name__)

TOP_FEATURES = 5
FIRST_LOAD_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Loaded:
    """A version in memory, ready to score."""

    version: int
    sha256: str
    classifier: Any
    scorer: Any  # scorer.FastScorer of its SpamEstimator (or of the base it corrects)
    loaded_at: datetime
    spam_floor: float | None = None  # its own spam threshold, if retraining set one


@dataclass(frozen=True)
class Refusal:
    """A version this process would not load, and why."""

    version: int
    sha256: str
    reason: str
    at: datetime


def fast_scorer(classifier: Any) -> Any:
    """Return a FastScorer for a classifier, or for the SpamEstimator it corrects."""
    from moderation.classifier.scorer import FastScorer
    from moderation.features import SpamEstimator

    for candidate in (classifier, getattr(classifier, "base", None)):
        if isinstance(candidate, SpamEstimator):
            return FastScorer(candidate)
    return None


def release_freed_memory() -> None:
    """Hand back to the OS the heap a load freed (glibc keeps it for reuse otherwise).

    Reading an artifact builds and drops tens of MB of parsed schema; without this a
    worker's resident memory keeps that peak for its whole life. A no-op off glibc.
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return
    trim(0)


def probability(loaded: Loaded, doc: Doc) -> float:
    """Return a loaded version's spam probability of a doc, without explaining it."""
    clf, scorer = loaded.classifier, loaded.scorer
    if scorer is not None and scorer.estimator is clf:
        return scorer.score(doc, 0)[0]
    return float(clf.predict_proba([doc])[0][1])


def explain(
    loaded: Loaded, doc: Doc, top: int = TOP_FEATURES, links_from: float | None = 0.0
) -> Score:
    """Score a doc with a loaded version and name the features that pushed it most.

    When its probability is at least `links_from` (None: never), its own words are also
    scored without its links (Score.without_links) and without its shape signals
    (Score.without_signals), for the decision's rule that neither sends it to spam alone.
    """
    from moderation.reading import without_links

    clf, scorer = loaded.classifier, loaded.scorer
    asked = links_from is not None
    signals: float | None = None
    if scorer is not None and scorer.estimator is clf:
        p, pushes, signals = scorer.score_and_signals(doc, top)
    else:  # a correction of a base version (retraining.LocalCorrection), or other
        p = float(clf.predict_proba([doc])[0][1])
        pushes = []
        if scorer is not None:
            # The base's features, as the correction weighs them: its slope times the
            # base's weights, plus what it learned on top of them (base_coef_).
            slope = float(getattr(clf, "slope_", 1.0))
            extra = getattr(clf, "base_coef_", None)
            pushes += scorer.pushes(doc, top, slope, extra)
            if asked and p >= links_from:
                signals = scorer.signal_push(doc, slope, extra)
        if hasattr(clf, "correction_contributions"):
            pushes += list(clf.correction_contributions(doc, top))
        pushes = sorted(pushes, key=lambda item: abs(item[1]), reverse=True)[:top]
    link_free = None
    without_signals = None
    if asked and p >= links_from:
        link_free = without_links(doc.content)
        if signals is not None:
            without_signals = 0.5 * (1.0 + math.tanh(0.5 * (logit(p) - signals)))
    return Score(
        spam_probability=float(p),
        version=loaded.version,
        top_features=tuple(Contribution(name, float(w)) for name, w in pushes),
        without_links=None
        if link_free is None
        else probability(loaded, replace(doc, content=link_free)),
        without_signals=without_signals,
        spam_floor=loaded.spam_floor,
    )


def logit(p: float) -> float:
    """Return the log-odds of a probability (clipped off 0 and 1)."""
    p = min(max(p, 1e-15), 1.0 - 1e-15)
    return math.log(p / (1.0 - p))


class ClassifierHolder:
    """Serve the active classifier version of the database in this process."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.poll_seconds = float(app.config["CLASSIFIER_POLL_SECONDS"])
        self.rescore_on_load = bool(app.config["CLASSIFIER_RESCORE_ON_LOAD"])
        self._lock = threading.Lock()
        self._loaded: Loaded | None = None
        self._refusal: Refusal | None = None
        self._error: str | None = None
        self._next_check = 0.0
        self._checked_at: datetime | None = None
        self.rescore_thread: threading.Thread | None = None  # the last re-score started

    @property
    def version(self) -> int | None:
        """Return the id of the version serving now (None before the first load)."""
        loaded = self._loaded
        return loaded.version if loaded else None

    def current(self) -> Loaded:
        """Return the serving version, checking the database when the poll is due.

        :raises ClassifierUnavailable: when no version can be served.
        """
        loaded = self._loaded
        if time.monotonic() >= self._next_check:
            loaded = self._refresh(wait=loaded is None)
        if loaded is None:
            raise ClassifierUnavailable(self._error or "no classifier version is active")
        return loaded

    def score(self, doc: Doc, links_from: float | None = 0.0) -> Score:
        """Score one comment (and, from `links_from` up, its words without its links), or
        raise ClassifierUnavailable."""
        loaded = self.current()
        try:
            return explain(loaded, doc, links_from=links_from)
        except Exception as exc:  # a scoring bug must fail closed, not lose the comment
            logger.exception("classifier version %s failed to score", loaded.version)
            raise ClassifierUnavailable(
                f"version {loaded.version} failed to score: {exc.__class__.__name__}"
            ) from exc

    def status(self) -> dict[str, Any]:
        """Return what /readyz reports: the serving version and any refusal or error."""
        with contextlib.suppress(ClassifierUnavailable):
            self.current()
        loaded, refusal = self._loaded, self._refusal
        return {
            "loaded": loaded is not None,
            "version": loaded.version if loaded else None,
            "sha256": loaded.sha256 if loaded else None,
            "loaded_at": loaded.loaded_at.isoformat() if loaded else None,
            "checked_at": self._checked_at.isoformat() if self._checked_at else None,
            "error": self._error,
            "refused": None
            if refusal is None
            else {
                "version": refusal.version,
                "reason": refusal.reason,
                "at": refusal.at.isoformat(),
            },
        }

    def refresh(self) -> Loaded | None:
        """Check the database now (whatever the poll interval) and load a new version."""
        self._next_check = 0.0
        return self._refresh(wait=True)

    def _refresh(self, *, wait: bool) -> Loaded | None:
        acquired = (
            self._lock.acquire(timeout=FIRST_LOAD_WAIT_SECONDS)
            if wait
            else self._lock.acquire(blocking=False)
        )
        if not acquired:  # another thread is checking or loading: serve what we have
            return self._loaded
        try:
            if time.monotonic() >= self._next_check:
                try:
                    if self._sync():
                        release_freed_memory()  # the artifact's bytes and parse are gone
                finally:
                    self._checked_at = utcnow()
                    self._next_check = time.monotonic() + self.poll_seconds
            return self._loaded
        finally:
            self._lock.release()

    def _sync(self) -> bool:
        """Load the active version if it changed; return whether a load was tried."""
        try:
            with db.new_session(self.app) as session:
                active = session.execute(
                    select(ClassifierVersion.id, ClassifierVersion.sha256).where(
                        ClassifierVersion.active.is_(True)
                    )
                ).first()
                if active is None:
                    self._loaded = None
                    self._error = "no classifier version is active"
                    return False
                loaded, refusal = self._loaded, self._refusal
                if loaded and (loaded.version, loaded.sha256) == tuple(active):
                    self._error = None
                    return False
                if refusal and (refusal.version, refusal.sha256) == tuple(active):
                    return False  # refused already; it cannot have changed under the same sha
                row = session.execute(
                    select(ClassifierVersion.artifact, ClassifierVersion.manifest).where(
                        ClassifierVersion.id == active.id
                    )
                ).one()
        except SQLAlchemyError as exc:
            self._error = f"database unavailable ({exc.__class__.__name__})"
            logger.warning("classifier poll failed: %s", exc.__class__.__name__)
            return False
        self._load(active.id, active.sha256, row.artifact, row.manifest or {})
        return True

    def _load(self, version: int, sha256: str, blob: bytes, manifest: Any) -> None:
        started = time.monotonic()
        try:
            classifier = load_version(blob, sha256, manifest)
            scorer = fast_scorer(classifier)
        except ArtifactRefused as exc:
            self._refusal = Refusal(version, sha256, str(exc), utcnow())
            serving = self.version
            self._error = None if serving else f"version {version} refused: {exc}"
            logger.error(
                "classifier version %s refused (%s); serving %s",
                version,
                exc,
                serving or "nothing",
            )
            return
        previous = self._loaded
        floor = getattr(classifier, "spam_floor_", None)
        self._loaded = Loaded(
            version, sha256, classifier, scorer, utcnow(), None if floor is None else float(floor)
        )
        self._refusal = None
        self._error = None
        logger.info(
            "classifier version %s loaded in %.2f s (was %s)",
            version,
            time.monotonic() - started,
            previous.version if previous else "none",
        )
        if previous is None and self.rescore_on_load:
            from moderation.rescore import rescore_in_background

            self.rescore_thread = rescore_in_background(self.app, self)
