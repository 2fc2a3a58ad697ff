"""The bulk n-gram counting gives exactly scikit-learn's TfidfVectorizer matrices."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from moderation import ngrams
from moderation.features import WORD_PATTERN

TRICKY = [
    "Check out my channel http://example.com/watch?v=abc !!!",
    "  leading and   trailing  spaces\t\tand\ttabs\n\nnew lines  ",
    "a b c d e",  # one-letter words: padded shorter than the longest n
    "ab abc abcd abcde abcdef",
    "",
    "   ",
    "x",
    "İstanbul ǅ ß ﬁ Straße",  # lowercasing changes the length
    "emoji 😀😀😀 and wide 中文字符 text",
    "no\u00a0break\u2003em\u2028line\x1cfile separators",
    "lone surrogate \ud800 inside",
    "aaaaaaa  aaaaaaa aaaaaaa",
    "$£€!? free $$$ money!!!",
    "two  spaces  inside  every  gap",
]
CONFIGS = [
    pytest.param({"analyzer": "char_wb", "ngram_range": (3, 5)}, id="char_wb-3-5"),
    pytest.param({"analyzer": "char_wb", "ngram_range": (1, 3)}, id="char_wb-1-3"),
    pytest.param({"analyzer": "char_wb", "ngram_range": (2, 4)}, id="char_wb-2-4"),
    pytest.param({"ngram_range": (1, 2), "token_pattern": WORD_PATTERN}, id="word-1-2"),
    pytest.param({"ngram_range": (1, 3), "token_pattern": WORD_PATTERN}, id="word-1-3"),
    pytest.param({"ngram_range": (2, 3), "token_pattern": r"(?u)\b\w+\b"}, id="word-2-3"),
]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Tricky texts plus random ones, with enough repetition for min_df=2 to prune."""
    rng = random.Random(0)  # noqa: S311 (test data, not secrets)
    alphabet = "abcdefgh  éü!$1\t"
    made = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60))) for _ in range(300)]
    return TRICKY + made + TRICKY[:5]


def _vectorizer(config: dict[str, Any], min_df: int) -> TfidfVectorizer:
    return TfidfVectorizer(sublinear_tf=True, min_df=min_df, dtype=np.float64, **config)


@pytest.mark.parametrize("min_df", [1, 2])
@pytest.mark.parametrize("config", CONFIGS)
def test_fit_transform_equals_scikit_learn(
    texts: list[str], config: dict[str, Any], min_df: int
) -> None:
    reference, ours = _vectorizer(config, min_df), _vectorizer(config, min_df)
    expected = reference.fit_transform(texts)
    got = ngrams.fit_transform(ours, texts)
    assert ours.vocabulary_ == reference.vocabulary_
    np.testing.assert_allclose(ours.idf_, reference.idf_)
    assert abs(got - expected).max() < 1e-12


@pytest.mark.parametrize("config", CONFIGS)
def test_index_transform_equals_scikit_learn(texts: list[str], config: dict[str, Any]) -> None:
    vectorizer = _vectorizer(config, 2).fit(texts[::2])
    index = ngrams.Index(vectorizer)
    assert index.exact
    expected = vectorizer.transform(texts)
    got = index.transform(texts)
    assert got.shape == expected.shape
    assert abs(got - expected).max() < 1e-12


def test_learned_vectorizer_transforms_alike_with_scikit_learn(texts: list[str]) -> None:
    # What an artifact saves is the vectorizer: scikit-learn's own transform must agree.
    vectorizer = _vectorizer({"analyzer": "char_wb", "ngram_range": (3, 5)}, 2)
    learned = ngrams.fit_transform(vectorizer, texts)
    assert abs(vectorizer.transform(texts) - learned).max() < 1e-12


def test_batches_larger_than_a_chunk_count_the_same(
    texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {"analyzer": "char_wb", "ngram_range": (3, 5)}
    whole_vectorizer = _vectorizer(config, 2)
    whole = ngrams.fit_transform(whole_vectorizer, texts)
    monkeypatch.setattr(ngrams, "CHUNK", 7)
    chunked_vectorizer = _vectorizer(config, 2)
    chunked = ngrams.fit_transform(chunked_vectorizer, texts)
    assert chunked_vectorizer.vocabulary_ == whole_vectorizer.vocabulary_
    assert abs(chunked - whole).max() < 1e-12
    assert abs(ngrams.Index(chunked_vectorizer).transform(texts) - whole).max() < 1e-12


@pytest.mark.parametrize(
    "option",
    [
        pytest.param({"binary": True}, id="binary"),
        pytest.param({"analyzer": "char"}, id="char-analyzer"),
        pytest.param({"analyzer": "char_wb", "ngram_range": (4, 5)}, id="char_wb-from-4"),
        pytest.param({"stop_words": ["free"]}, id="stop-words"),
        pytest.param({"max_features": 50}, id="max-features"),
        pytest.param({"min_df": 0.01}, id="min-df-share"),
        pytest.param({"lowercase": False}, id="no-lowercase"),
    ],
)
def test_other_options_are_left_to_scikit_learn(texts: list[str], option: dict[str, Any]) -> None:
    config = {"sublinear_tf": True, "dtype": np.float64, **option}
    reference, ours = TfidfVectorizer(**config), TfidfVectorizer(**config)
    assert not ngrams.supports(ours)
    expected = reference.fit_transform(texts)
    assert abs(ngrams.fit_transform(ours, texts) - expected).max() < 1e-12
    assert abs(ngrams.Index(ours).transform(texts) - reference.transform(texts)).max() < 1e-12


def test_texts_without_words_give_an_empty_vocabulary_error() -> None:
    with pytest.raises(ValueError, match="empty vocabulary"):
        ngrams.fit_transform(_vectorizer({"analyzer": "char_wb"}, 1), ["", "   ", "\n"])


def test_hash_terms_matches_the_hashes_of_cut_grams() -> None:
    grams = ngrams.char_grams(["hello wide 😀 world"], 3, 5)
    names = [grams.text(i) for i in range(len(grams.keys))]
    np.testing.assert_array_equal(ngrams.hash_terms(names), grams.keys)
