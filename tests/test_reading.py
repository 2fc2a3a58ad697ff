"""How the classifier reads a comment: here, its own words with its links taken out."""

from __future__ import annotations

import html
import random
import re

import pytest

from moderation.classifier.interface import Doc
from moderation.reading import ANCHOR_MAX
from moderation.reading import HREF_RE
from moderation.reading import TAG_RE
from moderation.reading import ReadingOptions
from moderation.reading import fold
from moderation.reading import links_in
from moderation.reading import normalize
from moderation.reading import read_doc
from moderation.reading import shaped_for
from moderation.reading import strip_links
from moderation.reading import without_links


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # No link: nothing to compare.
        ("A long and thoughtful reply without any link in it at all.", None),
        # A caption for a link is all the comment says besides it: judged on its own,
        # and nothing at all is left of a bare link.
        ("please like :D https://vote.example.com/1", "please like :D  "),
        ("Great post, thanks! https://example.org", "Great post, thanks!  "),
        ("https://twitter.com/someone", " "),
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


# --- what the blog model reads besides the words (reading.ReadingOptions) ---

BLOG = ReadingOptions(
    fold_unicode=True, strip_urls=True, author_words=True, extra_meta=True, binned_signals=True
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ḥāźeł_mcẹ̀wǝṅ", "hazel_mcewen"),  # marks dropped, ł and ǝ mapped
        ("𝐁𝐮𝐲 ｃｈｅａｐ", "Buy cheap"),  # mathematical and full-width letters
        ("Неllо frіеnd", "Hello friend"),  # Cyrillic look-alikes
        ("Zoë and Ærø", "Zoe and AEro"),
        ("plain ascii stays", "plain ascii stays"),
    ],
)
def test_fold_reads_look_alike_letters_as_plain_ones(text, expected):
    assert fold(text) == expected


@pytest.mark.parametrize(
    ("doc", "has"),
    [
        (Doc("Call +1 (555) 123-4567 today"), {"phone"}),
        (Doc("WhatsApp me on 07700 900123 for returns"), {"phone"}),
        (Doc("In 2019 we paid 1,234 dollars, not 12 345."), set()),
        (Doc("Contact @fx_lady on telegram #bitcoin #forex"), {"handle", "tag"}),
        (Doc("Mail me at ann@example.org, issue #42 is fixed"), set()),
        (Doc("see http://x.example.com/#top and http://t.co/@x"), set()),
    ],
)
def test_phone_numbers_handles_and_hashtags_are_meta_tokens(doc, has):
    _, meta, _ = read_doc(doc, BLOG)
    assert {token.split(":", 1)[1] for token in meta.split() if token.startswith("has:")} == has


def test_author_name_and_site_words_join_the_text_and_links_leave_it():
    doc = Doc(
        "Buy now http://pharma.example.ru/x best prices",
        "Cheap Pills",
        "",
        "https://www.cheap-pills-online.com/shop",
    )
    grams, meta, raw = read_doc(doc, BLOG)
    assert grams.split() == [
        "Buy",
        "now",
        "best",
        "prices",
        "Cheap",
        "Pills",
        "cheap",
        "pills",
        "online",
    ]
    assert "link:pharma.example.ru" in meta.split()
    assert "site:cheap-pills-online.com" in meta.split()
    assert raw[0] == 1  # the link is still counted for moderators


def test_binned_signals_cannot_grow_with_length():
    short = Doc("Thanks!")
    long = Doc("An argued reply. " * 200)
    shaped = [shaped_for(read_doc(d, BLOG)[2], BLOG) for d in (short, long)]
    # Length, capitals and digits are read as bins (meta tokens), not linear signals.
    assert [s[2:5] for s in shaped] == [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    assert "len:0" in read_doc(short, BLOG)[1].split()
    assert "len:5" in read_doc(long, BLOG)[1].split()
    # The first model's reading is unchanged by default.
    assert read_doc(long, ReadingOptions())[0] == normalize(long.content)


# --- links in linear time ---

# The one pattern links were found with before: right, but quadratic in a run of dotted
# labels with no domain ("a.a.a…": 64 KB took minutes), and the anchor pattern cubic in
# "<a href=" repeats. On short text it is the reference the linear reading must equal.
REFERENCE_LINK = re.compile(
    r"(?:https?://|www\.)[^\s<>\"']+"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|info|biz|ru|co|uk|me|tv|ly|io|us"
    r"|de|in|pl|fr|es|it|nl|br|cn|xyz|online|site|club|top)\b(?:/[^\s<>\"']*)?",
    re.IGNORECASE,
)
PIECES = [
    "a", "b", "x", ".", ".", "-", "_", "1", " ", "\n", "/", "/p", ":", "://", "http", "https",
    "www", "www.", "com", "co", "uk", "org", "info", "site", "é", "\u212a", "\u017f", "<a ",
    "href=", "'", '"', ">", "<",
]  # fmt: skip


def fuzz(seed: int, n: int) -> list[str]:
    """Return n short random texts made of the pieces links and anchors are made of."""
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    return ["".join(rng.choices(PIECES, k=rng.randint(0, 40))) for _ in range(n)]


@pytest.mark.parametrize("seed", range(4))
def test_links_are_found_as_the_one_pattern_found_them(seed):
    for text in fuzz(seed, 5_000):
        assert links_in(text) == REFERENCE_LINK.findall(text), text
        assert strip_links(text) == REFERENCE_LINK.sub(" ", text), text
        anchors = HREF_RE.sub(lambda m: f" {m.group(1)} ", text)
        assert normalize(text) == TAG_RE.sub(" ", html.unescape(anchors)), text


@pytest.mark.parametrize(
    ("text", "links"),
    [
        ("a." * 32_000, []),  # took minutes
        ("a." * 30_000 + "com/path", ["a." * 30_000 + "com/path"]),
        ("x." * 20_000 + "www.example", ["www.example"]),
        ("x." * 20_000 + "http://example", ["http://example"]),
    ],
)
def test_long_runs_of_dotted_labels_are_read_in_one_pass(text, links):
    assert links_in(text) == links


def test_an_anchor_is_read_only_up_to_anchor_max_characters():
    text = "<a href=" * 8_000  # no ">": no tag at all, and it took minutes
    assert normalize(text) == text
    closed = normalize(text + ">")
    # The tag read is the last start within ANCHOR_MAX of the ">"; the text before stays.
    assert closed.endswith(" <a ")
    assert len(text) - ANCHOR_MAX < len(closed) < len(text)
