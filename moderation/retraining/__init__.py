"""Retraining on a real install: the active classifier as a prior, corrected by local labels.

A real install has the shipped classifier and its moderators' decisions, not our corpora.
The candidate is the active version's *base* classifier, frozen, followed by a small
logistic correction fitted on the labels (decisions, plus any base corpus files the admin
named)::

    p(spam | x) = sigmoid(a * logit(p_base(x)) + b + w . phi(x) + v . x_base)

phi is a word and character n-gram TF-IDF of the labelled texts (this site's vocabulary,
at weight 0.7) and x_base the base's own features of the text (its n-grams, linked hosts,
email domains and signals, at weight 1), so v corrects the base's weights where this
site's moderators disagree with them (a reader's link to a .com blog, say). The penalty
k_a (a - 1)^2 + k_b b^2 + k (|w|^2 + |v|^2) centres the fit on the base classifier: with no
labels the candidate *is* the base (a = 1, b = 0, w = v = 0); each label moves it only as
far as the data outweighs the prior — a Gaussian prior centred on the base's weights
(Chelba and Acero's MAP adaptation), i.e. a warm start that cannot forget, since the base's
own weights are kept and only shifted where labels say so. This is why it is
sound where the alternatives are not: refitting the whole pipeline on a few hundred
decisions forgets the base's vocabulary; incremental SGD drifts with the order of the
labels; carrying a sample of the training corpora in the manifest would ship the corpora,
which are never distributed. It is fast (one L-BFGS fit over the labels; the base reads
each text once) and calibrated for this site (a and b re-fit the base's slope and prior).
The priors on a and b are firm (k_a = 20, k_b = 5) and the one on w and v loose (k = 0.03),
because moderators' labels are not a random sample: spam the base already sent to spam
is rarely clicked, so the labels over-represent ham and the base's mistakes; the
correction should learn this site's words, not that "high scores are ham". For the same
reason the labels are class-balanced (spam and ham weigh the same in total): unweighted,
a few spam labels among many ham teach the correction that this site's common words
(the post's name, say) mean ham, and it lowers spam that uses them. Measured by
bench/learning.py (base trained without one YouTube video), correcting the base's own
weights as well as new n-grams gains +3.8 / +1.8 / +4.0 / -0.4 accuracy points on the
four videos after 100 labels, against +1.9 / +1.2 / +2.9 / +0.4 with n-grams alone;
with the classes balanced, +4.5 / +1.8 / +4.8 / -1.3 (fewer errors on three videos,
more on Eminem, where the base is already right on 98 %).

The fit is then recalibrated (Platt scaling on 5-fold out-of-fold log-odds of the same
labels, centred on no change by a prior as firm as b's, the scale capped at 1, and folded
into a, b, w and v). Without it the correction
was sure of itself far beyond what a few hundred labels show: fitted with a loose prior
and class-balanced, it separated its own labels, and on comments it never saw it sent
the site's ordinary talk that shares its spam's words to spam. Measured by
bench/learning.py --corpus scamspot (base without ScamSpot, 200 labels), 4-5 % of the
unseen ham went to spam, and the guard did not see it: it judges on the held-out fifth
of the labels, some 20 ham at 200 labels, where a 4 % rate is one comment or none.
The out-of-fold scores also give the candidate's metrics a "cross_validated" part.

Every retraining corrects the *root* base (the active version's base when the active
version is itself a correction) with all current labels, so versions never nest.

The out-of-fold scores also set the version's own spam threshold (operating_point): the
lowest at which at most 1 % of the labelled ham would go to spam, once there are 100 ham;
the decision step sends to spam at the higher of it and the site's threshold.

The guard (evaluation.compare) judges a candidate against the active version on the
held-out labels and on the labels the active version never learned (made after it was
stored; the candidate is judged on those by its out-of-fold scores). A lower F1 is worse;
more ham sent to spam is worse only when an exact one-sided sign test on the ham only one
of them sends to spam gives p <= 0.05: a 1-vs-0 difference on 20 held-out ham is noise.

Labels: a comment is labelled when its status is approved (ham) or spam *and* a moderator
set that status (an audit event by a user); the classifier's own verdicts are not labels,
and rejected ("not publishable") is not a spam label. Each labelled comment is held out or
not by a hash of its id (HOLDOUT_PERCENT), so every version is trained without, and every
pair of versions can be compared on, the same held-out comments.
"""

from moderation.retraining.candidate import METHOD
from moderation.retraining.candidate import Candidate
from moderation.retraining.candidate import build_candidate
from moderation.retraining.candidate import run_training
from moderation.retraining.candidate import store_candidate
from moderation.retraining.correction import EPS
from moderation.retraining.correction import LocalCorrection
from moderation.retraining.correction import _logit as _logit  # tests use it
from moderation.retraining.correction import class_balance
from moderation.retraining.correction import correction_text
from moderation.retraining.correction import make_features
from moderation.retraining.evaluation import PR_POINTS
from moderation.retraining.evaluation import SIGNIFICANCE
from moderation.retraining.evaluation import compare
from moderation.retraining.evaluation import evaluate_pair
from moderation.retraining.evaluation import evaluate_scores
from moderation.retraining.evaluation import holdout_examples
from moderation.retraining.evaluation import judging_examples
from moderation.retraining.evaluation import paired_counts
from moderation.retraining.evaluation import sign_test
from moderation.retraining.labels import CORPUS_SUFFIXES
from moderation.retraining.labels import HOLDOUT_PERCENT
from moderation.retraining.labels import Example
from moderation.retraining.labels import TrainingOptions
from moderation.retraining.labels import available_corpus_files
from moderation.retraining.labels import corpus_dir
from moderation.retraining.labels import corpus_examples
from moderation.retraining.labels import decision_examples
from moderation.retraining.labels import held_out
from moderation.retraining.labels import moderator_labels
from moderation.retraining.labels import resolve_corpus_file
from moderation.retraining.promotion import HISTORY_KEY
from moderation.retraining.promotion import HISTORY_MAX
from moderation.retraining.promotion import Judgement
from moderation.retraining.promotion import PromotionResult
from moderation.retraining.promotion import apply_promotion
from moderation.retraining.promotion import apply_rollback
from moderation.retraining.promotion import judge_promotion
from moderation.retraining.promotion import judge_rollback
from moderation.retraining.promotion import previous_version
from moderation.retraining.promotion import promote
from moderation.retraining.promotion import rollback
from moderation.retraining.versions import active_version
from moderation.retraining.versions import list_versions
from moderation.retraining.versions import load
from moderation.retraining.versions import root_classifier
from moderation.training import CorpusError

__all__ = [
    "CORPUS_SUFFIXES",
    "EPS",
    "HISTORY_KEY",
    "HISTORY_MAX",
    "HOLDOUT_PERCENT",
    "METHOD",
    "PR_POINTS",
    "SIGNIFICANCE",
    "Candidate",
    "CorpusError",
    "Example",
    "Judgement",
    "LocalCorrection",
    "PromotionResult",
    "TrainingOptions",
    "active_version",
    "apply_promotion",
    "apply_rollback",
    "available_corpus_files",
    "build_candidate",
    "class_balance",
    "compare",
    "corpus_dir",
    "corpus_examples",
    "correction_text",
    "decision_examples",
    "evaluate_pair",
    "evaluate_scores",
    "held_out",
    "holdout_examples",
    "judge_promotion",
    "judge_rollback",
    "judging_examples",
    "list_versions",
    "load",
    "make_features",
    "moderator_labels",
    "paired_counts",
    "previous_version",
    "promote",
    "resolve_corpus_file",
    "rollback",
    "root_classifier",
    "run_training",
    "sign_test",
    "store_candidate",
]
