"""A table of malformed Akismet requests: each answers 200 (a decision or "invalid"),
never a 500, and stores nothing our own API would refuse (or nothing at all)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import delete
from sqlalchemy import select

from moderation import db
from moderation.schemas import CommentIn
from moderation.tables import AkismetReport
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import FloodMark
from tests.test_akismet import FORM
from tests.test_akismet import count

REQUIRED = ("api_key", "blog", "user_ip")
FIELDS = (
    "api_key",
    "blog",
    "user_ip",
    "user_agent",
    "referrer",
    "permalink",
    "comment_type",
    "comment_author",
    "comment_author_email",
    "comment_author_url",
    "comment_content",
    "comment_post_ID",
    "comment_parent",
    "comment_date_gmt",
    "user_role",
    "guid",
    "recheck_reason",
    "is_test",
    "blog_charset",
    "honeypot_field_name",
)
ANSWERS = {"true", "false", "invalid"}


def base_fields(key: str) -> dict[str, bytes]:
    """Return a valid comment-check, field by field, as raw (percent-encoded) values."""
    values = {
        "api_key": key,
        "blog": "https://blog.example.org",
        "user_ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0",
        "referrer": "https://blog.example.org/",
        "permalink": "https://blog.example.org/p/",
        "comment_type": "comment",
        "comment_author": "Grace",
        "comment_author_email": "grace@example.org",
        "comment_author_url": "https://grace.example.org",
        "comment_content": "A fine comment.",
        "comment_post_ID": "42",
        "comment_parent": "0",
        "comment_date_gmt": "2026-11-30 12:00:00",
        "user_role": "",
        "guid": "",
        "recheck_reason": "",
        "is_test": "",
        "blog_charset": "UTF-8",
        "honeypot_field_name": "",
    }
    return {name: quote(value, safe="").encode("ascii") for name, value in values.items()}


# Each oddity turns (name, value) into the raw pairs sent in its place.
ODDITIES: dict[str, Any] = {
    "empty": lambda name, value: [name + b"="],
    "missing": lambda name, value: [],
    "no-equals": lambda name, value: [name],
    "huge": lambda name, value: [name + b"=" + b"word+" * 13_200],  # past every limit
    "repeated": lambda name, value: [name + b"=first", name + b"=" + value],
    "repeated-then-empty": lambda name, value: [name + b"=" + value, name],
    "bad-percent": lambda name, value: [name + b"=%zz%f%"],
    "latin-1-bytes": lambda name, value: [name + b"=K%F6ln+%E9t%E9"],
    "utf8-surrogate-bytes": lambda name, value: [name + b"=%ED%A0%80x"],
    "nul-and-controls": lambda name, value: [name + b"=a%00b%1B%07c%0D%0Ad"],
    "bidi-and-invisible": lambda name, value: [name + b"=a%E2%80%AEb%E2%80%8Bc%EF%BB%BF"],
    "20-digits": lambda name, value: [name + b"=" + b"9" * 20],
    "negative": lambda name, value: [name + b"=-1"],
    "array-syntax": lambda name, value: [name + b"[]=" + value, name + b"[x]=y"],
    "html": lambda name, value: [name + b"=%3Cscript%3Ealert(1)%3C%2Fscript%3E"],
    "spaces-only": lambda name, value: [name + b"=+++%09+"],
}


def body_with(key: str, field: str, oddity: str) -> bytes:
    """Return the valid body with one field made odd."""
    parts = []
    for name, value in base_fields(key).items():
        if name == field:
            parts += ODDITIES[oddity](name.encode("ascii"), value)
        else:
            parts.append(name.encode("ascii") + b"=" + value)
    return b"&".join(parts)


def assert_valid_for_our_api(app: Any) -> None:
    """Every stored comment passes the validation of POST /api/v1/comments."""
    with db.new_session(app) as s:
        for comment in s.scalars(select(Comment)):
            CommentIn.model_validate(
                {
                    "post_id": comment.post_id,
                    "author_name": comment.author_name,
                    "author_email": comment.author_email,
                    "content": comment.content_raw,
                    "author_url": comment.author_url,
                    "author_ip": comment.author_ip,
                    "user_agent": comment.user_agent,
                    "referrer": comment.referrer,
                    "permalink": comment.permalink,
                }
            )


def clear(app: Any) -> None:
    """Delete what one request stored, so the next oddity starts afresh."""
    with db.new_session(app, write=True) as s:
        for table in (AuditEvent, AkismetReport, Comment, FloodMark):
            s.execute(delete(table))
        s.commit()


def check_comment_check(client: Any, app: Any, key: str, field: str, oddity: str) -> None:
    """One row of the table: POST comment-check with `field` made odd, check the answer."""
    body = body_with(key, field, oddity)
    response = client.post("/1.1/comment-check", data=body, content_type=FORM)
    answer = response.get_data(as_text=True)
    where = f"{field} {oddity}: {answer[:200]!r}"
    assert response.status_code == 200, where
    assert answer in ANSWERS, where
    stored = count(app)
    if answer == "invalid":
        assert response.headers["X-akismet-debug-help"], where
        assert stored == 0, where
    key_lost = field == "api_key" and oddity not in ("repeated", "repeated-then-empty")
    required_gone = field in REQUIRED and oddity in (
        "empty",
        "missing",
        "no-equals",
        "spaces-only",
        "repeated-then-empty",
        "array-syntax",
    )
    if key_lost or required_gone:
        assert answer == "invalid", where
    if field == "is_test" and oddity == "repeated":  # the last value, "", is no test flag
        assert stored == 1, where
    assert stored <= 1, where
    assert_valid_for_our_api(app)


@pytest.mark.parametrize("field", FIELDS)
def test_one_odd_field_is_a_decision_or_invalid_never_a_500(client, app, creds, field):
    for oddity in ODDITIES:
        check_comment_check(client, app, creds.site_key, field, oddity)
        clear(app)


@pytest.mark.parametrize("field", ["guid", "comment_content", "comment_author_email", "api_key"])
@pytest.mark.parametrize("method", ["submit-spam", "submit-ham"])
def test_odd_submissions_are_thanked_or_invalid_never_a_500(client, app, creds, method, field):
    for oddity in ODDITIES:
        body = body_with(creds.site_key, field, oddity)
        response = client.post(f"/1.1/{method}", data=body, content_type=FORM)
        answer = response.get_data(as_text=True)
        where = f"{field} {oddity}: {answer[:200]!r}"
        assert response.status_code == 200, where
        assert answer in ("Thanks for making the web a better place.", "invalid"), where
        assert count(app) == 0, where  # a submission never creates a comment
        assert count(app, AkismetReport) <= 1, where
        clear(app)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"api_key": "x", "comment_content": "hi"}', "application/json"),
        (bytes(range(256)), FORM),
        (b"&&&===&&", FORM),
        (b"=", FORM),
        (b"%", FORM),
        (b"a=1", FORM + "; charset=klingon"),
        (b"a=1", FORM + "; charset=unicode_escape"),
        (b"a=1", FORM + "; charset=base64"),
        (b"a=%2BADw-script%2BAD4-", FORM + "; charset=utf-7"),
        (b"", FORM),
        (b"x" * 100, "multipart/form-data; boundary=zzz"),
        (b"&".join(b"f%d=%d" % (n, n) for n in range(20_000)), FORM),
    ],
    ids=[
        "json",
        "binary",
        "separators-only",
        "equals-only",
        "lone-percent",
        "unknown-charset",
        "escape-codec",
        "bytes-codec",
        "utf-7",
        "empty",
        "broken-multipart",
        "20000-fields",
    ],
)
def test_malformed_bodies_answer_invalid(client, app, body, content_type):
    response = client.post("/1.1/comment-check", data=body, content_type=content_type)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "invalid"
    assert response.headers["X-akismet-debug-help"]
    assert count(app) == 0


@pytest.mark.parametrize("charset", ["klingon", "unicode_escape", "base64", "utf-7", "rot13"])
def test_unusable_declared_charsets_fall_back_to_utf8(client, app, creds, charset):
    body = (
        f"api_key={creds.site_key}&blog=b&user_ip=203.0.113.9&comment_content=%5Cu0041+caf%C3%A9"
    )
    response = client.post(
        "/1.1/comment-check", data=body, content_type=f"{FORM}; charset={charset}"
    )
    assert response.get_data(as_text=True) == "false"
    with db.new_session(app) as s:
        assert s.scalars(select(Comment.content_raw)).one() == "\\u0041 café"


@pytest.mark.parametrize(
    "query",
    ["month=2026-13", "month=abc", "limit=-5", "limit=" + "9" * 20, "offset=x", "format=xml"],
)
def test_odd_key_sites_parameters_answer_a_report(client, creds, query):
    response = client.get(f"/1.2/key-sites?api_key={creds.site_key}&{query}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 1
    assert 1 <= body["limit"] <= 500


@pytest.mark.parametrize("span", ["", "60-days", "6-months", "all", "x" * 1000])
@pytest.mark.parametrize("route", ["/1.1/get-stats", "/1.2/get-key-stats"])
def test_stats_answer_any_span(client, creds, route, span):
    response = client.post(route, data={"key": creds.site_key, "blog": "b", "from": span})
    assert response.status_code == 200
    body = response.get_json()
    assert {"spam", "ham", "missed_spam", "false_positives", "accuracy", "breakdown"} <= set(body)
