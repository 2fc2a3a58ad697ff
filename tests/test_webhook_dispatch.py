"""The delivery path's own parts: fan-out, batches, kept-alive connections, wake-ups."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select

from moderation import create_app
from moderation import db
from moderation.config import ConfigError
from moderation.tables import DeliveryStatus
from moderation.tables import WebhookDelivery
from moderation.tables import WebhookEvent
from moderation.wake import Waker
from moderation.webhooks.claims import Policy
from moderation.webhooks.claims import claim_batch
from moderation.webhooks.delivery import Slots
from moderation.webhooks.delivery import dispatch
from moderation.webhooks.delivery import send_batch
from moderation.webhooks.fanout import fan_out
from moderation.webhooks.fanout import waits_for_fanout
from moderation.webhooks.sender import Connections
from tests.worker_support import Receiver
from tests.worker_support import Worker
from tests.worker_support import wait_until

HOOKS = "/api/v1/webhooks"


@pytest.fixture
def app_config(app_config: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    """Loopback receivers allowed; a short linger so a dispatch run ends quickly.

    A test parametrizes it indirectly to change more settings.
    """
    return {
        **app_config,
        "WEBHOOKS_ALLOW_PRIVATE": True,
        "WEBHOOKS_TIMEOUT_SECONDS": 2.0,
        "WEBHOOKS_LEASE_SECONDS": 5.0,
        "WEBHOOKS_LINGER_SECONDS": 0.2,
        "WEBHOOKS_WAKE_SECONDS": 0.2,
        "QUEUE_POLL_SECONDS": 0.1,
        **getattr(request, "param", {}),
    }


class KeepAliveReceiver:
    """An HTTP/1.1 receiver that counts the TCP connections its webhooks came on.

    With `close_quietly`, it closes every connection after its answer without saying
    so (no "Connection: close"), as a receiver whose idle timeout ran out does.
    """

    def __init__(self, *, close_quietly: bool = False) -> None:
        self.connections = 0
        self.ids: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                receiver.connections += 1

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.ids.append(self.headers["webhook-id"])
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if close_quietly:
                    self.close_connection = True

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def register(client, creds, url: str) -> int:
    answer = client.post(
        HOOKS, json={"url": url, "events": ["comment.created"]}, headers=creds.headers("site")
    )
    assert answer.status_code == 201
    return answer.get_json()["id"]


def statuses(app) -> list[DeliveryStatus]:
    with db.new_session(app) as s:
        return list(s.scalars(select(WebhookDelivery.status).order_by(WebhookDelivery.id)))


def test_a_dispatch_sends_every_event_on_one_kept_alive_connection(app, client, creds, site_api):
    receiver = KeepAliveReceiver()
    try:
        register(client, creds, receiver.url)
        for n in range(5):
            site_api.post(content=f"comment number {n}")
        assert dispatch(app) == 5
        assert statuses(app) == [DeliveryStatus.DELIVERED] * 5
        with db.new_session(app) as s:
            ids = list(s.scalars(select(WebhookEvent.msg_id).order_by(WebhookEvent.id)))
        assert receiver.ids == ids
        assert receiver.connections == 1
    finally:
        receiver.stop()


def test_a_connection_the_receiver_closed_is_replaced_and_nothing_is_lost(
    app, client, creds, site_api
):
    receiver = KeepAliveReceiver(close_quietly=True)
    try:
        register(client, creds, receiver.url)
        for n in range(3):
            site_api.post(content=f"comment number {n}")
        assert dispatch(app) == 3
        assert statuses(app) == [DeliveryStatus.DELIVERED] * 3
        assert len(receiver.ids) == 3
        assert receiver.connections == 3
    finally:
        receiver.stop()


def test_the_change_writes_the_event_and_the_fan_out_makes_its_deliveries(
    app, client, creds, site_api
):
    receiver = Receiver().start()
    try:
        kept = register(client, creds, receiver.url + "/kept")
        paused = register(client, creds, receiver.url + "/paused")
        deleted = register(client, creds, receiver.url + "/deleted")
        site_api.post()
        with db.new_session(app) as s:
            (event,) = s.scalars(select(WebhookEvent))
            assert sorted(event.endpoint_ids) == sorted([kept, paused, deleted])
            assert waits_for_fanout(s, event.id)
        assert statuses(app) == []
        site = creds.headers("site")
        assert (
            client.patch(f"{HOOKS}/{paused}", json={"enabled": False}, headers=site).status_code
            == 200
        )
        assert client.delete(f"{HOOKS}/{deleted}", headers=site).status_code == 204
        assert fan_out(app) == 1
        assert fan_out(app) == 0  # done once
        with db.new_session(app) as s:
            made = {d.endpoint_id: d.status for d in s.scalars(select(WebhookDelivery))}
            assert not waits_for_fanout(s, event.id)
        # The disabled endpoint's delivery waits for it; the deleted one gets none.
        assert made == {kept: DeliveryStatus.PENDING, paused: DeliveryStatus.PENDING}
    finally:
        receiver.stop()


def test_an_event_after_the_newest_were_deleted_is_fanned_out(app, client, creds, site_api):
    # SQLite finds the waiting events past a cursor: an id given a second time (the
    # newest events gone, as a site's deletion takes them) would be skipped for good.
    register(client, creds, "http://127.0.0.1:9/hook")
    site_api.post(content="the first comment")
    site_api.post(content="the second comment")
    assert fan_out(app) == 2
    with db.new_session(app, write=True) as s:
        newest = s.scalar(select(func.max(WebhookEvent.id)))
        s.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id == newest))
        s.execute(delete(WebhookEvent).where(WebhookEvent.id == newest))
        s.commit()
    site_api.post(content="the third comment")
    with db.new_session(app) as s:
        latest = s.scalar(select(func.max(WebhookEvent.id)))
        assert latest > newest
        assert waits_for_fanout(s, latest)
    assert fan_out(app) == 1
    with db.new_session(app) as s:
        assert not waits_for_fanout(s, latest)
        made = s.scalars(select(WebhookDelivery.event_id).order_by(WebhookDelivery.id)).all()
    assert made[-1] == latest


def test_a_claim_sends_at_once_what_its_own_fan_out_made(app, client, creds, site_api):
    # The deliveries a claim's fan-out makes are due at the claim's own time, so the
    # same claim takes them: they do not wait for the next turn of the worker.
    register(client, creds, "http://127.0.0.1:9/hook")
    for n in range(3):
        site_api.post(content=f"comment number {n}")
    held = claim_batch(app, "test-worker", Policy.of(app.config), fan_out=True)
    with db.new_session(app) as s:
        events = list(s.scalars(select(WebhookEvent.msg_id).order_by(WebhookEvent.id)))
    assert [c.msg_id for c in held] == events
    assert [json.loads(c.body)["type"] for c in held] == ["comment.created"] * 3


def test_a_full_batch_stores_its_outcomes_and_claims_the_next_in_one_go(
    app, client, creds, site_api
):
    # A backlog: the outcomes of a full batch and the next claim share one transaction,
    # and the next batch continues the line where the first stopped.
    receiver = Receiver().start()
    try:
        register(client, creds, receiver.url)
        for n in range(5):
            site_api.post(content=f"comment number {n}")
        policy = replace(Policy.of(app.config), batch=2)
        first = claim_batch(app, "test-worker", policy, fan_out=True)
        with Connections(timeout=2.0, allow_private=True) as connections:
            sent, second = send_batch(
                app, first, connections, "test-worker", policy, claim_next=True
            )
            assert (sent, len(second)) == (2, 2)
            _, third = send_batch(app, second, connections, "test-worker", policy)
        assert third == []  # not full-batch work: nothing claimed with it
        with db.new_session(app) as s:
            events = list(s.scalars(select(WebhookEvent.msg_id).order_by(WebhookEvent.id)))
            statuses = list(s.scalars(select(WebhookDelivery.status).order_by(WebhookDelivery.id)))
        assert [c.msg_id for c in first + second] == events[:4]
        assert receiver.delivered_order() == events[:4]
        assert statuses == [DeliveryStatus.DELIVERED] * 4 + [DeliveryStatus.PENDING]
    finally:
        receiver.stop()


def test_concurrent_fan_outs_make_each_delivery_once(app, client, creds, site_api):
    receiver = Receiver().start()
    try:
        register(client, creds, receiver.url)
        for n in range(20):
            site_api.post(content=f"comment number {n}")
        barrier = threading.Barrier(4)

        def race() -> None:
            barrier.wait()
            while fan_out(app, limit=3):
                pass

        threads = [threading.Thread(target=race) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        fan_out(app)  # whatever a racer skipped while another held the turn
        with db.new_session(app) as s:
            rows = s.execute(
                select(WebhookDelivery.event_id, WebhookDelivery.id).order_by(WebhookDelivery.id)
            ).all()
        assert len(rows) == 20
        # Numbered in the order the events happened (the order they are sent in).
        assert [event_id for event_id, _ in rows] == sorted(event_id for event_id, _ in rows)
    finally:
        receiver.stop()


@pytest.mark.parametrize(
    "app_config",
    [{"WEBHOOKS_WAKE_SECONDS": 3.0, "WEBHOOKS_LINGER_SECONDS": 3.0}],
    indirect=True,
)
def test_a_commit_whose_wake_up_was_folded_is_still_delivered_by_the_worker(
    app, client, creds, site_api, tmp_path
):
    receiver = Receiver().start()
    worker = Worker(app, tmp_path / "worker.log").start()
    try:
        register(client, creds, receiver.url)
        wait_until(lambda: "Huey consumer started" in worker.output(), what="the worker")
        waker = app.extensions["moderation.webhooks.waker"]
        site_api.post(content="the first comment wakes the worker")
        site_api.post(content="this one sends no wake-up of its own")
        assert waker.sent == 1
        # Well before the minute's sweep: the woken dispatch lingered and took it.
        wait_until(lambda: len(receiver.received) == 2, timeout=20, what="both events")
    finally:
        worker.stop()
        receiver.stop()


def test_the_waker_sends_one_wake_up_a_window():
    sent: list[float] = []
    now = [100.0]
    waker = Waker(lambda: sent.append(now[0]), 0.2, clock=lambda: now[0])
    assert waker.wake() is True
    now[0] += 0.1
    assert waker.wake() is False
    now[0] += 0.15
    assert waker.wake() is True
    assert sent == [100.0, 100.25]


def test_a_wake_up_while_a_run_gathers_starts_no_run_and_is_not_lost():
    slots = Slots(3)
    first = slots.enter()
    assert first == 1
    with slots.gather():
        assert slots.enter() is None  # the gathering run takes its work
    assert slots.running == 1
    assert slots.leave_if_quiet(first) == 2  # the wake-up is seen: the run lingers anew
    assert slots.leave_if_quiet(2) is None
    assert slots.running == 0


def test_runs_go_on_side_by_side_only_while_none_gathers():
    slots = Slots(2)
    assert slots.enter() == 1
    assert slots.enter() == 2  # the first run is sending, not gathering: a second starts
    assert slots.enter() is None  # every slot is taken
    assert not slots.leave_if_another_gathers()  # nobody gathers: this run stays
    with slots.gather():
        assert slots.leave_if_another_gathers()  # the other run leaves to the gatherer
    assert slots.running == 1


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("WEBHOOKS_LINGER_SECONDS", 0.1, "LINGER_SECONDS must be at least"),
        ("WEBHOOKS_LEASE_SECONDS", 2.0, "LEASE_SECONDS must exceed"),
    ],
)
def test_delivery_timings_that_could_lose_or_double_send_are_refused(
    app_config, setting, value, message
):
    with pytest.raises(ConfigError, match=message):
        create_app({**app_config, setting: value})
