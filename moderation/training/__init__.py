"""Training classifier versions: read labelled corpora, fit, evaluate, store and ship them.

corpora reads the files and the moderators' decisions; fitting fits and measures (the
pieces retraining builds on); versions turns a fit into a version row with its manifest,
and imports the shipped one from models/.
"""

from moderation.training.corpora import AUXILIARY_FORMATS
from moderation.training.corpora import HAM_ONLY_FORMATS
from moderation.training.corpora import Corpus
from moderation.training.corpora import CorpusError
from moderation.training.corpora import CorpusFormat
from moderation.training.corpora import decision_corpus
from moderation.training.corpora import file_sha256
from moderation.training.corpora import parse_label
from moderation.training.corpora import read_corpus
from moderation.training.corpora import sniff_format
from moderation.training.fitting import EVALUATION_KEYS
from moderation.training.fitting import evaluate
from moderation.training.fitting import evaluate_scores
from moderation.training.fitting import fit
from moderation.training.fitting import leave_one_corpus_out
from moderation.training.fitting import leave_one_file_out
from moderation.training.fitting import spam_scores
from moderation.training.versions import ARTIFACT_NAME
from moderation.training.versions import CARD_NAME
from moderation.training.versions import MANIFEST_NAME
from moderation.training.versions import METHOD
from moderation.training.versions import Trained
from moderation.training.versions import export_artifact
from moderation.training.versions import git_commit
from moderation.training.versions import import_default_artifact
from moderation.training.versions import store_version
from moderation.training.versions import train

__all__ = [
    "ARTIFACT_NAME",
    "AUXILIARY_FORMATS",
    "CARD_NAME",
    "EVALUATION_KEYS",
    "HAM_ONLY_FORMATS",
    "MANIFEST_NAME",
    "METHOD",
    "Corpus",
    "CorpusError",
    "CorpusFormat",
    "Trained",
    "decision_corpus",
    "evaluate",
    "evaluate_scores",
    "export_artifact",
    "file_sha256",
    "fit",
    "git_commit",
    "import_default_artifact",
    "leave_one_corpus_out",
    "leave_one_file_out",
    "parse_label",
    "read_corpus",
    "sniff_format",
    "spam_scores",
    "store_version",
    "train",
]
