"""TF-IDF n-gram matrices equal to scikit-learn's TfidfVectorizer, computed in bulk.

scikit-learn counts n-grams with one Python statement per n-gram (`_count_vocab`), which
made batch scoring and training spend most of their time there. Here a batch of texts is
cut and counted with numpy: character n-grams are numbered by a 64-bit polynomial hash of
their code points and matched against the vocabulary's hashes; word n-grams are looked up
with C-level `map` calls. The vectorizer objects stay scikit-learn's (their vocabulary_
and idf_ are what an artifact saves), so artifacts made either way load and score alike.
Options this module does not reproduce are left to scikit-learn (`supports`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

CHUNK = 5000  # texts cut at a time: bounds the memory the n-grams take
MISSING = -1
PRIME = np.uint64(0x100000001B3)
SPACE = 32


def supports(vectorizer: TfidfVectorizer) -> bool:
    """Say whether this module computes exactly what the vectorizer would."""
    params = vectorizer.get_params()
    low = params["ngram_range"][0]
    return (
        (params["analyzer"] == "word" or (params["analyzer"] == "char_wb" and low <= 3))
        and low >= 1
        and params["input"] == "content"
        and params["lowercase"]
        and params["preprocessor"] is None
        and params["tokenizer"] is None
        and params["strip_accents"] is None
        and params["stop_words"] is None
        and params["binary"] is False
        and params["max_features"] is None
        and params["max_df"] == 1.0
        and isinstance(params["min_df"], int)
        and params["vocabulary"] is None
        and params["norm"] == "l2"
        and params["use_idf"]
        and params["smooth_idf"]
    )


@dataclass
class Grams:
    """The n-grams counted in a batch of texts: one entry per occurrence."""

    keys: np.ndarray  # the n-gram's number: a hash (characters) or a column (words)
    rows: np.ndarray  # the text it occurs in
    starts: np.ndarray  # characters: where it starts in `joined`
    sizes: np.ndarray  # characters: its length
    joined: str = ""

    def text(self, i: int) -> str:
        """Return the i-th character n-gram as a string."""
        start = int(self.starts[i])
        return self.joined[start : start + int(self.sizes[i])]


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint64)


def _padded(text: str) -> str:
    words = text.lower().split()
    return " " + "  ".join(words) + " " if words else ""


def char_grams(texts: Sequence[str], low: int, high: int) -> Grams:
    """Return the `char_wb` n-grams of the texts, as scikit-learn's analyzer cuts them.

    Each text's words are padded with a space and joined by two spaces, and all texts are
    joined into one string. An n-gram that crosses a word (or text) boundary contains two
    spaces, which no n-gram inside a padded word does: those are dropped. For low ≤ 3 that
    leaves exactly scikit-learn's n-grams (its "short word counted once" rule then only
    applies to words exactly n long, which have one n-gram anyway).
    """
    padded = [_padded(text) for text in texts]
    joined = "".join(padded)
    lengths = np.fromiter(map(len, padded), np.int64, len(padded))
    row_of = np.repeat(np.arange(len(texts)), lengths)
    codes = _codes(joined)
    size = len(codes)
    space = codes == SPACE
    doubles = np.zeros(max(size, 1), np.int64)  # doubles[k]: double spaces starting < k
    np.cumsum(space[:-1] & space[1:], out=doubles[1:size])
    keys, rows, starts, sizes = [], [], [], []
    hashes = np.ones(size, np.uint64)
    for n in range(1, high + 1):
        if size < n:
            break
        hashes = hashes[: size - n + 1] * PRIME + codes[n - 1 :]
        if n < low:
            continue
        first = np.flatnonzero(doubles[n - 1 :] == doubles[: size - n + 1])
        keys.append(hashes[first])
        rows.append(row_of[first])
        starts.append(first)
        sizes.append(np.full(len(first), n, np.int64))
    if not keys:
        empty = np.zeros(0, np.int64)
        return Grams(np.zeros(0, np.uint64), empty, empty, empty, joined)
    return Grams(
        np.concatenate(keys),
        np.concatenate(rows),
        np.concatenate(starts),
        np.concatenate(sizes),
        joined,
    )


def hash_terms(terms: Sequence[str]) -> np.ndarray:
    """Return the hash char_grams gives each term (an n-gram as a string)."""
    out = np.zeros(len(terms), np.uint64)
    by_size: dict[int, list[int]] = defaultdict(list)
    for i, term in enumerate(terms):
        by_size[len(term)].append(i)
    for n, where in by_size.items():
        codes = _codes("".join(terms[i] for i in where)).reshape(len(where), n)
        hashes = np.ones(len(where), np.uint64)
        for k in range(n):
            hashes = hashes * PRIME + codes[:, k]
        out[where] = hashes
    return out


class Vocabulary(dict):
    """A vocabulary whose lookup of an unknown n-gram gives MISSING instead of raising."""

    def __missing__(self, key: str) -> int:
        return MISSING


def word_grams(
    texts: Sequence[str], pattern: str, low: int, high: int, number: Callable[[str], int]
) -> tuple[np.ndarray, np.ndarray]:
    """Return (row, column) of the texts' word n-grams; `number` gives a column or MISSING."""
    find = re.compile(pattern).findall
    columns: list[int] = []
    lengths = np.empty(len(texts), np.int64)
    for i, text in enumerate(texts):
        tokens = find(text.lower())
        before = len(columns)
        if low == 1:
            columns.extend(map(number, tokens))
        for n in range(max(low, 2), high + 1):
            columns.extend(
                map(number, map(" ".join, zip(*(tokens[k:] for k in range(n)), strict=False)))
            )
        lengths[i] = len(columns) - before
    keys = np.fromiter(columns, np.int64, len(columns))
    rows = np.repeat(np.arange(len(texts)), lengths)
    known = keys != MISSING
    return rows[known], keys[known]


def _chunks(texts: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(texts), CHUNK):
        yield texts[start : start + CHUNK]


def _count(rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    ones = np.ones(len(columns), dtype=np.float64)
    counts = sparse.csr_matrix((ones, (rows, columns)), shape=shape, dtype=np.float64)
    counts.sum_duplicates()
    return counts


def _weigh(vectorizer: TfidfVectorizer, counts: sparse.csr_matrix) -> sparse.csr_matrix:
    """Turn counts into the vectorizer's TF-IDF: sublinear tf if set, idf, l2 norm."""
    if vectorizer.sublinear_tf:
        np.log(counts.data, out=counts.data)
        counts.data += 1.0
    counts.data *= vectorizer.idf_[counts.indices]
    return normalize(counts, norm="l2", copy=False)


class Index:
    """A fitted vectorizer's vocabulary, ready to turn batches of texts into TF-IDF."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.vectorizer = vectorizer
        self.exact = supports(vectorizer)
        self.width = len(vectorizer.vocabulary_)
        self.sorted_keys = np.zeros(0, np.uint64)
        self.sorted_columns = np.zeros(0, np.int64)
        self.words = Vocabulary(vectorizer.vocabulary_) if vectorizer.analyzer == "word" else {}
        if self.exact and vectorizer.analyzer == "char_wb":
            terms = [""] * self.width
            for term, column in vectorizer.vocabulary_.items():
                terms[column] = term
            keys = hash_terms(terms)
            order = np.argsort(keys, kind="stable")
            self.sorted_keys = keys[order]
            self.sorted_columns = order
            # Two terms with one hash cannot be told apart: leave those to scikit-learn.
            self.exact = not np.any(self.sorted_keys[1:] == self.sorted_keys[:-1])

    def _columns(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Return (row, column) of every known n-gram occurrence in the texts."""
        vectorizer = self.vectorizer
        low, high = vectorizer.ngram_range
        if vectorizer.analyzer == "word":
            number = self.words.__getitem__
            return word_grams(texts, vectorizer.token_pattern, low, high, number)
        grams = char_grams(texts, low, high)
        at = np.minimum(np.searchsorted(self.sorted_keys, grams.keys), self.width - 1)
        known = self.sorted_keys[at] == grams.keys
        return grams.rows[known], self.sorted_columns[at[known]]

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Return the TF-IDF matrix of the texts (the vectorizer's transform)."""
        if not self.exact:
            return sparse.csr_matrix(self.vectorizer.transform(texts))
        parts = [sparse.csr_matrix((0, self.width), dtype=np.float64)]
        for chunk in _chunks(texts):
            rows, columns = self._columns(chunk)
            parts.append(_count(rows, columns, (len(chunk), self.width)))
        return _weigh(self.vectorizer, sparse.vstack(parts, format="csr"))


def _unique(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return np.unique's (unique, an index of each, inverse), with an unstable sort.

    np.unique sorts stably to return the first index of each key, which is slower; any
    occurrence names the n-gram.
    """
    order = np.argsort(keys)
    ordered = keys[order]
    starts = np.ones(len(keys), bool)
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    inverse = np.empty(len(keys), np.int64)
    inverse[order] = np.cumsum(starts) - 1
    return ordered[starts], order[starts], inverse


def _learn_chunk(
    vectorizer: TfidfVectorizer, texts: Sequence[str], seen: dict, terms: list[str]
) -> sparse.csr_matrix:
    """Count a chunk's n-grams, numbering new ones in `seen`.

    Words are their own keys in `seen`; a character n-gram's key is its hash, so its
    string is appended to `terms` (in the order of its number).
    """
    low, high = vectorizer.ngram_range
    if vectorizer.analyzer == "char_wb":
        grams = char_grams(texts, low, high)
        unique, first, inverse = _unique(grams.keys)
        before = len(seen)
        ids = np.fromiter(map(seen.__getitem__, unique.tolist()), np.int64, len(unique))
        terms.extend(grams.text(i) for i in first[ids >= before].tolist())
        return _count(grams.rows, ids[inverse], (len(texts), len(seen)))
    rows, columns = word_grams(texts, vectorizer.token_pattern, low, high, seen.__getitem__)
    return _count(rows, columns, (len(texts), len(seen)))


def fit_transform(vectorizer: TfidfVectorizer, texts: Sequence[str]) -> sparse.csr_matrix:
    """Learn the vectorizer's vocabulary and idf from the texts and return their matrix.

    The vocabulary is scikit-learn's: the n-grams in at least min_df texts, numbered in
    sorted order; idf is smoothed, as TfidfVectorizer's default.
    """
    if not supports(vectorizer):
        return sparse.csr_matrix(vectorizer.fit_transform(texts))
    seen: defaultdict = defaultdict()
    seen.default_factory = seen.__len__  # a new n-gram gets the next column
    terms: list[str] = []
    parts = [_learn_chunk(vectorizer, chunk, seen, terms) for chunk in _chunks(texts)]
    width = len(seen)
    if vectorizer.analyzer == "word":
        terms = list(seen)  # numbered in the order they were first seen
    if not width:
        raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
    counts = sparse.vstack(
        [
            sparse.csr_matrix((p.data, p.indices, p.indptr), shape=(p.shape[0], width))
            for p in parts
        ],
        format="csr",
    )
    document_frequency = np.bincount(counts.indices, minlength=width)
    kept = sorted(
        np.flatnonzero(document_frequency >= vectorizer.min_df).tolist(), key=terms.__getitem__
    )
    if not kept:
        raise ValueError("After pruning, no terms remain. Try a lower min_df.")
    counts = counts[:, kept]
    vectorizer.vocabulary_ = {terms[column]: i for i, column in enumerate(kept)}
    vectorizer.fixed_vocabulary_ = False
    vectorizer.idf_ = TfidfTransformer(smooth_idf=True).fit(counts).idf_
    return _weigh(vectorizer, counts)
