"""Bad input never hurts: each malformed, oversized or hostile request is a clear 4xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select

from moderation import db
from moderation.tables import Comment
from tests.conftest import comment_payload

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def stored(app: Any) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(func.count()).select_from(Comment))


def field_cases() -> list[Any]:
    """(overrides, field named in the 422) for every field rule."""
    cases = []
    for field in ("post_id", "author_name", "author_email", "content"):
        cases.append(pytest.param({field: None}, field, id=f"{field}-missing"))
        cases.append(pytest.param({field: " \t\n "}, field, id=f"{field}-whitespace"))
    over = {
        "author_name": "n" * 246,
        "author_email": "e" * 89 + "@example.org",
        "author_url": "https://example.org/" + "u" * 181,
        "content": "c" * 65526,
        "post_id": "p" * 256,
        "user_agent": "a" * 501,
    }
    cases += [pytest.param({k: v}, k, id=f"{k}-one-over") for k, v in over.items()]
    cases += [
        pytest.param({"author_email": "not-an-address"}, "author_email", id="email-syntax"),
        pytest.param({"author_email": "a@b"}, "author_email", id="email-no-tld"),
        pytest.param({"author_email": "ada@exa mple.org"}, "author_email", id="email-space"),
        pytest.param({"author_url": "javascript:alert(1)"}, "author_url", id="url-javascript"),
        pytest.param({"author_url": "data:text/html,<b>x"}, "author_url", id="url-data"),
        pytest.param({"author_url": "ftp://example.org/"}, "author_url", id="url-ftp"),
        pytest.param({"author_url": "https://"}, "author_url", id="url-no-host"),
        pytest.param({"referrer": "javascript:x"}, "referrer", id="referrer-javascript"),
        pytest.param({"author_ip": "300.1.1.1"}, "author_ip", id="ip-invalid"),
        pytest.param({"parent_id": 0}, "parent_id", id="parent-zero"),
        pytest.param({"parent_id": 999999}, "parent_id", id="parent-missing"),
        pytest.param({"parent_id": "abc"}, "parent_id", id="parent-text"),
        pytest.param({"content": 42}, "content", id="content-number"),
        pytest.param({"content": ["a"]}, "content", id="content-list"),
        pytest.param({"content": {"a": 1}}, "content", id="content-object"),
        pytest.param({"author_name": True}, "author_name", id="name-bool"),
        pytest.param({"post_id": 1.5}, "post_id", id="post-float"),
        pytest.param({"post_id": -3}, "post_id", id="post-negative"),
        pytest.param({"parent_id": 2.5}, "parent_id", id="parent-float"),
        pytest.param({"parent_id": True}, "parent_id", id="parent-bool"),
        pytest.param({"content": "a\x00b"}, "content", id="content-nul"),
        pytest.param({"author_name": "Ada\x00"}, "author_name", id="name-nul"),
        pytest.param({"author_name": "Ada\x1b[31m"}, "author_name", id="name-escape"),
        pytest.param({"author_name": "Ada\u202eevil"}, "author_name", id="name-bidi"),
        pytest.param({"author_name": "Ad\u200ba"}, "author_name", id="name-zero-width"),
        pytest.param({"author_name": "Ada\ufeff"}, "author_name", id="name-bom"),
        pytest.param({"author_email": "ada\u200b@example.org"}, "author_email", id="email-zwsp"),
        pytest.param({"author_email": "ada@exa\x07mple.org"}, "author_email", id="email-bell"),
        pytest.param({"author_url": "https://exa\u202emple.org"}, "author_url", id="url-bidi"),
        pytest.param({"content": "x\ud800y"}, "content", id="content-lone-surrogate"),
        pytest.param({"author_name": "\udfff"}, "author_name", id="name-lone-surrogate"),
        pytest.param({"content": "bad\x85next"}, "content", id="content-c1-control"),
        pytest.param({"user_agent": "UA\x00"}, "user_agent", id="agent-nul"),
        pytest.param({"unknown": "x"}, "unknown", id="unknown-field"),
        pytest.param({"__proto__": {"admin": True}}, "__proto__", id="proto-pollution"),
    ]
    return cases


@pytest.mark.parametrize(("overrides", "field"), field_cases())
def test_invalid_field_is_422_naming_it_and_nothing_is_stored(
    client, creds, app, overrides, field
):
    body = comment_payload(**overrides)
    raw = json.dumps(body, ensure_ascii=True)  # \ud800 travels as a JSON escape
    response = client.post(
        "/api/v1/comments", data=raw, content_type=JSON, headers=creds.headers("site")
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 422
    assert field in problem["errors"], problem
    assert all(isinstance(m, str) and m for m in problem["errors"][field])
    assert stored(app) == 0


def body_cases() -> list[Any]:
    """(raw body, content type, expected status) for malformed bodies."""
    deep = "[" * 100000 + "]" * 100000
    return [
        pytest.param(b"{", JSON, 400, id="broken-json"),
        pytest.param(b"", JSON, 400, id="empty-json"),
        pytest.param(b"[]", JSON, 400, id="json-array"),
        pytest.param(b"42", JSON, 400, id="json-number"),
        pytest.param(b"null", JSON, 400, id="json-null"),
        pytest.param(b'"text"', JSON, 400, id="json-string"),
        pytest.param(b"true", JSON, 400, id="json-bool"),
        pytest.param(deep.encode(), JSON, 400, id="json-deep-nesting"),
        pytest.param(b'{"content": NaN}', JSON, 400, id="json-nan"),
        pytest.param(b'{"content": Infinity}', JSON, 400, id="json-infinity"),
        pytest.param(b'{"post_id": 1' + b"0" * 5000 + b"}", JSON, 400, id="json-huge-int"),
        pytest.param(b'{"a": 1, "a": 2}', JSON, 400, id="json-duplicate-key"),
        pytest.param(b'{"content": "\xff\xfe"}', JSON, 400, id="json-invalid-utf8"),
        pytest.param(b'{"content": "\xed\xa0\x80"}', JSON, 400, id="json-utf8-surrogate"),
        pytest.param(b"{\"content\": 'single'}", JSON, 400, id="json-single-quotes"),
        pytest.param(b"content=%FF%FE&post_id=1", FORM, 400, id="form-invalid-utf8"),
        pytest.param(b"content=\xff", FORM, 400, id="form-raw-non-ascii"),
        pytest.param(b"post_id=1&post_id=2", FORM, 400, id="form-repeated-field"),
        pytest.param(b"a=1&" * 100, FORM, 400, id="form-too-many-fields"),
        pytest.param(b"<comment/>", "application/xml", 415, id="xml"),
        pytest.param(b"content=x", "text/plain", 415, id="text-plain"),
        pytest.param(b"--x--", "multipart/form-data; boundary=x", 415, id="multipart"),
        pytest.param(b"{}", "application/json; charset=latin-1", 415, id="json-latin1"),
        pytest.param(b"x" * (1024 * 1024 + 1), JSON, 413, id="over-1-mib"),
    ]


@pytest.mark.parametrize(("raw", "content_type", "status"), body_cases())
def test_malformed_body_is_a_4xx_problem_and_nothing_is_stored(
    client, creds, app, raw, content_type, status
):
    response = client.post(
        "/api/v1/comments", data=raw, content_type=content_type, headers=creds.headers("site")
    )
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    assert stored(app) == 0


def test_missing_content_type_is_415(client, creds, app):
    response = client.post("/api/v1/comments", data=b"{}", headers=creds.headers("site"))
    assert response.status_code == 415
    assert stored(app) == 0


def test_form_fields_with_invalid_values_are_422(client, creds, app):
    response = client.post(
        "/api/v1/comments",
        data={"post_id": "1", "author_name": "Ann", "author_email": "x", "content": "hi"},
        headers=creds.headers("site"),
    )
    assert response.status_code == 422
    assert "author_email" in response.get_json()["errors"]


@pytest.mark.parametrize(
    ("headers", "detail_part"),
    [
        ({}, "site key is required"),
        ({"Authorization": "Bearer "}, "Bearer"),
        ({"Authorization": "Basic YWRhOnB3"}, "Bearer"),
        ({"Authorization": "Bearer msk_not-a-real-key"}, "not valid"),
        ({"Authorization": "Bearer something-else"}, "neither"),
        ({"Authorization": "Bearer mut_unknown-token"}, "not valid"),
    ],
    ids=["missing", "empty", "basic", "wrong-key", "unknown-kind", "wrong-token"],
)
def test_bad_credentials_are_401(client, app, creds, headers, detail_part):
    response = client.post("/api/v1/comments", json=comment_payload(), headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert detail_part in response.get_json()["detail"]
    assert "Bearer" in response.headers["WWW-Authenticate"]
    assert stored(app) == 0


def test_revoked_key_is_401(client, runner, creds, app):
    result = runner.invoke(args=["sites", "revoke", "blog"])
    assert result.exit_code == 0, result.output
    response = client.post(
        "/api/v1/comments", json=comment_payload(), headers=creds.headers("site")
    )
    assert response.status_code == 401
    assert "revoked" in response.get_json()["detail"]
    assert stored(app) == 0


def test_user_token_cannot_post_as_a_site(client, creds, app):
    response = client.post(
        "/api/v1/comments", json=comment_payload(), headers=creds.headers("moderator")
    )
    assert response.status_code == 403
    assert stored(app) == 0


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nothing-here", 404),
        ("DELETE", "/api/v1/comments", 405),
        ("GET", "/api/v1/comments", 405),
        ("GET", "/api/v1/comments/not-a-number", 404),
    ],
)
def test_routing_errors_are_problems(client, creds, method, path, status):
    response = client.open(path, method=method, headers=creds.headers("site"))
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == status


@pytest.mark.parametrize(
    "query",
    ["cursor=%%%", "cursor=LTE=", "limit=0", "limit=9999", "limit=abc", "limit=-1"],
)
def test_bad_pagination_is_400(client, creds, query):
    response = client.get(f"/api/v1/posts/p/comments?{query}", headers=creds.headers("site"))
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_long_but_valid_fields_are_stored_exactly(site_api, app):
    name = "N" * 245
    content = "word " * 13105  # 65525 characters
    response = site_api.post(author_name=name, content=content.strip())
    assert response.status_code == 201
    with db.new_session(app) as s:
        comment = s.get(Comment, response.get_json()["id"])
        assert comment.author_name == name
        assert comment.content_raw == content.strip()


def test_unicode_names_that_are_legitimate_are_kept(site_api):
    response = site_api.post(author_name="می‌خواهم 👩‍💻 Zoë", content="Ça marche — 日本語 ✓")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["author_name"] == "می‌خواهم 👩‍💻 Zoë"
