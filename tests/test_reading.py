"""How the classifier reads a comment: here, its own words with its links taken out."""

from __future__ import annotations

import pytest

from moderation.reading import normalize
from moderation.reading import without_links


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # No link: nothing to compare.
        ("A long and thoughtful reply without any link in it at all.", None),
        # A caption for a link, not a sentence of its own.
        ("please like :D https://vote.example.com/1", None),
        ("https://twitter.com/someone", None),
        # Its own words, links of every kind taken out (URLs, www. names, bare domains,
        # anchors whose text is kept).
        (
            "The BBC covered it as well, see https://www.bbc.co.uk/news/1 today",
            "The BBC covered it as well, see   today",
        ),
        (
            "Same bug here, this thread helped me a lot: www.example.org/t/1",
            "Same bug here, this thread helped me a lot:  ",
        ),
        (
            'My favourite part is <a href="https://youtu.be/x?t=219">3:39</a> for sure, really',
            "My favourite part is    3:39  for sure, really",
        ),
        (
            "Found the recipe on cooking.example.com and it worked well",
            "Found the recipe on   and it worked well",
        ),
    ],
)
def test_without_links_keeps_a_comments_own_words(content, expected):
    assert without_links(content) == expected


@pytest.mark.parametrize(
    "content",
    [
        "Tags &lt;b&gt; and a < b > c stay as the reader wrote them: {link} ok",
        "Entities &amp; ampersands &amp;amp; survive the round trip {link} fine",
    ],
)
def test_without_links_reads_back_as_the_same_text(content):
    # The intake scores the result as a comment again: normalize() must read it as is.
    link = "https://example.org/x"
    rest = without_links(content.format(link=link))
    assert rest is not None
    assert normalize(rest) == normalize(content.format(link=" "))
