"""How the classifier reads a comment: here, its own words with its links taken out."""

from __future__ import annotations

import pytest

from moderation.classifier.interface import Doc
from moderation.reading import ReadingOptions
from moderation.reading import fold
from moderation.reading import normalize
from moderation.reading import read_doc
from moderation.reading import shaped_for
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
