"""Classifier artifacts: skops bytes, loaded only after every safety check passes.

Never pickle or joblib: unpickling runs whatever code the file names. skops rebuilds
objects from a schema, and only the types listed here (beyond its own defaults).
"""

from __future__ import annotations

import hashlib
import math
import platform
import warnings
from collections.abc import Mapping
from typing import Any

from moderation.classifier.interface import Doc

# The custom types an artifact may hold beyond skops' defaults, reviewed: each is a
# class of ours whose state skops restores as plain attributes; none runs code on load.
# Never extend this list with what skops.io.get_untrusted_types() reports.
TRUSTED_TYPES = (
    "moderation.features.CommentFeatures",
    "moderation.features.SpamEstimator",
    "moderation.retraining.LocalCorrection",
)
CANARY = (
    Doc(
        content="WIN a FREE iPhone!!! Click http://free-prizes.example.com/claim now",
        author_name="Prize Team",
        author_email="win@prizes.example.com",
        author_url="http://free-prizes.example.com",
    ),
    Doc(content="Thanks for the clear write-up, the second example helped me a lot."),
)


class ArtifactRefused(RuntimeError):
    """An artifact was not loaded: the message says which check it failed."""


def sha256_of(blob: bytes) -> str:
    """Return the hex sha256 of an artifact."""
    return hashlib.sha256(blob).hexdigest()


def library_versions() -> dict[str, str]:
    """Return the versions an artifact depends on (recorded in its manifest)."""
    import numpy
    import scipy
    import sklearn
    import skops

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }


def dump_artifact(classifier: Any) -> bytes:
    """Serialize a classifier with skops (never pickle)."""
    import skops.io

    return skops.io.dumps(classifier, compression=8)


def manifest_sklearn_version(manifest: Mapping[str, Any]) -> str | None:
    """Return the scikit-learn version a manifest says its artifact was made with."""
    libraries = manifest.get("libraries")
    if isinstance(libraries, Mapping) and libraries.get("scikit-learn"):
        return str(libraries["scikit-learn"])
    value = manifest.get("sklearn_version")
    return str(value) if value else None


def load_version(blob: bytes, sha256: str, manifest: Mapping[str, Any]) -> Any:
    """Load a classifier: checksum, same scikit-learn, trusted types only, canary score.

    :raises ArtifactRefused: naming the check that failed; nothing was deserialized
        unless the first three checks passed.
    """
    import sklearn
    import skops.io

    actual = sha256_of(blob)
    if actual != sha256 or manifest.get("sha256", sha256) != sha256:
        raise ArtifactRefused(
            f"checksum mismatch: the artifact's sha256 is {actual[:12]}…, its record"
            f" says {sha256[:12]}…"
        )
    made_with = manifest_sklearn_version(manifest)
    if made_with is None:
        raise ArtifactRefused("the manifest does not say which scikit-learn made it")
    if made_with != sklearn.__version__:
        raise ArtifactRefused(
            f"made with scikit-learn {made_with}, this process runs"
            f" {sklearn.__version__}: retrain it or install that version"
        )
    try:
        untrusted = skops.io.get_untrusted_types(data=blob)
    except Exception as exc:  # a pickle, a truncated file, anything not skops
        raise ArtifactRefused(
            f"not a skops artifact ({exc.__class__.__name__}); pickles are never loaded"
        ) from None
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise ArtifactRefused(f"it holds types that are not trusted: {unknown}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. InconsistentVersionWarning
            classifier = skops.io.loads(blob, trusted=list(TRUSTED_TYPES))
    except Exception as exc:
        raise ArtifactRefused(f"it does not load: {exc}") from None
    check_canary(classifier)
    return classifier


def check_canary(classifier: Any) -> None:
    """Refuse a classifier that cannot score two fixed comments sensibly."""
    try:
        proba = classifier.predict_proba(list(CANARY))
        values = [float(proba[i][1]) for i in range(len(CANARY))]
    except Exception as exc:
        raise ArtifactRefused(f"the canary comments do not score: {exc}") from None
    if len(proba) != len(CANARY) or not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
        raise ArtifactRefused(f"the canary scores are not probabilities: {values}")
