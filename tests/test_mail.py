"""Moderator e-mail through a real SMTP server (aiosmtpd): digests, per-comment mail, links."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from datetime import timedelta
from email import message_from_bytes
from email import policy
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP
from sqlalchemy import select

from moderation import db
from moderation import taskqueue
from moderation.mail import TASK as MAIL_TASK
from moderation.mail import send_due
from moderation.mail.sending import send_message
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import MailMode
from moderation.tables import Status
from moderation.tables import User
from moderation.tables import utcnow

LINK = re.compile(r"(Approve|Reject|Spam): http://mail\.test(/review/act/\S+)")


class Inbox:
    """An SMTP server on an ephemeral port, in a thread, keeping every message it gets."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        # recipient -> how many more mails to accept before answering 451 (once)
        self.refuse_after: dict[str, int] = {}

        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        inbox = self

        class Handler:
            async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
                for rcpt in envelope.rcpt_tos:
                    if rcpt in inbox.refuse_after:
                        inbox.refuse_after[rcpt] -= 1
                        if inbox.refuse_after[rcpt] < 0:
                            del inbox.refuse_after[rcpt]
                            return "451 Requested action aborted: try again later"
                message = message_from_bytes(envelope.content, policy=policy.default)
                inbox.messages.append((list(envelope.rcpt_tos), message))
                return "250 OK"

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            server = self.loop.run_until_complete(
                self.loop.create_server(lambda: SMTP(Handler()), "127.0.0.1", 0)
            )
            self.port = server.sockets[0].getsockname()[1]
            self.server = server
            ready.set()
            self.loop.run_forever()
            server.close()
            self.loop.run_until_complete(server.wait_closed())

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        ready.wait(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def to(self, address: str) -> list[Message]:
        return [m for rcpts, m in self.messages if address in rcpts]


@pytest.fixture
def inbox():
    server = Inbox()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_config,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_FROM": "moderation@mail.test",
        "MAIL_BASE_URL": "http://mail.test",
        "MAIL_DIGEST_MINUTES": 60,
    }


@pytest.fixture(autouse=True)
def smtp_port(app, inbox):
    app.config["SMTP_PORT"] = inbox.port


def sign_in(app, email: str, password: str):
    """Return a client signed in through the login page, and its CSRF token."""
    client = app.test_client()
    form = client.get("/review/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = client.post(
        "/review/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert answer.status_code == 302
    return client


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def links_in(message: Message) -> dict[int, dict[str, str]]:
    """Return {comment id: {action: path}} of the one-click links in a message."""
    body = message.get_content()
    found: dict[int, dict[str, str]] = {}
    for block in body.split("Comment #")[1:]:
        comment_id = int(block.split(" ", 1)[0])
        found[comment_id] = {a.lower(): path for a, path in LINK.findall(block)}
    return found


def status_of(app, comment_id: int) -> Status:
    with db.new_session(app) as s:
        return s.get(Comment, comment_id).status


def pending_comments(site_api, n: int) -> list[int]:
    ids = []
    for i in range(n):
        body = site_api.post(content=f"A first comment number {i} that waits").get_json()
        assert body["status"] == "pending"
        ids.append(body["id"])
    return ids


def test_a_digest_arrives_with_links_that_act_once_as_the_moderator(app, creds, site_api, inbox):
    ids = pending_comments(site_api, 2)
    assert send_due(app) == 2  # one digest each to the moderator and the admin
    (digest,) = inbox.to("mod@example.org")
    assert digest["Subject"] == "[moderation] 2 new comments wait"
    assert digest["From"] == "moderation@mail.test"
    links = links_in(digest)
    assert sorted(links) == ids
    assert set(links[ids[0]]) == {"approve", "reject", "spam"}
    # Nothing new, and the digest interval has not passed: nothing more is sent.
    pending_comments(site_api, 1)
    assert send_due(app) == 0

    mod = sign_in(app, "mod@example.org", "mod-password")
    approve = links[ids[0]]["approve"]
    page = mod.get(approve)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"Approve comment #{ids[0]}?" in html
    assert status_of(app, ids[0]) is Status.PENDING  # a GET changes nothing
    assert mod.get(approve).status_code == 200  # nor does a second one
    # The POST needs the page's CSRF token.
    assert mod.post(approve).status_code == 400
    assert status_of(app, ids[0]) is Status.PENDING
    done = mod.post(approve, data={"csrf_token": form_token(html)})
    assert done.status_code == 200
    assert f"Comment #{ids[0]} is now approved" in done.get_data(as_text=True)
    assert status_of(app, ids[0]) is Status.APPROVED
    with db.new_session(app) as s:
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.comment_id == ids[0]).order_by(AuditEvent.id)
        ).all()[-1]
        assert event.actor == "mod@example.org"
        assert event.to_status is Status.APPROVED
        assert event.note == "from a moderation e-mail"
    # Used: refused with a clear page, on GET and on POST.
    again = mod.get(approve)
    assert again.status_code == 409
    assert "already used" in again.get_data(as_text=True)
    assert mod.post(approve, data={"csrf_token": form_token(html)}).status_code == 409
    # Another action's link of the same mail still works (each link acts once).
    spam = links[ids[1]]["spam"]
    page = mod.get(spam).get_data(as_text=True)
    assert mod.post(spam, data={"csrf_token": form_token(page)}).status_code == 200
    assert status_of(app, ids[1]) is Status.SPAM


def test_per_comment_mail_chosen_on_the_profile_page(app, creds, site_api, inbox):
    mod = sign_in(app, "mod@example.org", "mod-password")
    profile = mod.get("/review/profile").get_data(as_text=True)
    assert 'value="digest" checked' in profile  # the default
    token = form_token(profile)
    bad = mod.post("/review/profile", data={"mail_mode": "hourly", "csrf_token": token})
    assert bad.status_code == 422
    saved = mod.post("/review/profile", data={"mail_mode": "each", "csrf_token": token})
    assert saved.status_code == 200
    assert 'value="each" checked' in saved.get_data(as_text=True)
    ids = pending_comments(site_api, 3)
    send_due(app)
    mails = inbox.to("mod@example.org")
    assert len(mails) == 3
    assert [next(iter(links_in(m))) for m in mails] == ids
    assert all("waits" in m["Subject"] for m in mails)
    # Each mail's links work.
    reject = links_in(mails[2])[ids[2]]["reject"]
    page = mod.get(reject).get_data(as_text=True)
    assert mod.post(reject, data={"csrf_token": form_token(page)}).status_code == 200
    assert status_of(app, ids[2]) is Status.REJECTED
    # Nothing is mailed twice; "off" stops the mail.
    assert send_due(app) == 0
    with db.new_session(app, write=True) as s:
        s.scalar(select(User).where(User.email == "mod@example.org")).mail_mode = MailMode.OFF
        s.commit()
    pending_comments(site_api, 1)
    send_due(app)
    assert len(inbox.to("mod@example.org")) == 3


def test_a_mail_refused_midway_sends_the_rest_next_run_and_none_twice(app, creds, site_api, inbox):
    with db.new_session(app, write=True) as s:
        s.scalar(select(User).where(User.email == "mod@example.org")).mail_mode = MailMode.EACH
        s.commit()
    ids = pending_comments(site_api, 3)
    inbox.refuse_after = {"mod@example.org": 1}  # the first goes out, the second is refused
    send_due(app)
    assert [next(iter(links_in(m))) for m in inbox.to("mod@example.org")] == ids[:1]
    send_due(app)
    assert [next(iter(links_in(m))) for m in inbox.to("mod@example.org")] == ids


def test_tampered_expired_and_other_users_links_are_refused(app, creds, site_api, inbox):
    (comment_id,) = pending_comments(site_api, 1)
    send_due(app)
    (digest,) = inbox.to("mod@example.org")
    approve = links_in(digest)[comment_id]["approve"]
    mod = sign_in(app, "mod@example.org", "mod-password")
    # Tampered: one character changed in the signed part.
    token = approve.rsplit("/", 1)[1]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    tampered = mod.get(f"/review/act/{flipped}")
    assert tampered.status_code == 400
    assert "not valid" in tampered.get_data(as_text=True)
    assert mod.get("/review/act/not-a-token").status_code == 400
    # Another moderator's link: refused for the admin, even though admins may moderate.
    admin = sign_in(app, "admin@example.org", "admin-password")
    other = admin.get(approve)
    assert other.status_code == 403
    assert "another moderator" in other.get_data(as_text=True)
    admin_page = admin.get("/review/profile").get_data(as_text=True)
    assert admin.post(approve, data={"csrf_token": form_token(admin_page)}).status_code == 403
    # Not signed in: sent to sign in first, nothing done.
    assert app.test_client().get(approve).status_code == 302
    # Expired: links last MAIL_LINK_MAX_AGE_SECONDS (7 days; 1 s here).
    app.config["MAIL_LINK_MAX_AGE_SECONDS"] = 1
    time.sleep(2.1)
    expired = mod.get(approve)
    assert expired.status_code == 410
    assert "expired" in expired.get_data(as_text=True)
    assert status_of(app, comment_id) is Status.PENDING


@pytest.mark.parametrize(
    ("bend", "method", "status", "text"),
    [
        (lambda t: t[: len(t) // 2], "get", 400, "not valid"),  # truncated
        (lambda t: t[:-1], "post", 400, "not valid"),
        (lambda t: t[:-2] + "é€", "get", 400, "not valid"),  # non-ASCII
        (lambda t: "A" * 10_240, "get", 400, "not valid"),
        (lambda t: t.replace(".", "") + "." * 3, "post", 400, "not valid"),
        (lambda t: t, "post-without-csrf", 400, "CSRF token is missing"),
    ],
)
def test_a_bent_link_is_refused_and_acts_on_nothing(
    app, creds, site_api, inbox, bend, method, status, text
):
    (comment_id,) = pending_comments(site_api, 1)
    send_due(app)
    (digest,) = inbox.to("mod@example.org")
    base, token = links_in(digest)[comment_id]["approve"].rsplit("/", 1)
    mod = sign_in(app, "mod@example.org", "mod-password")
    url = f"{base}/{bend(token)}"
    if method == "get":
        answer = mod.get(url)
    elif method == "post":
        answer = mod.post(url, data={"csrf_token": form_token(mod.get("/review/").get_data(True))})
    else:
        answer = mod.post(url, data={})
    assert answer.status_code == status
    assert text in answer.get_data(as_text=True)
    assert status_of(app, comment_id) is Status.PENDING


def test_without_smtp_the_mail_is_logged_not_sent(app, caplog):
    from email.message import EmailMessage

    app.config["SMTP_HOST"] = None
    message = EmailMessage()
    message["To"] = "mod@example.org"
    message["Subject"] = "hello"
    message.set_content("body text")
    with caplog.at_level(logging.INFO, logger="moderation.mail.sending"):
        send_message(app.config, message)
    assert "mail not sent (no SMTP_HOST)" in caplog.text
    assert "body text" in caplog.text


def test_a_waiting_comment_queues_a_mail_run_for_the_end_of_its_window(app, creds, site_api):
    window = timedelta(seconds=float(app.config["MAIL_WAKE_SECONDS"]))
    before = utcnow().replace(tzinfo=None)  # huey keeps its times as naive UTC
    pending_comments(site_api, 3)
    after = utcnow().replace(tzinfo=None)
    huey = taskqueue.queue_of(app).huey  # queued, to be run at its eta (no worker runs here)
    runs = [t for t in [*huey.pending(), *huey.scheduled()] if t.name == MAIL_TASK]
    assert len(runs) == 1  # three waiting comments, one run: it sees all three
    assert before + window <= runs[0].eta <= after + window
