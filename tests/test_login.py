"""Moderator sign-in: hardened cookies, the failed-login limit, sessions that really end."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from moderation import create_app
from moderation import db
from moderation.accounts import find_user
from moderation.accounts import set_disabled
from moderation.accounts import set_password
from moderation.security_headers import CONTENT_SECURITY_POLICY
from moderation.tables import LoginSession
from moderation.tables import LoginThrottle
from moderation.tables import User
from moderation.tables import utcnow

COOKIE = "moderation_session"
MOD = ("mod@example.org", "mod-password")
TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"|name="csrf_token" value="([^"]+)"')


class PageUser:
    """Drive the sign-in page like a browser (flaskr's AuthActions)."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf(self, path: str = "/review/login", **kw: Any) -> str:
        page = self.client.get(path, **kw)
        match = TOKEN.search(page.get_data(as_text=True))
        assert match, page.get_data(as_text=True)[:500]
        return match.group(1) or match.group(2)

    def login(
        self, email: str = MOD[0], password: str = MOD[1], *, token: bool = True, **kw: Any
    ) -> Any:
        form = {"email": email, "password": password}
        if token:
            form["csrf_token"] = self.csrf(**kw)
        return self.client.post("/review/login", data=form, **kw)

    def logout(self) -> Any:
        token = self.csrf("/review/")
        return self.client.post("/review/logout", data={"csrf_token": token})

    def cookie(self) -> str:
        cookie = self.client.get_cookie(COOKIE)
        assert cookie is not None
        return cookie.value


def copied(app: Flask, value: str) -> FlaskClient:
    """Return a new client carrying a copy of a session cookie (a stolen cookie)."""
    other = app.test_client()
    other.set_cookie(COOKIE, value)
    return other


def signed_in(client: FlaskClient) -> bool:
    """Return whether this client's cookie opens the moderator API."""
    status = client.get("/api/v1/queue").status_code
    assert status in (200, 401), status
    return status == 200


def session_cookie(response: Any) -> str:
    """Return the Set-Cookie header of the session cookie (the device cookie aside)."""
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{COOKIE}=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


def failures(app: Flask) -> dict[str, int]:
    """Return the failed sign-ins counted, by scope (pair, client, login)."""
    with db.new_session(app) as s:
        rows = s.execute(select(LoginThrottle.key, LoginThrottle.failures))
        return {key.split(":", 1)[0]: n for key, n in rows if n}


def login_sessions(app: Flask) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(func.count()).select_from(LoginSession))


def user_row(app: Flask, email: str = MOD[0]) -> User:
    with db.new_session(app) as s:
        return s.scalar(select(User).where(User.email == email))


@pytest.fixture
def page(client: FlaskClient, creds: Any) -> PageUser:
    """Return the page driver (the moderator and admin accounts exist)."""
    return PageUser(client)


def test_login_page_sends_strict_headers_and_a_csrf_field(page):
    response = page.client.get("/review/login")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert 'name="csrf_token"' in response.get_data(as_text=True)


def test_nosniff_is_on_every_response(client):
    for path in ("/healthz", "/api/v1/openapi.json", "/static/review.js", "/nowhere"):
        with client.get(path) as response:
            assert response.headers["X-Content-Type-Options"] == "nosniff", path
    # JSON answers need no CSP; every HTML one has it.
    assert "Content-Security-Policy" not in client.get("/healthz").headers
    html_404 = client.get("/nowhere", headers={"Accept": "text/html"})
    assert html_404.mimetype == "text/html"
    assert html_404.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_sign_in_sets_a_hardened_cookie_and_opens_the_queue(page, app):
    response = page.login()
    assert response.status_code == 302
    assert response.headers["Location"] == "/review/"
    cookie = session_cookie(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http in tests
    assert login_sessions(app) == 1
    queue = page.client.get("/review/")
    assert queue.status_code == 200
    assert MOD[0] in queue.get_data(as_text=True)


def test_cookie_is_secure_over_https(page):
    https = {
        "base_url": "https://review.example",
        "headers": {"Referer": "https://review.example/review/login"},
    }
    response = page.login(**https)
    assert response.status_code == 302
    assert all("Secure" in c for c in response.headers.getlist("Set-Cookie"))


def test_cookie_is_secure_when_configured(app_config, creds):
    secure_app = create_app({**app_config, "SESSION_COOKIE_SECURE": True})
    try:
        response = PageUser(secure_app.test_client()).login()
        assert response.status_code == 302
        assert all("Secure" in c for c in response.headers.getlist("Set-Cookie"))
    finally:
        secure_app.extensions[db.ENGINE].dispose()


def test_wrong_password_is_refused_and_counted(page, app):
    response = page.login(password="wrong-password")
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert failures(app) == {"pair": 1, "client": 1, "login": 1}
    assert page.login().status_code == 302
    # A success forgets this client's failures with this login; the others keep counting.
    assert failures(app) == {"client": 1, "login": 1}


def test_unknown_login_gets_the_same_answer(page):
    response = page.login(email="nobody@example.org")
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)


def test_too_many_failures_block_this_client_even_for_the_right_password(page, app):
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit - 1):
        assert page.login(password="guess-guess").status_code == 401
    locked = page.login(password="guess-guess")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.get_data(as_text=True)
    assert 0 < int(locked.headers["Retry-After"]) <= app.config["LOGIN_LOCK_SECONDS"]
    refused = page.login()  # the right password, while blocked
    assert refused.status_code == 429
    assert login_sessions(app) == 0

    with db.new_session(app, write=True) as s:
        s.execute(update(LoginThrottle).values(blocked_until=utcnow() - timedelta(seconds=1)))
        s.commit()
    assert page.login().status_code == 302


def test_the_lock_is_per_account(page):
    for _ in range(page.client.application.config["LOGIN_MAX_FAILURES"]):
        page.login(password="guess-guess")
    assert page.login().status_code == 429
    assert page.login("admin@example.org", "admin-password").status_code == 302


def test_disabled_account_cannot_sign_in(page, app):
    with db.new_session(app, write=True) as s:
        set_disabled(s, find_user(s, MOD[0]), True)
        s.commit()
    response = page.login()
    assert response.status_code == 403
    assert "disabled" in response.get_data(as_text=True)
    assert login_sessions(app) == 0


def test_sign_in_without_the_csrf_token_is_refused(page, app):
    response = page.login(token=False)
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert login_sessions(app) == 0


def test_logout_ends_the_session_for_a_copied_cookie(page, app):
    page.login()
    stolen = copied(app, page.cookie())
    assert signed_in(stolen)
    response = page.logout()
    assert response.status_code == 302
    assert response.headers["Location"] == "/review/login"
    assert not signed_in(stolen)
    assert stolen.get("/review/").status_code == 302
    assert not signed_in(page.client)
    assert login_sessions(app) == 0


def test_logout_needs_the_csrf_token(page):
    page.login()
    response = page.client.post("/review/logout")
    assert response.status_code == 400
    assert signed_in(page.client)


def test_each_sign_in_is_its_own_session(app, creds):
    laptop, phone = PageUser(app.test_client()), PageUser(app.test_client())
    laptop.login()
    phone.login()
    assert login_sessions(app) == 2
    laptop.logout()
    assert not signed_in(laptop.client)
    assert signed_in(phone.client)


@pytest.mark.parametrize("change", ["password", "disable"])
def test_password_change_or_disabling_ends_copied_sessions(page, app, creds, change):
    page.login()
    stolen = copied(app, page.cookie())
    assert signed_in(stolen)
    with db.new_session(app, write=True) as s:
        user = find_user(s, MOD[0])
        if change == "password":
            set_password(s, user, "a-new-password")
        else:
            set_disabled(s, user, True)
        s.commit()
    assert not signed_in(stolen)
    assert not signed_in(page.client)
    if change == "disable":
        token = {"Authorization": creds.headers("moderator")["Authorization"]}
        assert app.test_client().get("/api/v1/queue", headers=token).status_code == 401


@pytest.mark.parametrize(
    ("next_url", "landing"),
    [
        ("/review/comments/7", "/review/comments/7"),
        ("/review/?status=spam", "/review/?status=spam"),
        ("https://evil.example/review/", "/review/"),
        ("//evil.example/review/", "/review/"),
        ("/\\evil.example", "/review/"),
        ("/api/v1/queue", "/review/"),
    ],
)
def test_next_stays_on_the_review_page(page, next_url, landing):
    token = page.csrf()
    response = page.client.post(
        "/review/login",
        data={"email": MOD[0], "password": MOD[1], "csrf_token": token, "next": next_url},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == landing


def test_anonymous_visitor_is_sent_to_sign_in_and_back(page):
    response = page.client.get("/review/?status=spam")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/review/login?next=")
    form = page.client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="next" value="/review/?status=spam"' in form
