"""Site keys: each worker remembers valid keys briefly; revocation still reaches every worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from moderation import create_app
from moderation import db
from moderation.auth import SITE_KEYS
from moderation.auth import SiteIdentity
from moderation.auth import SiteKeyCache
from tests.conftest import comment_payload


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


BLOG = SiteIdentity(id=1, name="blog")


def test_cache_remembers_a_key_for_its_ttl_only():
    clock = FakeClock()
    cache = SiteKeyCache(2.0, clock=clock)
    cache.put("digest", BLOG)
    clock.now += 1.9
    assert cache.get("digest") == BLOG
    clock.now += 0.1
    assert cache.get("digest") is None


def test_cache_with_zero_ttl_remembers_nothing():
    cache = SiteKeyCache(0.0)
    cache.put("digest", BLOG)
    assert cache.get("digest") is None


def test_cache_stays_bounded():
    cache = SiteKeyCache(60.0)
    for n in range(SiteKeyCache.MAX_ENTRIES + 5):
        cache.put(f"digest-{n}", BLOG)
    assert len(cache._entries) <= SiteKeyCache.MAX_ENTRIES
    assert cache.get(f"digest-{SiteKeyCache.MAX_ENTRIES + 4}") == BLOG


@pytest.fixture
def other_worker(app_config, app) -> Iterator[tuple[Flask, FakeClock]]:
    """A second app on the same database, as another gunicorn worker would be."""
    worker = create_app(app_config)
    clock = FakeClock()
    worker.extensions[SITE_KEYS] = SiteKeyCache(2.0, clock=clock)
    yield worker, clock
    worker.extensions[db.ENGINE].dispose()


def test_key_revoked_elsewhere_is_refused_once_the_ttl_has_passed(client, creds, other_worker):
    worker, clock = other_worker
    other = worker.test_client()
    headers = creds.headers("site")
    first = other.post("/api/v1/comments", json=comment_payload(), headers=headers)
    assert first.status_code == 201

    sites = client.get("/api/v1/admin/sites", headers=creds.headers("admin")).get_json()
    blog = next(item for item in sites["items"] if item["name"] == "blog")
    revoked = client.post(
        f"/api/v1/admin/sites/{blog['id']}/revoke", headers=creds.headers("admin")
    )
    assert revoked.status_code == 200
    # The revoking worker refuses the key at once.
    here = client.post("/api/v1/comments", json=comment_payload(content="x"), headers=headers)
    assert here.status_code == 401

    clock.now += 2.0
    later = other.post(
        "/api/v1/comments",
        json=comment_payload(content="later", author_ip="203.0.113.9"),
        headers=headers,
    )
    assert later.status_code == 401
    assert "revoked" in later.get_json()["detail"]


def test_unknown_key_is_refused_every_time(client, creds, app):
    headers = {"Authorization": "Bearer msk_not-a-key"}
    for _ in range(2):
        response = client.post("/api/v1/comments", json=comment_payload(), headers=headers)
        assert response.status_code == 401
    assert app.extensions[SITE_KEYS]._entries == {}
