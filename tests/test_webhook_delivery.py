"""Deliveries by the real `flask worker` to a real receiver: signed, in order, never lost."""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks import WebhookVerificationError

from moderation import db
from moderation import taskqueue
from moderation.tables import Comment
from moderation.tables import DeliveryStatus
from moderation.tables import EventType
from moderation.tables import WebhookDelivery
from moderation.tables import WebhookEvent
from moderation.webhooks import record_event
from moderation.webhooks.delivery import DISPATCH
from moderation.webhooks.delivery import Policy
from moderation.webhooks.delivery import claim
from moderation.webhooks.fanout import fan_out
from tests.worker_support import Receiver
from tests.worker_support import Worker
from tests.worker_support import wait_until

HOOKS = "/api/v1/webhooks"
REDIS_URL = os.environ.get("MODERATION_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ALL_EVENTS = [str(e) for e in EventType]


@pytest.fixture
def app_config(app_config: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    """The test's own loopback receiver; retries, leases and sweeps in fractions of a second.

    A test parametrized with backend="redis" runs the queue on the machine's Redis, under
    a queue name of its own.
    """
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("backend") == "redis":
        app_config = {
            **app_config,
            "QUEUE_URL": REDIS_URL,
            "QUEUE_NAME": f"test-{uuid.uuid4().hex}",
        }
    return {
        **app_config,
        "WEBHOOKS_ALLOW_PRIVATE": True,
        "WEBHOOKS_TIMEOUT_SECONDS": 2.0,
        "WEBHOOKS_RETRY_BASE_SECONDS": 0.2,
        "WEBHOOKS_RETRY_MAX_SECONDS": 0.5,
        "WEBHOOKS_LEASE_SECONDS": 3.0,
        "QUEUE_POLL_SECONDS": 0.1,
    }


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def workers(app, tmp_path):
    """Start workers on demand; stop whatever is left at the end."""
    started: list[Worker] = []

    def start(name: str = "worker") -> Worker:
        worker = Worker(app, tmp_path / f"{name}.log").start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    if app.config["QUEUE_URL"].startswith("redis"):
        taskqueue.queue_of(app).huey.storage.flush_all()  # this test's keys only


def register(client, creds, url: str) -> dict[str, Any]:
    answer = client.post(
        HOOKS, json={"url": url, "events": ALL_EVENTS}, headers=creds.headers("site")
    )
    assert answer.status_code == 201
    return answer.get_json()


def decide(client, creds, comment_id: int, action: str) -> None:
    answer = client.post(
        f"/api/v1/comments/{comment_id}/{action}", json={}, headers=creds.headers("moderator")
    )
    assert answer.status_code == 200, answer.get_json()


def sent_events(app) -> list[tuple[str, int, str]]:
    """Return (webhook-id, comment id, type) of every event, in the order they happened."""
    with db.new_session(app) as s:
        rows = s.execute(
            select(WebhookEvent.msg_id, WebhookEvent.comment_id, WebhookEvent.type).order_by(
                WebhookEvent.id
            )
        )
        return [(m, c, str(t)) for m, c, t in rows]


def count_deliveries(app) -> int:
    with db.new_session(app) as s:
        return len(list(s.scalars(select(WebhookDelivery.id))))


def all_delivered(app) -> bool:
    with db.new_session(app) as s:
        statuses = set(s.scalars(select(WebhookDelivery.status)))
    return statuses == {DeliveryStatus.DELIVERED}


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_every_event_arrives_signed_and_verifies_with_the_library(
    app, client, creds, site_api, receiver, workers, backend
):
    secret = register(client, creds, receiver.url + "/hooks?from=moderation")["secret"]
    workers()
    comment_id = site_api.post().get_json()["id"]
    decide(client, creds, comment_id, "approve")
    with db.new_session(app, write=True) as s:  # what issue 13's edit endpoint will do
        record_event(s, s.get(Comment, comment_id), EventType.EDITED, extra={"editor": "x"})
        s.commit()
    erased = client.post(
        "/api/v1/admin/erasures",
        json={"author_email": "reader1@example.org"},
        headers=creds.headers("admin"),
    )
    assert erased.status_code == 200
    wait_until(lambda: len(receiver.received) >= 4, what="four deliveries")
    wait_until(lambda: all_delivered(app), what="the deliveries marked delivered")
    hook = Webhook(secret)
    verified = [hook.verify(r.body, r.headers) for r in receiver.received]
    assert [v["type"] for v in verified] == [
        "comment.created",
        "comment.status_changed",
        "comment.edited",
        "comment.erased",
    ]
    assert [r.headers["webhook-id"] for r in receiver.received] == [
        m for m, _, _ in sent_events(app)
    ]
    created, changed, _edited, _erased = verified
    assert created["data"]["comment"]["id"] == comment_id
    assert created["data"]["comment"]["site"] == "blog"
    assert changed["data"]["new_status"] == "approved"
    assert changed["data"]["actor"] == "mod@example.org"
    assert "author_email" not in created["data"]["comment"]
    # A tampered body, a foreign secret or a replayed old message fails verification.
    got = receiver.received[0]
    with pytest.raises(WebhookVerificationError):
        hook.verify(got.body.replace(b"blog", b"bl0g"), got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJD" * 8).verify(got.body, got.headers)
    old = {**got.headers, "webhook-timestamp": str(int(time.time()) - 3600)}
    with pytest.raises(WebhookVerificationError):
        hook.verify(got.body, old)


def test_a_receiver_down_for_a_while_gets_every_event_in_order(
    app, client, creds, site_api, receiver, workers
):
    up = threading.Event()
    receiver.answer = lambda _r: 204 if up.is_set() else 503
    register(client, creds, receiver.url)
    workers()
    ids = [site_api.post(content=f"comment number {n}").get_json()["id"] for n in range(3)]
    for action in ("approve", "spam", "approve"):
        for comment_id in ids:
            decide(client, creds, comment_id, action)
    wait_until(lambda: len(receiver.received) >= 6, what="failed attempts while down")
    up.set()
    wait_until(lambda: all_delivered(app), timeout=60, what="every event delivered")
    events = sent_events(app)
    order = receiver.delivered_order()
    assert sorted(order) == sorted(m for m, _, _ in events)
    # In order per comment: each comment's events were accepted as they happened.
    for comment_id in ids:
        expected = [m for m, c, _ in events if c == comment_id]
        assert [m for m in order if m in expected] == expected


def test_a_worker_killed_mid_delivery_loses_nothing(
    app, client, creds, site_api, receiver, workers
):
    register(client, creds, receiver.url)
    receiver.hold = 30.0  # the first request hangs: the worker is killed in the middle of it
    worker = workers("first")
    comment_id = site_api.post().get_json()["id"]
    decide(client, creds, comment_id, "approve")
    wait_until(lambda: receiver.received, what="the first attempt to start")
    worker.kill()
    with db.new_session(app) as s:
        statuses = list(s.scalars(select(WebhookDelivery.status)))
    assert DeliveryStatus.DELIVERED not in statuses
    receiver.hold = 0.0
    workers("restarted")
    wait_until(lambda: all_delivered(app), timeout=60, what="delivery after the restart")
    assert receiver.delivered_order() == [m for m, _, _ in sent_events(app)]


def test_two_workers_never_deliver_one_event_at_once(
    app, client, creds, site_api, receiver, workers
):
    register(client, creds, receiver.url)
    receiver.hold = 0.2
    app.config["WEBHOOKS_BATCH"] = 2  # small batches: the workers' runs interleave
    workers("a")
    workers("b")
    ids = [site_api.post(content=f"comment number {n}").get_json()["id"] for n in range(8)]
    wait_until(lambda: count_deliveries(app) == 8, what="the workers' fan-out")
    with db.new_session(app) as s:
        deliveries = list(s.scalars(select(WebhookDelivery.id)))
    # Many more wake-ups: every dispatch run of both workers races for the same rows.
    for _ in range(3 * len(deliveries)):
        assert taskqueue.enqueue(app, DISPATCH)
    wait_until(lambda: all_delivered(app), timeout=60, what="every event delivered")
    time.sleep(0.5)  # let any duplicate task finish before counting
    assert len(ids) == len(deliveries)
    assert set(receiver.max_in_flight.values()) == {1}
    arrivals = [r.headers["webhook-id"] for r in receiver.received]
    assert sorted(arrivals) == sorted({m for m, _, _ in sent_events(app)})  # once each


def test_only_one_of_many_concurrent_claims_wins(app, client, creds, site_api, receiver):
    register(client, creds, receiver.url)
    site_api.post()
    fan_out(app)
    with db.new_session(app) as s:
        delivery_id = s.scalar(select(WebhookDelivery.id))
    policy = Policy.of(app.config)
    barrier = threading.Barrier(6)
    won: list[Any] = []

    def race(n: int) -> None:
        barrier.wait()
        held = claim(app, delivery_id, f"racer-{n}", policy)
        if held is not None:
            won.append(held)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    # A later event of the same comment waits behind the one still pending.
    with db.new_session(app, write=True) as s:
        comment = s.get(Comment, won[0].comment_id)
        record_event(s, comment, EventType.EDITED)
        s.commit()
    fan_out(app)
    with db.new_session(app) as s:
        later = s.scalar(select(WebhookDelivery.id).order_by(WebhookDelivery.id.desc()))
    assert later != delivery_id
    assert claim(app, later, "racer-x", policy) is None
