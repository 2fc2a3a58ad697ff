"""Personal data is never cached; behind a TLS proxy: HSTS, Secure cookies, the real client."""

from __future__ import annotations

from typing import Any

import pytest

from moderation import create_app
from moderation import db
from tests.conftest import empty_tables
from tests.test_login import PageUser

HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "review.example"}


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("site", "/api/v1/comments/{id}"),
        ("moderator", "/api/v1/queue"),
        ("moderator", "/api/v1/comments/{id}/history"),
        ("admin", "/api/v1/admin/users"),
        ("site", "/api/v1/comments/999999"),  # errors too
    ],
)
def test_api_answers_are_never_stored_by_caches(client, creds, site_api, who, path):
    comment_id = site_api.post().json["id"]
    response = client.get(path.format(id=comment_id), headers=creds.headers(who))
    assert response.status_code in (200, 404)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.fixture
def proxied(app_config: dict[str, Any]) -> Any:
    """Return an app configured as behind one TLS proxy, with HSTS."""
    app = create_app({**app_config, "PROXY_HOPS": 1, "HSTS_SECONDS": 31536000})
    empty_tables(app)
    yield app
    app.extensions[db.ENGINE].dispose()


def test_behind_the_proxy_https_gets_hsts_and_secure_cookies(proxied):
    client = proxied.test_client()
    over_https = client.get("/review/login", headers=HTTPS)
    assert over_https.headers["Strict-Transport-Security"] == "max-age=31536000"
    cookies = over_https.headers.getlist("Set-Cookie")
    assert cookies
    assert all("Secure" in cookie for cookie in cookies)
    plain = proxied.test_client().get("/review/login")
    assert "Strict-Transport-Security" not in plain.headers
    assert not any("Secure" in c for c in plain.headers.getlist("Set-Cookie"))


def test_without_a_proxy_forwarded_headers_are_ignored(app, client):
    response = client.get("/review/login", headers=HTTPS)
    assert "Strict-Transport-Security" not in response.headers
    assert not any("Secure" in c for c in response.headers.getlist("Set-Cookie"))


def _guess_until_blocked(app: Any, forwarded_for: str) -> None:
    page = PageUser(app.test_client())
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        page.login("mod@example.org", "guess", headers={"X-Forwarded-For": forwarded_for})


def test_sign_in_limits_count_the_client_the_proxy_saw(proxied):
    from moderation.accounts import create_user
    from moderation.tables import Role

    with proxied.app_context(), db.new_session(proxied, write=True) as s:
        create_user(s, "mod@example.org", "mod-password", Role.MODERATOR)
        s.commit()
    _guess_until_blocked(proxied, "203.0.113.66")
    owner = PageUser(proxied.test_client())
    blocked = owner.login(headers={"X-Forwarded-For": "203.0.113.66"})
    assert blocked.status_code == 429
    assert owner.login(headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 302


def test_without_a_proxy_a_forged_forwarded_for_escapes_nothing(app, creds):
    _guess_until_blocked(app, "203.0.113.66")
    again = PageUser(app.test_client()).login(headers={"X-Forwarded-For": "198.51.100.7"})
    assert again.status_code == 429  # the socket's peer is the client: still blocked
