"""Inputs that once answered 500: nulls, ids past a column's range, NUL bytes, odd headers."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select

from moderation import db
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import Site
from moderation.tables import User
from tests.conftest import comment_payload

BIG = 2**31  # one past PostgreSQL's integer
HUGE = 10**20 - 1  # a 20-digit id: past SQLite's 64-bit integer too
FORM = "application/x-www-form-urlencoded"


def rows(app: Any) -> tuple[int, int, int, int]:
    """Count what a refused request must not have written."""
    with db.new_session(app) as s:
        return tuple(
            s.scalar(select(func.count()).select_from(table))
            for table in (Comment, AuditEvent, Site, User)
        )


def b64(text: str, strip: bool = False) -> str:
    value = base64.urlsafe_b64encode(text.encode()).decode()
    return value.rstrip("=") if strip else value


def post_comment(**fields: Any) -> dict[str, Any]:
    return {
        "json": comment_payload(author_ip="192.0.2.50", author_email="x@example.org", **fields)
    }


# (who, method, path, request keywords, expected status, field the 422 names)
CASES = [
    # 3. "note": null is no note
    pytest.param(
        "moderator",
        "POST",
        "/api/v1/comments/{id}/approve",
        {"json": {"note": None}},
        200,
        None,
        id="note-null",
    ),
    pytest.param(
        "moderator",
        "POST",
        "/api/v1/decisions",
        {"json": {"note": None, "decisions": [{"id": "{id}", "action": "spam"}]}},
        200,
        None,
        id="bulk-note-null",
    ),
    pytest.param(
        "moderator",
        "POST",
        "/api/v1/comments/{id}/approve",
        {"json": {"note": None, "version": None}},
        200,
        None,
        id="version-null",
    ),
    # 4. integers past the column's range
    *(
        pytest.param(who, method, path, {}, 404, None, id=f"path-{name}-{size}")
        for size, number in (("2e31", BIG), ("20-digits", HUGE))
        for who, method, path, name in (
            ("moderator", "GET", f"/api/v1/comments/{number}", "comment"),
            ("site", "GET", f"/api/v1/comments/{number}", "comment-site"),
            ("moderator", "GET", f"/api/v1/comments/{number}/history", "history"),
            ("moderator", "POST", f"/api/v1/comments/{number}/spam", "decision"),
            ("admin", "PATCH", f"/api/v1/admin/users/{number}", "user"),
            ("admin", "POST", f"/api/v1/admin/users/{number}/token", "token"),
            ("admin", "POST", f"/api/v1/admin/sites/{number}/revoke", "site"),
            ("admin", "GET", f"/api/v1/admin/training-jobs/{number}", "job"),
            ("admin", "POST", f"/api/v1/admin/model-versions/{number}/promote", "version"),
            ("moderator", "GET", f"/review/comments/{number}", "review-page"),
        )
    ),
    pytest.param(
        "site",
        "POST",
        "/api/v1/comments",
        post_comment(parent_id=BIG),
        422,
        "parent_id",
        id="parent-2e31",
    ),
    pytest.param(
        "site",
        "POST",
        "/api/v1/comments",
        post_comment(parent_id=HUGE),
        422,
        "parent_id",
        id="parent-20-digits",
    ),
    pytest.param(
        "site",
        "POST",
        "/api/v1/comments",
        {"data": {**comment_payload(), "parent_id": str(HUGE)}, "content_type": FORM},
        422,
        "parent_id",
        id="parent-20-digits-form",
    ),
    pytest.param(
        "moderator",
        "POST",
        "/api/v1/decisions",
        {"json": {"decisions": [{"id": BIG, "action": "spam"}]}},
        422,
        "decisions",
        id="bulk-id-2e31",
    ),
    pytest.param(
        "moderator",
        "POST",
        "/api/v1/comments/{id}/approve",
        {"json": {"version": HUGE}},
        422,
        "version",
        id="version-20-digits",
    ),
    pytest.param(
        "moderator",
        "POST",
        "/api/v1/comments/{id}/approve",
        {"headers": {"If-Match": f'"{{id}}-{HUGE}"'}},
        409,
        None,
        id="if-match-huge",
    ),
    pytest.param(
        "moderator",
        "GET",
        "/api/v1/queue?cursor=" + b64(f"2026-01-01T00:00:00+00:00|{HUGE}", strip=True),
        {},
        400,
        None,
        id="queue-cursor-20-digits",
    ),
    pytest.param(
        "site",
        "GET",
        "/api/v1/posts/p/comments?cursor=" + b64(str(HUGE)),
        {},
        400,
        None,
        id="post-cursor-20-digits",
    ),
    pytest.param(
        "site",
        "POST",
        "/1.1/submit-spam",
        {"data": {"api_key": "{key}", "guid": "9" * 20, "blog": "https://b.example"}},
        200,  # Akismet's answer to a report it cannot match: thanks, nothing changed
        None,
        id="akismet-guid-20-digits",
    ),
    pytest.param(
        "site",
        "POST",
        "/1.1/submit-ham",
        {"data": {"api_key": "{key}", "guid": str(BIG), "blog": "https://b.example"}},
        200,  # Akismet's answer to a report it cannot match: thanks, nothing changed
        None,
        id="akismet-guid-2e31",
    ),
    # 5. NUL bytes (and lone surrogates) that no text column can hold
    pytest.param(
        "anonymous",
        "POST",
        "/review/login",
        {"data": {"email": "a\x00b", "password": "x"}},
        422,
        "email",
        id="login-email-nul",
    ),
    pytest.param(
        "site", "GET", "/api/v1/posts/a%00b/comments", {}, 422, "post_id", id="post-id-nul"
    ),
    pytest.param("moderator", "GET", "/api/v1/queue?q=a%00b", {}, 422, "q", id="queue-q-nul"),
    pytest.param(
        "moderator",
        "GET",
        "/api/v1/queue?post_id=a%00b",
        {},
        422,
        "post_id",
        id="queue-post-id-nul",
    ),
    pytest.param(
        "moderator", "GET", "/api/v1/queue?site=a%00b", {}, 422, "site", id="queue-site-nul"
    ),
    pytest.param("moderator", "GET", "/review/?q=a%00b", {}, 422, "q", id="review-page-q-nul"),
    pytest.param(
        "admin",
        "POST",
        "/api/v1/admin/users",
        {"json": {"email": "a\x00b@example.org", "password": "long enough"}},
        422,
        "email",
        id="user-email-nul",
    ),
    pytest.param(
        "admin",
        "POST",
        "/api/v1/admin/sites",
        {"json": {"name": "blog\x00two"}},
        422,
        "name",
        id="site-name-nul",
    ),
    pytest.param(
        "admin",
        "POST",
        "/api/v1/admin/erasures",
        {"json": {"author_email": "a\x00b@example.org"}},
        422,
        "author_email",
        id="erasure-email-nul",
    ),
    pytest.param(
        "admin",
        "POST",
        "/api/v1/admin/training-jobs",
        {"json": {"corpus_files": ["a\x00.csv"]}},
        422,
        "corpus_files[0]",
        id="training-corpus-nul",
    ),
    pytest.param(
        "admin",
        "POST",
        "/api/v1/admin/users",
        {
            "data": '{"email": "a\\ud800@example.org", "password": "long enough"}',
            "content_type": "application/json",
        },
        422,
        "email",
        id="user-email-lone-surrogate",
    ),
    pytest.param(
        "site",
        "POST",
        "/api/v1/comments",
        {"data": {**comment_payload(), "post_id": "p\x00"}, "content_type": FORM},
        422,
        "post_id",
        id="comment-form-nul",
    ),
    pytest.param(
        "site",
        "POST",
        "/api/v1/comments",
        {"json": {**comment_payload(), "\x00": 1}},
        422,
        "body",
        id="json-key-nul",
    ),
    # 7. odd headers and redirects
    pytest.param(
        "moderator",
        "POST",
        "/api/v1/comments/{id}/reject",
        {"headers": {"If-Match": '""'}},
        409,
        None,
        id="if-match-empty",
    ),
    pytest.param(
        "moderator",
        "POST",
        "/api/v1/comments/{id}/reject",
        {"headers": {"If-Match": "W/"}},
        409,
        None,
        id="if-match-bare-weak",
    ),
    pytest.param(
        "anonymous",
        "GET",
        "/review/login?next=/review/%0d%0aSet-Cookie:x=1",
        {},
        200,
        None,
        id="login-next-crlf-get",
    ),
    pytest.param(
        "anonymous",
        "GET",
        "/review/login?next=/review/%0aX",
        {},
        200,
        None,
        id="login-next-lf-get",
    ),
]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if value == "{id}":
        return int(ids["id"])  # a JSON id is a number
    if isinstance(value, str):
        for name, replacement in ids.items():
            value = value.replace("{" + name + "}", replacement)
        return value
    if isinstance(value, dict):
        return {_fill(k, ids): _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    return value


@pytest.mark.parametrize(("who", "method", "path", "kwargs", "status", "field"), CASES)
def test_hostile_input_gets_a_clear_answer(
    app, client, creds, site_api, who, method, path, kwargs, status, field
):
    created = site_api.post()
    assert created.status_code == 201
    ids = {"id": str(created.json["id"]), "key": creds.site_key}
    kwargs = _fill(kwargs, ids)
    headers = {**kwargs.pop("headers", {})}
    if who != "anonymous":
        headers.update(creds.headers(who))
    before = rows(app)
    changes_rows = status < 300

    response = client.open(_fill(path, ids), method=method, headers=headers, **kwargs)

    assert response.status_code == status, response.get_data(as_text=True)[:500]
    if status >= 400:
        assert response.mimetype in ("application/problem+json", "text/html")
    if field is not None:
        assert field in response.json["errors"], response.json
    if not changes_rows:
        assert rows(app) == before


def test_parent_id_null_or_empty_is_a_top_level_comment(client, creds, app):
    json_body = {**comment_payload(), "parent_id": None}
    first = client.post("/api/v1/comments", json=json_body, headers=creds.headers("site"))
    assert first.status_code == 201, first.json
    assert first.json["parent_id"] is None
    form = {**comment_payload(author_email="bo@example.org", author_ip="192.0.2.9")}
    form["parent_id"] = ""
    second = client.post("/api/v1/comments", data=form, headers=creds.headers("site"))
    assert second.status_code == 201, second.json
    assert second.json["parent_id"] is None


def test_an_integer_written_as_a_whole_float_is_an_integer(client, creds):
    # JSON Schema counts 2.0 as an integer: so does the API (2.5 is still refused).
    headers = creds.headers("site")
    parent = client.post("/api/v1/comments", json=comment_payload(), headers=headers).json
    reply = comment_payload(author_email="bo@example.org", author_ip="192.0.2.9")
    response = client.post(
        "/api/v1/comments", json={**reply, "parent_id": float(parent["id"])}, headers=headers
    )
    assert response.status_code == 201, response.json
    assert response.json["parent_id"] == parent["id"]
    half = client.post(
        "/api/v1/comments", json={**reply, "parent_id": parent["id"] + 0.5}, headers=headers
    )
    assert half.status_code == 422
    assert "parent_id" in half.json["errors"]


@pytest.mark.parametrize("next_url", ["/review/\r\nSet-Cookie: x=1", "/admin/\nX", "/review/\t"])
def test_login_next_with_a_line_break_lands_on_the_queue(client, creds, next_url):
    page = client.get("/review/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = {
        "email": "mod@example.org",
        "password": "mod-password",
        "csrf_token": token,
        "next": next_url,
    }
    response = client.post("/review/login", data=form)
    assert response.status_code == 302
    assert response.headers["Location"] == "/review/"
