"""Webhook endpoints (API, SSRF guard) and the outbox: events written with the change, or not."""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import socket
import threading
import time
from datetime import UTC
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Text
from sqlalchemy import cast
from sqlalchemy import func
from sqlalchemy import select
from standardwebhooks import Webhook

from moderation import db
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import DeliveryStatus
from moderation.tables import EventType
from moderation.tables import WebhookDelivery
from moderation.tables import WebhookEndpoint
from moderation.tables import WebhookEvent
from moderation.webhooks import record_event
from moderation.webhooks.addresses import forbidden_reason
from moderation.webhooks.delivery import deliver
from moderation.webhooks.endpoint_secrets import signing_secret
from moderation.webhooks.fanout import fan_out
from moderation.webhooks.outbox import InsertWithEvent
from moderation.webhooks.outbox import event_row
from tests.worker_support import Receiver

HOOKS = "/api/v1/webhooks"
ALL_EVENTS = [str(e) for e in EventType]


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Loopback receivers allowed (the test's own), no retry window: one attempt decides."""
    return {
        **app_config,
        "WEBHOOKS_ALLOW_PRIVATE": True,
        "WEBHOOKS_TIMEOUT_SECONDS": 2.0,
        "WEBHOOKS_RETRY_BASE_SECONDS": 0.1,
        "WEBHOOKS_RETRY_WINDOW_SECONDS": 3600.0,
    }


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def register(client, creds, url: str, who: str = "site", **body: Any) -> Any:
    return client.post(
        HOOKS, json={"url": url, "events": ALL_EVENTS, **body}, headers=creds.headers(who)
    )


def count(app, table) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(func.count()).select_from(table))


# --- the endpoints API ---


def test_a_site_registers_its_endpoint_and_sees_only_its_own(app, client, creds, receiver):
    created = register(client, creds, receiver.url + "/hook")
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["secret"].startswith("whsec_")
    assert Webhook(body["secret"])  # the library accepts the secret as it is
    assert body["site"] == "blog"
    assert body["enabled"] is True
    assert body["events"] == ALL_EVENTS
    assert created.headers["Location"] == f"{HOOKS}/{body['id']}"
    theirs = register(client, creds, receiver.url + "/other", who="other_site").get_json()

    listed = client.get(HOOKS, headers=creds.headers("site")).get_json()["items"]
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0]
    one = client.get(f"{HOOKS}/{body['id']}", headers=creds.headers("site")).get_json()
    assert "secret" not in one
    # Another site's endpoint does not exist for this key, whatever the verb.
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {"enabled": False}} if method == "patch" else {}
        answer = getattr(client, method)(
            f"{HOOKS}/{theirs['id']}", headers=creds.headers("site"), **kwargs
        )
        assert answer.status_code == 404
    # A site key cannot register for another site.
    other = register(client, creds, receiver.url, site="other-blog")
    assert other.status_code == 422
    assert "site" in other.get_json()["errors"]
    # An admin sees every site's and manages any.
    everything = client.get(HOOKS, headers=creds.headers("admin")).get_json()["items"]
    assert {e["site"] for e in everything} == {"blog", "other-blog"}
    patched = client.patch(
        f"{HOOKS}/{theirs['id']}",
        json={"events": ["comment.created"], "enabled": False},
        headers=creds.headers("admin"),
    )
    assert patched.status_code == 200
    assert patched.get_json()["events"] == ["comment.created"]
    assert patched.get_json()["enabled"] is False
    gone = client.delete(f"{HOOKS}/{body['id']}", headers=creds.headers("site"))
    assert gone.status_code == 204
    assert client.get(f"{HOOKS}/{body['id']}", headers=creds.headers("site")).status_code == 404


def test_admins_name_the_site_and_moderators_are_refused(app, client, creds, receiver):
    missing = register(client, creds, receiver.url, who="admin")
    assert missing.status_code == 422
    assert "site" in missing.get_json()["errors"]
    unknown = register(client, creds, receiver.url, who="admin", site="nope")
    assert unknown.status_code == 422
    made = register(client, creds, receiver.url, who="admin", site="other-blog")
    assert made.status_code == 201
    assert made.get_json()["site"] == "other-blog"
    assert register(client, creds, receiver.url, who="moderator").status_code == 403
    assert client.get(HOOKS).status_code == 401
    assert count(app, WebhookEndpoint) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["comment.created"]}, "url"),
        ({"url": "https://example.org/hook"}, "events"),
        ({"url": "https://example.org/hook", "events": []}, "events"),
        ({"url": "https://example.org/hook", "events": ["comment.liked"]}, "events"),
        ({"url": "https://example.org/h", "events": ["comment.created"] * 2}, "events"),
        ({"url": "https://example.org/h", "events": ALL_EVENTS, "secret": "x"}, "secret"),
        ({"url": 5, "events": ALL_EVENTS}, "url"),
        ({"url": "https://example.org/h", "events": "comment.created"}, "events"),
        ({"url": "https://example.org/" + "a" * 10_000, "events": ALL_EVENTS}, "url"),
    ],
)
def test_malformed_endpoints_are_refused_by_field(app, client, creds, body, field):
    answer = client.post(HOOKS, json=body, headers=creds.headers("site"))
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    assert field in answer.get_json()["errors"]
    assert count(app, WebhookEndpoint) == 0


# --- no server-side request forgery ---


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.5.6.7", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "metadata"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 (a refused address under test)
        ("::", "unspecified"),
        ("100.64.0.1", "non-public"),
        ("224.0.0.1", "multicast"),
        ("255.255.255.255", "reserved"),
        ("240.0.0.1", "reserved"),
        # 6to4 and Teredo carry an IPv4 address inside: judged by that address.
        ("2002:7f00:1::", "loopback"),
        ("2002:a9fe:a9fe::", "metadata"),
        ("2002:a00:1::", "private"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),
    ],
)
def test_each_forbidden_address_is_refused(address, reason):
    ip = ipaddress.ip_address(address)
    assert reason in (forbidden_reason(ip, allow_private=False) or "")
    # The operator's switch opens private networks, never metadata or non-unicast.
    opened = forbidden_reason(ip, allow_private=True)
    if reason in ("metadata", "unspecified", "multicast", "reserved"):
        assert opened is not None
    for public in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"):
        assert forbidden_reason(ipaddress.ip_address(public), allow_private=False) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",  # a name: refused after resolving it
        "http://2130706433/hook",  # 127.0.0.1 written as one number
        "http://0x7f.1/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:8000/",
        "ftp://example.org/hook",
        "file:///etc/passwd",
        "gopher://127.0.0.1:25/",
        "javascript:alert(1)",
        "http://user:pass@example.org/hook",
        "http:///no-host",
        "http://exa mple.org/",
        "http://0177.0.0.1/hook",
        "http://127.1/hook",
        "http://[fe80::1%25eth0]/hook",
        "http://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
        "http://vm/hook",  # a name in /etc/hosts for 127.0.0.1
        "http://example.org/a\nb",
        "http://93.184.216.34:0/hook",  # port 0 was sent to port 80
        "http://example.org:70000/hook",
    ],
)
def test_forbidden_receiver_urls_are_refused_at_registration(app, client, creds, url):
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False
    answer = register(client, creds, url)
    assert answer.status_code == 422, answer.get_json()
    assert "url" in answer.get_json()["errors"]
    assert count(app, WebhookEndpoint) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"enabled": "yes"}, "enabled"),  # was read as true
        ({"enabled": 0}, "enabled"),  # was read as false
        ({"url": "http://93.184.216.34:0/hook"}, "url"),
        ({"url": "http://127.0.0.1:9/hook"}, "url"),
        ({"events": ["comment.created", "comment.created"]}, "events"),
        ({"secret": "mine"}, "secret"),
    ],
)
def test_a_bad_change_is_refused_by_field_and_changes_nothing(
    app, client, creds, receiver, change, field
):
    created = register(client, creds, receiver.url + "/hook").get_json()
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False
    answer = client.patch(f"{HOOKS}/{created['id']}", json=change, headers=creds.headers("site"))
    assert answer.status_code == 422, answer.get_json()
    assert list(answer.get_json()["errors"]) == [field]
    after = client.get(f"{HOOKS}/{created['id']}", headers=creds.headers("site")).get_json()
    assert (after["url"], after["events"], after["enabled"]) == (
        created["url"],
        created["events"],
        True,
    )


@pytest.mark.parametrize("host", ["localhost", "vm", "127.1"])
def test_delivery_refuses_a_name_that_resolves_to_loopback(
    app, client, creds, site_api, receiver, host
):
    port = receiver.url.rsplit(":", 1)[1]
    register(client, creds, f"http://{host}:{port}/hook")  # private allowed while registering
    site_api.post()
    fan_out(app)
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False
    with db.new_session(app) as s:
        first = s.scalar(select(WebhookDelivery.id))
    assert deliver(app, first) == 1
    assert receiver.received == []
    with db.new_session(app) as s:
        assert "loopback" in s.get(WebhookDelivery, first).last_error


def test_delivery_checks_the_address_again_and_never_follows_a_redirect(
    app, client, creds, site_api, receiver
):
    register(client, creds, receiver.url + "/hook")
    site_api.post()
    fan_out(app)  # what the worker does first: make the deliveries
    with db.new_session(app) as s:
        first = s.scalar(select(WebhookDelivery.id))
    # The operator closes private networks: the stored loopback endpoint is not reached.
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False
    assert deliver(app, first) == 1
    assert receiver.received == []
    with db.new_session(app) as s:
        row = s.get(WebhookDelivery, first)
        assert row.status is DeliveryStatus.PENDING
        assert "loopback" in row.last_error
    # A redirect is a failure, and its target is never asked.
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = True
    receiver.answer = lambda _r: 302
    with db.new_session(app, write=True) as s:
        s.get(WebhookDelivery, first).next_attempt_at = s.get(WebhookDelivery, first).created_at
        s.commit()
    assert deliver(app, first) == 1
    assert len(receiver.received) == 1
    assert all(r.headers.get("webhook-id") for r in receiver.received)
    with db.new_session(app) as s:
        row = s.get(WebhookDelivery, first)
        assert row.status is DeliveryStatus.PENDING
        assert row.last_status_code == 302
        assert "redirect" in row.last_error


# --- the outbox ---


def events_of(app, comment_id: int | None = None) -> list[WebhookEvent]:
    with db.new_session(app) as s:
        stmt = select(WebhookEvent).order_by(WebhookEvent.id)
        if comment_id is not None:
            stmt = stmt.where(WebhookEvent.comment_id == comment_id)
        return list(s.scalars(stmt))


def test_changes_write_their_events_in_their_own_transaction(
    app, client, creds, site_api, receiver
):
    # No endpoint: nothing is written at all.
    site_api.post(content="before any endpoint")
    assert count(app, WebhookEvent) == 0
    register(client, creds, receiver.url)
    created = site_api.post(content="a first comment").get_json()
    refused = site_api.post(content="a first comment", author_email="reader1@example.org")
    assert refused.status_code in (409, 429)
    invalid = site_api.post(author_email="not an address")
    assert invalid.status_code == 422
    (event,) = events_of(app)
    assert event.type is EventType.CREATED
    comment = event.payload["data"]["comment"]
    assert comment["id"] == created["id"]
    assert comment["status"] == created["status"]
    assert [r["code"] for r in comment["reasons"]] == [r["code"] for r in created["reasons"]]
    assert "author_email" not in comment
    assert "author_ip" not in comment
    # A decision: old and new status, who, note.
    mod = creds.headers("moderator")
    decided = client.post(
        f"/api/v1/comments/{created['id']}/spam", json={"note": "casino"}, headers=mod
    )
    assert decided.status_code == 200
    change = events_of(app, created["id"])[-1]
    assert change.type is EventType.STATUS_CHANGED
    assert change.payload["data"]["old_status"] == created["status"]
    assert change.payload["data"]["new_status"] == "spam"
    assert change.payload["data"]["actor"] == "mod@example.org"
    assert change.payload["data"]["note"] == "casino"
    # Bulk: one event a comment, and none when the batch fails as a whole.
    second = site_api.post(content="a second comment").get_json()["id"]
    bulk = {
        "decisions": [
            {"id": created["id"], "action": "approve"},
            {"id": second, "action": "reject"},
        ]
    }
    assert client.post("/api/v1/decisions", json=bulk, headers=mod).status_code == 200
    before = count(app, WebhookEvent)
    failing = {"decisions": [{"id": second, "action": "spam"}, {"id": 999999, "action": "spam"}]}
    assert client.post("/api/v1/decisions", json=failing, headers=mod).status_code == 404
    assert count(app, WebhookEvent) == before
    types = [(e.comment_id, e.payload["data"].get("new_status")) for e in events_of(app)]
    assert (created["id"], "approved") in types
    assert (second, "rejected") in types
    # Erasure: the site hears which comment went, nothing of what it said.
    erased = client.post(
        "/api/v1/admin/erasures",
        json={"author_email": "reader2@example.org"},
        headers=creds.headers("admin"),
    )
    assert erased.status_code == 200
    last = events_of(app)[-1]
    assert last.type is EventType.ERASED
    assert last.payload["data"]["comment"] == {
        "id": created["id"],
        "site": "blog",
        "post_id": "hello-world",
    }
    # The change wrote only its event; the fan-out makes one delivery per event to the
    # one endpoint, all pending (no worker runs here).
    assert count(app, WebhookDelivery) == 0
    fan_out(app)  # what the worker does first: make the deliveries
    with db.new_session(app) as s:
        statuses = list(s.scalars(select(WebhookDelivery.status)))
    assert len(statuses) == count(app, WebhookEvent)
    assert set(statuses) == {DeliveryStatus.PENDING}


def test_the_intakes_outbox_row_stores_its_time_as_every_other_time_is_stored(app, site_api):
    # The intake binds the event row itself (InsertWithEvent); its created_at must be
    # the text SQLAlchemy stores for the same instant, here one with no microseconds.
    created = site_api.post(content="a comment").get_json()
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    with db.new_session(app, write=True) as s:
        dialect = s.get_bind().dialect.name
        site_id = s.scalar(select(Comment.site_id).where(Comment.id == created["id"]))
        about = {"id": created["id"], "site": "blog", "post_id": "hello-world"}
        event = event_row(site_id, [], EventType.CREATED, about, None, now, dialect)
        audit = {
            "comment_id": created["id"],
            "actor": "test",
            "user_id": None,
            "at": now,
            "from_status": None,
            "to_status": created["status"],
            "note": "stored twice",
        }
        InsertWithEvent(AuditEvent.__table__).execute(s, audit, event)
        s.commit()
    with db.new_session(app) as s:
        stored_at = s.scalar(
            select(cast(AuditEvent.at, Text)).where(AuditEvent.note == "stored twice")
        )
        event_at = s.scalar(
            select(cast(WebhookEvent.created_at, Text)).order_by(WebhookEvent.id.desc()).limit(1)
        )
    assert event_at == stored_at


def test_the_edit_helper_records_comment_edited(app, client, creds, site_api, receiver):
    register(client, creds, receiver.url)
    comment_id = site_api.post().get_json()["id"]
    with db.new_session(app, write=True) as s:
        comment = s.get(Comment, comment_id)
        comment.content_html = "<p>edited</p>"
        event = record_event(s, comment, EventType.EDITED, extra={"editor": "site:blog"})
        s.commit()
    assert event is not None
    assert event.payload["type"] == "comment.edited"
    assert event.payload["data"]["comment"]["content_html"] == "<p>edited</p>"
    assert event.payload["data"]["editor"] == "site:blog"


def test_an_endpoint_that_keeps_failing_is_disabled_and_the_admin_told(
    app, client, creds, site_api, receiver
):
    app.config["WEBHOOKS_RETRY_WINDOW_SECONDS"] = 0.0  # the first failure is the last
    receiver.answer = lambda _r: 500
    endpoint_id = register(client, creds, receiver.url).get_json()["id"]
    site_api.post()
    site_api.post()
    fan_out(app)  # what the worker does first: make the deliveries
    with db.new_session(app) as s:
        first = s.scalar(select(WebhookDelivery.id).order_by(WebhookDelivery.id))
    deliver(app, first)
    with db.new_session(app) as s:
        assert s.get(WebhookDelivery, first).status is DeliveryStatus.FAILED
        endpoint = s.get(WebhookEndpoint, endpoint_id)
        assert endpoint.enabled is False
        assert "HTTP 500" in endpoint.disabled_reason
    # Nothing more is sent to a disabled endpoint, and no event is recorded for it.
    sent = len(receiver.received)
    site_api.post()
    assert len(receiver.received) == sent
    shown = client.get(HOOKS, headers=creds.headers("site")).get_json()["items"][0]
    assert shown["enabled"] is False
    assert shown["disabled_reason"]
    # Enabling it again resumes what waited.
    receiver.answer = lambda _r: 204
    app.config["WEBHOOKS_RETRY_WINDOW_SECONDS"] = 3600.0
    again = client.patch(
        f"{HOOKS}/{endpoint_id}", json={"enabled": True}, headers=creds.headers("site")
    )
    assert again.status_code == 200
    assert again.get_json()["disabled_reason"] is None
    fan_out(app)  # what the worker does first: make the deliveries
    with db.new_session(app) as s:
        waiting = s.scalar(
            select(WebhookDelivery.id).where(WebhookDelivery.status == DeliveryStatus.PENDING)
        )
    assert deliver(app, waiting) == 1
    body = json.loads(receiver.received[-1].body)
    assert body["type"] == "comment.created"


def test_the_database_keeps_no_signing_secret_and_older_rows_still_sign(
    app, client, creds, site_api, receiver
):
    created = register(client, creds, receiver.url).get_json()
    with db.new_session(app) as s:
        stored = s.get(WebhookEndpoint, created["id"]).secret
    assert created["secret"] not in stored
    assert not stored.startswith("whsec_")

    def deliver_next() -> Any:
        site_api.post()
        fan_out(app)
        with db.new_session(app) as s:
            waiting = s.scalar(
                select(WebhookDelivery.id).where(WebhookDelivery.status == DeliveryStatus.PENDING)
            )
        assert deliver(app, waiting) == 1
        return receiver.received[-1]

    got = deliver_next()
    assert Webhook(created["secret"]).verify(got.body, got.headers)["type"] == "comment.created"
    # A row written before secrets were derived kept the secret itself: it still signs.
    given = "whsec_" + base64.b64encode(b"an older endpoint's secret, 32 b").decode("ascii")
    with db.new_session(app, write=True) as s:
        s.get(WebhookEndpoint, created["id"]).secret = given
        s.commit()
    got = deliver_next()
    assert Webhook(given).verify(got.body, got.headers)["type"] == "comment.created"
    # The secret comes from SECRET_KEY: another key, another secret.
    assert signing_secret("test-secret", stored) == created["secret"]
    assert signing_secret("another key", stored) != created["secret"]


# --- the admin page ---


def sign_in_admin(client) -> str:
    """Sign in as the admin through the login page; return the page's CSRF token."""
    form = client.get("/review/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    client.post(
        "/review/login",
        data={"email": "admin@example.org", "password": "admin-password", "csrf_token": token},
    )
    page = client.get("/admin/webhooks").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_admin_page_flags_disabled_endpoints_shows_the_log_and_redelivers(
    app, client, creds, site_api, receiver
):
    app.config["WEBHOOKS_RETRY_WINDOW_SECONDS"] = 0.0
    receiver.answer = lambda _r: 500
    endpoint_id = register(client, creds, receiver.url + "/broken").get_json()["id"]
    site_api.post()
    fan_out(app)  # what the worker does first: make the deliveries
    with db.new_session(app) as s:
        first = s.scalar(select(WebhookDelivery.id))
    deliver(app, first)
    token = sign_in_admin(client)
    page = client.get("/admin/webhooks").get_data(as_text=True)
    assert 'id="disabled-endpoints"' in page
    assert "1 endpoint disabled for failing" in page
    assert receiver.url + "/broken" in page
    log = client.get(f"/admin/webhooks/{endpoint_id}").get_data(as_text=True)
    assert f'data-delivery="{first}" data-status="failed"' in log
    assert "HTTP 500" in log
    # Redeliver without the CSRF token: refused, nothing queued.
    assert client.post(f"/admin/webhooks/deliveries/{first}/redeliver").status_code == 400
    assert count(app, WebhookDelivery) == 1
    done = client.post(f"/admin/webhooks/deliveries/{first}/redeliver", data={"csrf_token": token})
    assert done.status_code == 302
    with db.new_session(app) as s:
        again = s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()[-1]
        assert again.id != first
        assert again.event_id == s.get(WebhookDelivery, first).event_id
        assert again.status is DeliveryStatus.PENDING
    # Enabled again from the page, the new delivery goes out with the same webhook-id.
    receiver.answer = lambda _r: 204
    app.config["WEBHOOKS_RETRY_WINDOW_SECONDS"] = 3600.0
    enabled = client.post(f"/admin/webhooks/{endpoint_id}/enable", data={"csrf_token": token})
    assert enabled.status_code == 302
    assert 'id="disabled-endpoints"' not in client.get("/admin/webhooks").get_data(as_text=True)
    assert deliver(app, again.id) == 1
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(ids) == 1
    assert receiver.received[-1].status == 204


def test_openapi_documents_the_webhook_endpoints(client, creds, receiver):
    document = client.get("/api/v1/openapi.json").get_json()
    assert set(document["paths"]["/api/v1/webhooks"]) == {"get", "post"}
    assert set(document["paths"]["/api/v1/webhooks/{endpoint_id}"]) == {"get", "patch", "delete"}
    schemas = document["components"]["schemas"]
    created = register(client, creds, receiver.url).get_json()
    assert set(created) == set(schemas["EndpointCreated"]["properties"])
    listed = client.get(HOOKS, headers=creds.headers("site")).get_json()["items"][0]
    assert set(listed) == set(schemas["EndpointOut"]["properties"])
    assert set(schemas["EndpointIn"]["properties"]) == {"url", "events", "site"}


def test_the_akismet_routes_intake_records_comment_created(app, client, creds, receiver):
    register(client, creds, receiver.url)
    form = {
        "api_key": creds.site_key,
        "blog": "https://blog.example.org/",
        "permalink": "https://blog.example.org/hello/",
        "user_ip": "203.0.113.9",
        "comment_author": "Ada",
        "comment_author_email": "ada@example.org",
        "comment_content": "A thoughtful reply about the article.",
    }
    answer = client.post("/1.1/comment-check", data=form)
    assert answer.status_code == 200
    comment_id = int(answer.headers["X-akismet-guid"])
    (event,) = events_of(app)
    assert event.type is EventType.CREATED
    assert event.payload["data"]["comment"]["id"] == comment_id
    # A test call is answered and rolled back: no event either.
    other = {
        **form,
        "is_test": "1",
        "user_ip": "203.0.113.10",
        "comment_author_email": "grace@example.org",
        "comment_content": "Another reply, only a test.",
    }
    tested = client.post("/1.1/comment-check", data=other)
    assert tested.status_code == 200
    assert tested.headers["X-Moderation-Status"] == "pending"  # decided by the intake
    assert len(events_of(app)) == 1


def test_a_receiver_that_trickles_its_answer_is_cut_at_the_timeout(app, client, creds, site_api):
    """Each byte comes within the socket timeout; the whole answer (12 s) does not."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        for byte in b"HTTP/1.1 204 No Content\r\nX-Slow: " + b"a" * 100:
            if stop.is_set():
                break
            try:
                conn.send(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
        conn.close()

    threading.Thread(target=trickle, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    register(client, creds, url)
    app.config["WEBHOOKS_TIMEOUT_SECONDS"] = 1.0
    site_api.post()
    fan_out(app)  # what the worker does first: make the deliveries
    with db.new_session(app) as s:
        delivery_id = s.scalar(select(WebhookDelivery.id))
    deliver(app, delivery_id)
    stop.set()
    listener.close()
    with db.new_session(app) as s:
        row = s.get(WebhookDelivery, delivery_id)
        assert row.status is DeliveryStatus.PENDING
        assert "no complete answer within 1 s" in row.last_error


def test_the_endpoint_list_is_remembered_for_its_ttl_only(app, client, creds, site_api, receiver):
    """Another process's new endpoint is seen once the TTL passes; this process's at once."""
    from moderation.webhooks.outbox import ENDPOINT_CACHE
    from moderation.webhooks.outbox import EndpointCache

    now = [100.0]
    app.extensions[ENDPOINT_CACHE] = EndpointCache(2.0, clock=lambda: now[0])
    site_api.post()  # remembers: no endpoint
    with db.new_session(app, write=True) as s:  # as another host would add it
        blog = s.scalar(select(Comment.site_id))
        s.add(
            WebhookEndpoint(site_id=blog, url=receiver.url, events=ALL_EVENTS, secret="whsec_QUJD")
        )
        s.commit()
    site_api.post()
    assert count(app, WebhookEvent) == 0
    now[0] += 2.0
    site_api.post()
    assert count(app, WebhookEvent) == 1
    # A change through this process's API applies at once.
    endpoint_id = client.get(HOOKS, headers=creds.headers("site")).get_json()["items"][0]["id"]
    client.patch(f"{HOOKS}/{endpoint_id}", json={"enabled": False}, headers=creds.headers("site"))
    site_api.post()
    assert count(app, WebhookEvent) == 1
