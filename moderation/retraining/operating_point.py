"""A retrained version's own spam threshold, read from the site's labels it never saw."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# Chosen before any measurement: the goal (at most 1 % of a site's ham sent to
# spam); the least ham for a floor of its own (from 99 on, 1 / (n + 1) <= 1 %); the highest
# a version's own threshold may go, so that a mislabelled "ham" cannot stop it from ever
# sending anything to spam.
HAM_TO_SPAM_GOAL = 0.01
OWN_SPAM_FLOOR = "own_spam_floor"  # its key in a version's manifest["thresholds"]
MIN_HAM = 100
MAX_FLOOR = 0.99


def spam_floor(
    out_of_fold: Sequence[float] | None,
    spam: Sequence[bool],
    goal: float = HAM_TO_SPAM_GOAL,
    min_ham: int = MIN_HAM,
) -> float | None:
    """Return the lowest spam threshold (in hundredths) that keeps the expected share of the
    site's unseen ham sent to spam at most `goal`, capped at MAX_FLOOR; None with fewer than
    `min_ham` ham (the site's configured threshold alone decides then).

    Split-conformal: if the scores of an unseen ham comment and of the n labelled ham are
    exchangeable, the chance that it scores above all but the k highest labelled ones is at
    most (k + 1) / (n + 1). So k = floor(goal * (n + 1)) - 1 of the out-of-fold ham may
    score at or above the threshold: none of 100 to 198, one of 199 to 298, and so on.
    (Letting goal * n of them above it, as an empirical 1 % would, expects up to twice
    the goal with a few hundred labels.) The decision step sends a comment to spam at the
    higher of this and the site's spam threshold, so it only ever makes a version more
    careful than the admin asked.
    """
    if out_of_fold is None:
        return None
    y = np.asarray(spam, dtype=bool)
    ham = np.sort(np.asarray(out_of_fold, dtype=float)[~y])[::-1]
    if len(ham) < min_ham:
        return None
    allowed = max(math.floor(goal * (len(ham) + 1)) - 1, 0)
    highest_kept = ham[allowed]  # the highest ham score that must stay under the threshold
    floor = math.floor(highest_kept * 100 + 1) / 100  # strictly above it, in hundredths
    return min(floor, MAX_FLOOR)
