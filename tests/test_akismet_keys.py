"""Akismet-style keys: issued per site (admin API, CLI, page), in the host name, guarded."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from moderation import create_app
from moderation import db
from moderation.tables import AkismetKeyFailure
from moderation.tables import Site
from moderation.tables import utcnow
from tests.test_akismet import FORM
from tests.test_akismet import assert_invalid
from tests.test_akismet import text

KEY_SHAPE = re.compile(r"[0-9a-f]{12}")


def issue(client: Any, creds: Any, name: str = "blog") -> str:
    """Issue an Akismet key for a site through the admin API and return it."""
    response = client.post(
        f"/api/v1/admin/sites/{name}/akismet-key", headers=creds.headers("admin")
    )
    assert response.status_code == 201, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["site"] == name
    return body["akismet_key"]


def verify(client: Any, key: str, **kw: Any) -> Any:
    return client.post(
        "/1.1/verify-key", data=f"key={key}&blog=https://b.example.org", content_type=FORM, **kw
    )


def test_an_akismet_key_has_akismets_shape_and_is_stored_hashed(app, client, creds):
    key = issue(client, creds)
    assert KEY_SHAPE.fullmatch(key)
    with db.new_session(app) as s:
        site = s.scalars(select(Site).where(Site.name == "blog")).one()
        assert site.akismet_key_hash
        assert key not in site.akismet_key_hash
    assert text(verify(client, key)) == "valid"
    assert text(verify(client, key.upper())) == "valid"  # DNS lower-cases host names


def test_a_new_akismet_key_replaces_the_old_one(client, creds):
    old = issue(client, creds)
    new = issue(client, creds)
    assert old != new
    assert_invalid(verify(client, old))
    assert text(verify(client, new)) == "valid"


def test_a_revoked_akismet_key_is_refused_and_the_site_key_still_works(client, creds):
    key = issue(client, creds)
    response = client.delete(
        "/api/v1/admin/sites/blog/akismet-key", headers=creds.headers("admin")
    )
    assert response.status_code == 204
    assert_invalid(verify(client, key))
    assert text(verify(client, creds.site_key)) == "valid"


@pytest.mark.parametrize(
    ("who", "name", "status"),
    [("moderator", "blog", 403), ("site", "blog", 403), ("admin", "nowhere", 404)],
)
def test_only_admins_issue_akismet_keys_for_existing_sites(client, creds, who, name, status):
    response = client.post(f"/api/v1/admin/sites/{name}/akismet-key", headers=creds.headers(who))
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"


def test_a_revoked_site_gets_no_akismet_key_and_its_key_stops_working(app, client, creds):
    key = issue(client, creds)
    with db.new_session(app) as s:
        site_id = s.scalar(select(Site.id).where(Site.name == "blog"))
    client.post(f"/api/v1/admin/sites/{site_id}/revoke", headers=creds.headers("admin"))
    assert_invalid(verify(client, key))
    response = client.post("/api/v1/admin/sites/blog/akismet-key", headers=creds.headers("admin"))
    assert response.status_code == 409


def test_the_cli_prints_the_key_alone_on_the_last_line(app, runner, creds, client):
    result = runner.invoke(args=["sites", "akismet-key", "blog"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert KEY_SHAPE.fullmatch(key)
    assert text(verify(client, key)) == "valid"
    revoked = runner.invoke(args=["sites", "akismet-key", "blog", "--revoke"])
    assert revoked.exit_code == 0
    assert_invalid(verify(client, key))
    missing = runner.invoke(args=["sites", "akismet-key", "nowhere"])
    assert missing.exit_code != 0


def test_the_sites_page_shows_a_new_akismet_key_once(app, client, creds):
    from tests.test_admin_page import sign_in

    token = sign_in(client)
    with db.new_session(app) as s:
        site_id = s.scalar(select(Site.id).where(Site.name == "blog"))
    page = client.post(f"/admin/sites/{site_id}/akismet-key", data={"csrf_token": token})
    assert page.status_code == 200
    found = re.search(r'id="new-akismet-key">([0-9a-f]{12})<', page.get_data(as_text=True))
    assert found
    assert text(verify(client, found.group(1))) == "valid"
    again = client.get("/admin/sites").get_data(as_text=True)
    assert found.group(1) not in again


# --- the key in the host name (akismet-api sends KEY.host) ---


def test_the_key_is_read_from_the_first_label_of_the_host(client, creds):
    key = issue(client, creds)
    hosts = (f"{key}.moderation.example.org", f"{key.upper()}.moderation.example.org:8443")
    for n, host in enumerate(hosts):
        body = f"blog=https://b.example.org&user_ip=203.0.113.{n + 1}&comment_content=Hi+{n}"
        response = client.post(
            "/1.1/comment-check", data=body, content_type=FORM, base_url=f"http://{host}"
        )
        assert text(response) == "false", response.headers.get("X-akismet-debug-help")


def test_a_host_without_a_key_label_is_no_key(client):
    body = "blog=b&user_ip=203.0.113.9&comment_content=x"
    response = client.post(
        "/1.1/comment-check", data=body, content_type=FORM, base_url="http://rest.akismet.com"
    )
    assert_invalid(response, '"api_key"')


# --- failed key attempts are limited per client address, in the database ---


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Allow three failed key attempts per address."""
    return {**app_config, "AKISMET_KEY_FAILURES": 3}


def from_address(address: str) -> dict[str, Any]:
    return {"environ_base": {"REMOTE_ADDR": address}}


def test_after_the_limit_no_key_is_checked_from_that_address(app, client, creds):
    key = issue(client, creds)
    attacker = from_address("198.51.100.66")
    for guess in ("000000000000", "000000000001", "000000000002"):
        assert_invalid(verify(client, guess, **attacker), "Invalid API key")
    assert_invalid(verify(client, key, **attacker), "Too many invalid keys")
    assert text(verify(client, key, **from_address("198.51.100.67"))) == "valid"
    # Site keys cannot be guessed: always checked, never counted.
    assert text(verify(client, creds.site_key, **attacker)) == "valid"
    assert_invalid(verify(client, "msk_wrong", **attacker), "Invalid API key")
    with db.new_session(app) as s:
        assert s.get(AkismetKeyFailure, "198.51.100.66").failures == 3


def test_the_limit_holds_across_worker_processes(app, app_config, client, creds):
    key = issue(client, creds)
    attacker = from_address("198.51.100.66")
    for guess in ("000000000000", "000000000001", "000000000002"):
        verify(client, guess, **attacker)
    other_worker = create_app(app_config)  # another process: its own caches, same database
    try:
        response = verify(other_worker.test_client(), key, **attacker)
        assert_invalid(response, "Too many invalid keys")
    finally:
        other_worker.extensions[db.ENGINE].dispose()


def test_the_limit_ends_with_its_window(app, client, creds):
    key = issue(client, creds)
    attacker = from_address("198.51.100.66")
    for guess in ("000000000000", "000000000001", "000000000002"):
        verify(client, guess, **attacker)
    with db.new_session(app, write=True) as s:
        row = s.get(AkismetKeyFailure, "198.51.100.66")
        assert row.failures == 3
        row.window_start = utcnow() - timedelta(hours=2)
        s.commit()
    assert text(verify(client, key, **attacker)) == "valid"
    assert_invalid(verify(client, "000000000003", **attacker), "Invalid API key")
    with db.new_session(app) as s:
        assert s.get(AkismetKeyFailure, "198.51.100.66").failures == 1


def test_every_akismet_route_counts_failures(client, creds):
    key = issue(client, creds)
    attacker = from_address("198.51.100.66")
    for path in ("/1.1/comment-check", "/1.1/submit-spam", "/1.2/usage-limit"):
        client.post(path, data="api_key=000000000000&blog=b&user_ip=1.2.3.4", **attacker)
    assert_invalid(verify(client, key, **attacker), "Too many invalid keys")


@pytest.mark.parametrize("wrong", ["msk_wrong", "not-a-key", "0123456789abc", "mut_token"])
def test_keys_of_another_shape_are_refused_without_counting(app, client, wrong):
    for _ in range(5):
        assert_invalid(verify(client, wrong, **from_address("198.51.100.66")))
    with db.new_session(app) as s:
        assert s.get(AkismetKeyFailure, "198.51.100.66") is None
