"""End to end against a real WordPress (Debian's package, PHP, MariaDB): the connector plugin,
and the official Akismet plugin with the must-use plugin, talking to a live service."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import select

from moderation import create_app
from moderation import db
from moderation import training
from moderation.accounts import create_site
from moderation.accounts import create_user
from moderation.accounts import issue_token
from moderation.settings import save_settings
from moderation.tables import Comment
from moderation.tables import Role
from moderation.tables import WebhookDelivery
from tests.conftest import audit_events
from tests.conftest import base_config
from tests.conftest import empty_tables
from tests.wordpress_support import INTEGRATION
from tests.wordpress_support import PLUGIN
from tests.wordpress_support import WORDPRESS
from tests.wordpress_support import LiveService
from tests.wordpress_support import WordPress
from tests.wordpress_support import form_fields
from tests.wordpress_support import wait_until
from tests.worker_support import Worker

pytestmark = pytest.mark.wordpress

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "default.skops"
HOLD_WORD = "hold-for-a-person"
SPAM_WORD = "casino-jackpot-bonus"
HAM = "Thanks for the clear write-up on the budget, it answered my question."


@pytest.fixture(scope="module")
def service(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The service with the shipped classifier, trusting new authors, on a live port."""
    if not (WORDPRESS / "wp-comments-post.php").exists() or not shutil.which("php"):
        pytest.fail("WordPress and PHP are missing: `make wordpress` installs them")
    artifacts = tmp_path_factory.mktemp("service")
    app = create_app(
        {
            **base_config(database_url, artifacts),
            "ARTIFACTS_DIR": str(artifacts),
            "FLOOD_SECONDS": 0,  # every comment comes from 127.0.0.1
            "WEBHOOKS_ALLOW_PRIVATE": True,
        }
    )
    empty_tables(app)
    with app.app_context(), db.new_session(app, write=True) as s:
        training.import_default_artifact(s, SHIPPED)
        _, key = create_site(s, "wordpress")
        admin = create_user(s, "admin@example.org", "admin-password", Role.ADMIN)
        token = issue_token(s, admin)
        save_settings(
            s,
            {
                "trust_new_authors": True,
                "moderation_words": [HOLD_WORD],
                "disallowed_words": [SPAM_WORD],
            },
            "test",
        )
        s.commit()
    live = LiveService(app)
    live.site_key = key  # type: ignore[attr-defined]
    live.admin_token = token  # type: ignore[attr-defined]
    live.start()
    # The background worker delivers the webhooks (as `make run` starts it).
    worker = Worker(app, artifacts / "worker.log").start()
    live.worker = worker  # type: ignore[attr-defined]
    yield live
    worker.stop()
    live.stop()
    empty_tables(app)
    app.extensions[db.ENGINE].dispose()


@pytest.fixture(scope="module")
def wordpress(
    service: LiveService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WordPress]:
    """WordPress installed through install.php, the connector activated with the constants."""
    wp = WordPress(tmp_path_factory.mktemp("wordpress"), service.url)
    try:
        wp.build()
        wp.write_config(
            MODERATION_SERVICE_URL=service.url,
            MODERATION_SITE_KEY=service.site_key,  # type: ignore[attr-defined]
            MODERATION_RECHECK_DELAY=0,
        )
        wp.start()
        wp.install()
        wp.log_in()
        wp.activate(PLUGIN)
        yield wp
    finally:
        wp.close()


def service_comment(app: Flask, comment_id: int) -> Comment:
    """Read a comment from the service's database."""
    with db.new_session(app) as s:
        return s.get(Comment, comment_id)


def test_the_service_decision_becomes_wordpress_status(wordpress, service):
    wp = wordpress
    ham = wp.comment_id_of(wp.post_comment(HAM, author="Ada", email="ada@example.org"))
    held = wp.comment_id_of(
        wp.post_comment(
            f"I would like a person to read this one ({HOLD_WORD}).",
            author="Grace",
            email="grace@example.org",
        )
    )
    spam = wp.comment_id_of(
        wp.post_comment(
            f"Win big at the {SPAM_WORD} today",
            author="Spammer",
            email="spam@example.org",
            url="https://spam.example.com/",
        )
    )
    assert (wp.status(ham), wp.status(held), wp.status(spam)) == ("1", "0", "spam")
    for comment_id, status in ((ham, "approved"), (held, "pending"), (spam, "spam")):
        service_id = int(wp.meta(comment_id, "_moderation_id"))
        assert str(service_comment(service.app, service_id).status) == status
        assert wp.meta(comment_id, "_moderation_status") == status
    stored = service_comment(service.app, int(wp.meta(ham, "_moderation_id")))
    assert stored.post_id == "1"
    assert stored.author_ip == "127.0.0.1"
    assert stored.permalink.startswith(wp.url)
    assert stored.author_url is None  # the form's empty website field
    page = wp.public_post()
    assert HAM in page
    assert HOLD_WORD not in page  # a held comment stays unpublished
    assert SPAM_WORD not in page
    # The comments list shows what the service said.
    listing = wp.http.get("/wp-admin/edit-comments.php?comment_status=all").text
    assert "moderation-summary" in listing
    assert f"#{wp.meta(held, '_moderation_id')} · pending" in listing


def settings_action(wp: WordPress, form_id: str) -> str:
    """Press a button of Settings -> Moderation; return the notice shown after it."""
    page = wp.http.get("/wp-admin/options-general.php?page=moderation").text
    answer = wp.http.post("/wp-admin/admin-post.php", data=form_fields(page, form_id))
    assert answer.status_code == 302, answer.text[:1000]
    shown = wp.http.get(answer.headers["location"]).text
    notice = re.search(r'<div class="notice notice-(\w+)"><p>(.*?)</p>', shown)
    assert notice, shown[:2000]
    return f"{notice.group(1)}: {html.unescape(notice.group(2))}"


def test_settings_show_the_constants_and_test_the_connection(wordpress, service):
    wp = wordpress
    page = wp.http.get("/wp-admin/options-general.php?page=moderation").text
    assert "Set by MODERATION_SERVICE_URL in wp-config.php." in page
    assert service.site_key not in page  # type: ignore[attr-defined]
    assert settings_action(wp, "moderation-test") == (
        "success: Connected: the service accepts this site key."
    )


def test_the_history_import_sends_the_comments_the_service_never_saw(wordpress, service):
    wp = wordpress
    # Comments from before the plugin: WordPress's sample comment (1) and a spam one.
    spam_id = int(
        wp.php(
            "echo wp_insert_comment( array( 'comment_post_ID' => 1, 'comment_author' => 'Old',"
            " 'comment_author_email' => 'old@example.org', 'comment_content' => 'Cheap pills"
            " here', 'comment_approved' => 'spam', 'comment_author_IP' => '192.0.2.5' ) );"
        )
    )
    notice = settings_action(wp, "moderation-import")
    assert notice.startswith("success: Imported 2 comments"), notice
    for wp_id, status in ((1, "approved"), (spam_id, "spam")):
        service_id = int(wp.meta(wp_id, "_moderation_id"))
        assert str(service_comment(service.app, service_id).status) == status
    again = settings_action(wp, "moderation-import")
    assert again.startswith("success: Imported 0 comments"), again


def test_a_moderators_own_comment_keeps_wordpress_approval(wordpress, service):
    wp = wordpress
    answer = wp.http.post(  # signed in as the admin
        "/wp-comments-post.php",
        data={
            "comment": f"A note from the editor ({HOLD_WORD}).",
            "submit": "Post Comment",
            "comment_post_ID": "1",
            "comment_parent": "0",
        },
    )
    comment_id = wp.comment_id_of(answer)
    assert wp.status(comment_id) == "1"
    service_id = int(wp.meta(comment_id, "_moderation_id"))
    assert str(service_comment(service.app, service_id).status) == "approved"
    events = audit_events(service.app, service_id)
    assert [(str(e.to_status), e.actor) for e in events] == [
        ("pending", "site:wordpress"),
        ("approved", "site:wordpress"),
    ]


def test_a_field_error_is_shown_as_wordpress_shows_its_own(wordpress, service):
    wp = wordpress
    answer = wp.post_comment(
        "A comment from a commenter with a strange website.",
        author="Ada",
        email="ada@example.org",
        url="ftp://files.example.org/",
    )
    assert answer.status_code == 200
    assert "Comment Submission Failure" in answer.text
    assert "Website: must be an http:// or https:// URL" in answer.text
    assert not wp.sql("SELECT comment_ID FROM wp_comments WHERE comment_author_url LIKE 'ftp%'")


def test_with_the_service_stopped_a_comment_is_held_then_rechecked(wordpress, service):
    wp = wordpress
    service.stop()
    try:
        comment_id = wp.comment_id_of(
            wp.post_comment(HAM + " (while down)", author="Lin", email="lin@example.org")
        )
        assert wp.status(comment_id) == "0"
        assert wp.meta(comment_id, "_moderation_needs_check")
        assert "while down" not in wp.public_post()
        wp.run_cron()  # still down: it stays held
        assert wp.status(comment_id) == "0"
    finally:
        service.start()
    assert wait_until(lambda: wp.run_cron() or wp.status(comment_id) == "1", 30)
    assert wp.meta(comment_id, "_moderation_needs_check") is None
    service_id = int(wp.meta(comment_id, "_moderation_id"))
    assert str(service_comment(service.app, service_id).status) == "approved"
    assert "while down" in wp.public_post()


def test_a_service_that_does_not_answer_holds_the_comment_after_the_timeout(wordpress, service):
    wp = wordpress
    service.stop()
    # A listener that takes connections and never answers: WordPress waits its 3 s, then holds.
    with socket.create_server(("127.0.0.1", service.port)) as silent:
        silent.listen(8)
        try:
            comment_id = wp.comment_id_of(
                wp.post_comment(HAM + " (service silent)", author="Mo", email="mo@example.org")
            )
        finally:
            silent.close()
            service.start()
    assert wp.status(comment_id) == "0"
    assert "timed out" in (wp.meta(comment_id, "_moderation_error") or "").lower()
    assert wait_until(lambda: wp.run_cron() or wp.status(comment_id) == "1", 30)


def _comment_row_link(wp: WordPress, comment_id: int, action: str, listing: str = "all") -> str:
    return wp.admin_link(
        f"/wp-admin/edit-comments.php?comment_status={listing}",
        rf"comment\.php\?c={comment_id}&action={action}&_wpnonce=",
    )


def test_marking_spam_in_wordpress_gives_the_service_a_spam_decision(wordpress, service):
    wp = wordpress
    comment_id = wp.comment_id_of(
        wp.post_comment(HAM + " (to be spammed)", author="Bo", email="bo@example.org")
    )
    assert wp.status(comment_id) == "1"
    answer = wp.http.get(_comment_row_link(wp, comment_id, "spamcomment"))
    assert answer.status_code == 302
    assert wp.status(comment_id) == "spam"
    service_id = int(wp.meta(comment_id, "_moderation_id"))
    assert str(service_comment(service.app, service_id).status) == "spam"
    last = audit_events(service.app, service_id)[-1]
    assert last.actor == "site:wordpress"
    assert (str(last.from_status), str(last.to_status)) == ("approved", "spam")
    assert "by admin" in last.note
    # Approving it again from WordPress's screen is a "not spam" for the service.
    wp.http.get(_comment_row_link(wp, comment_id, "unspamcomment", listing="spam"))
    assert str(service_comment(service.app, service_id).status) == "approved"
    # Unapproving it puts it back in the service's queue.
    wp.http.get(_comment_row_link(wp, comment_id, "unapprovecomment"))
    assert wp.status(comment_id) == "0"
    assert str(service_comment(service.app, service_id).status) == "pending"


def test_a_bulk_action_in_wordpress_reaches_the_service_for_each_comment(wordpress, service):
    wp = wordpress
    ids = [
        wp.comment_id_of(wp.post_comment(f"{HAM} (bulk {n})", author="Bu", email=f"b{n}@x.org"))
        for n in (1, 2)
    ]
    fields = form_fields(wp.http.get("/wp-admin/edit-comments.php").text, "comments-form")
    fields = {key: value for key, value in fields.items() if not key.startswith("delete_")}
    answer = wp.http.post(
        "/wp-admin/edit-comments.php",
        data={**fields, "action": "spam", "delete_comments[]": [str(i) for i in ids]},
    )
    assert answer.status_code == 302, answer.text[:1000]
    assert [wp.status(i) for i in ids] == ["spam", "spam"]
    for comment_id in ids:
        service_id = int(wp.meta(comment_id, "_moderation_id"))
        assert str(service_comment(service.app, service_id).status) == "spam"
        assert audit_events(service.app, service_id)[-1].actor == "site:wordpress"


def test_an_edit_in_wordpress_is_checked_again(wordpress, service):
    wp = wordpress
    comment_id = wp.comment_id_of(
        wp.post_comment(HAM + " (to be edited)", author="Cy", email="cy@example.org")
    )
    service_id = int(wp.meta(comment_id, "_moderation_id"))
    page = wp.http.get(f"/wp-admin/comment.php?action=editcomment&c={comment_id}").text
    assert "Moderation service" in page  # the edit screen's box
    fields = form_fields(page, "post")
    fields["content"] = f"Edited: now it needs a person ({HOLD_WORD})."
    answer = wp.http.post("/wp-admin/comment.php", data=fields)
    assert answer.status_code == 302, answer.text[:1000]
    stored = service_comment(service.app, service_id)
    assert stored.content_raw == fields["content"]
    assert str(stored.status) == "pending"
    assert wp.status(comment_id) == "0"
    with db.new_session(service.app) as s:
        from moderation.editing import revisions

        assert [r.content_raw for r in revisions(s, service_id)] == [HAM + " (to be edited)"]


def test_the_privacy_exporter_returns_the_service_data(wordpress, service):
    wp = wordpress
    wp.comment_id_of(wp.post_comment(HAM + " (export me)", author="Di", email="di@example.org"))
    printed = wp.php(
        "$exporters = apply_filters( 'wp_privacy_personal_data_exporters', array() );\n"
        "$exporter = $exporters['moderation-connector'];\n"
        "echo wp_json_encode( call_user_func( $exporter['callback'], 'DI@example.org', 1 ) );\n"
    )
    export = json.loads(printed)
    assert export["done"] is True
    [item] = export["data"]
    values = {field["name"]: field["value"] for field in item["data"]}
    assert values["Text"] == HAM + " (export me)"
    assert values["Author email"] == "di@example.org"
    assert values["IP address"] == "127.0.0.1"
    assert values["Status"] == "approved"


def test_the_privacy_eraser_erases_the_service_data(wordpress, service):
    wp = wordpress
    comment_id = wp.comment_id_of(
        wp.post_comment(HAM + " (erase me)", author="Er", email="er@example.org")
    )
    service_id = int(wp.meta(comment_id, "_moderation_id"))
    printed = wp.php(
        "$erasers = apply_filters( 'wp_privacy_personal_data_erasers', array() );\n"
        "$eraser = $erasers['moderation-connector'];\n"
        "echo wp_json_encode( call_user_func( $eraser['callback'], 'er@example.org', 1 ) );\n"
    )
    assert json.loads(printed) == {
        "items_removed": True,
        "items_retained": False,
        "messages": [],
        "done": True,
    }
    assert service_comment(service.app, service_id) is None


def signed_delivery(
    secret: bytes, event: dict[str, Any], *, msg_id: str, at: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """Return a body and the Standard Webhooks headers signing it with `secret`."""
    body = json.dumps(event).encode()
    stamp = str(at if at is not None else int(time.time()))
    mac = hmac.new(secret, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return body, {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


def status_event(
    service_id: int,
    old: str,
    new: str,
    actor: str = "mod@example.org",
    at: datetime | None = None,
) -> dict[str, Any]:
    """Return a comment.status_changed event as the webhook contract shapes it."""
    return {
        "type": "comment.status_changed",
        "timestamp": (at or datetime.now(UTC)).isoformat(),
        "data": {
            "comment": {"id": service_id, "site": "wordpress", "status": new},
            "old_status": old,
            "new_status": new,
            "actor": actor,
            "note": None,
        },
    }


def test_the_webhook_route_verifies_signature_and_timestamp_and_ignores_replays(
    wordpress, service
):
    wp = wordpress
    assert wp.php("echo get_option( 'moderation_webhook_id' );")  # registered on activation
    comment_id = wp.comment_id_of(
        wp.post_comment(f"Held, then decided ({HOLD_WORD}).", author="Fe", email="fe@example.org")
    )
    registered = wp.php("echo get_option( 'moderation_webhook_secret' );")
    secret = secrets.token_bytes(24)
    test_secret = "whsec_" + base64.b64encode(secret).decode()
    wp.php(f"update_option( 'moderation_webhook_secret', '{test_secret}' );")
    try:
        check_webhook_route(wp, service, comment_id, secret)
    finally:  # the service's own deliveries (the next test) are signed with the registered one
        wp.php(f"update_option( 'moderation_webhook_secret', '{registered}' );")


def check_webhook_route(
    wp: WordPress, service: LiveService, comment_id: int, secret: bytes
) -> None:
    """Send forged, old, tampered, good and replayed deliveries; check what each did."""
    service_id = int(wp.meta(comment_id, "_moderation_id"))
    route = "/?rest_route=/moderation/v1/webhook"
    approve = status_event(service_id, "pending", "approved")

    body, headers = signed_delivery(secrets.token_bytes(24), approve, msg_id="msg_forged")
    assert wp.http.post(route, content=body, headers=headers).status_code == 401
    body, headers = signed_delivery(secret, approve, msg_id="msg_old", at=int(time.time()) - 600)
    assert wp.http.post(route, content=body, headers=headers).status_code == 401
    body, headers = signed_delivery(secret, approve, msg_id="msg_ok")
    tampered = body.replace(b"approved", b"spam")
    assert wp.http.post(route, content=tampered, headers=headers).status_code == 401
    assert wp.status(comment_id) == "0"

    answer = wp.http.post(route, content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["applied"] is True
    assert wp.status(comment_id) == "1"
    spam_body, spam_headers = signed_delivery(
        secret, status_event(service_id, "approved", "spam"), msg_id="msg_spam"
    )
    assert wp.http.post(route, content=spam_body, headers=spam_headers).json()["applied"]
    assert wp.status(comment_id) == "spam"
    # The first delivery again (a replay, or a retry): acknowledged, not applied.
    replay = wp.http.post(route, content=body, headers=headers)
    assert replay.status_code == 200
    assert replay.json()["applied"] is False
    assert wp.status(comment_id) == "spam"
    # The echo of a change this WordPress made itself is not applied (it may come late).
    echo_body, echo_headers = signed_delivery(
        secret,
        status_event(service_id, "spam", "approved", actor="site:wordpress"),
        msg_id="msg_echo",
    )
    echo = wp.http.post(route, content=echo_body, headers=echo_headers)
    assert echo.json() == {"applied": False, "reason": "made by this site"}
    assert wp.status(comment_id) == "spam"
    # An event from before the service created this comment is about an earlier comment
    # with the same id (SQLite reuses the id of an erased last comment): not applied.
    created = datetime.fromisoformat(wp.meta(comment_id, "_moderation_created_at"))
    stale_body, stale_headers = signed_delivery(
        secret,
        status_event(service_id, "spam", "approved", at=created - timedelta(seconds=1)),
        msg_id="msg_stale",
    )
    stale = wp.http.post(route, content=stale_body, headers=stale_headers)
    assert stale.json() == {"applied": False, "reason": "about an earlier comment"}
    assert wp.status(comment_id) == "spam"
    # Applying the service's decision is not sent back to it as a WordPress decision.
    assert str(service_comment(service.app, service_id).status) == "pending"


def delivery_report(app: Flask) -> list[tuple[str, str, int | None, str | None]]:
    """Return each webhook delivery's event, status, last HTTP status and error."""
    with db.new_session(app) as s:
        return [
            (str(d.event.type), str(d.status), d.last_status_code, d.last_error)
            for d in s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
        ]


def test_approving_on_the_service_publishes_in_wordpress(wordpress, service):
    wp = wordpress
    # Activation registered the webhook with the site key (the endpoint is this WordPress).
    hooks = httpx.get(
        f"{service.url}/api/v1/webhooks",
        headers={"Authorization": f"Bearer {service.site_key}"},  # type: ignore[attr-defined]
    ).json()
    urls = [hook["url"] for hook in hooks["items"]]
    assert any(url.startswith(wp.url) for url in urls), hooks
    comment_id = wp.comment_id_of(
        wp.post_comment(f"Waiting for a moderator ({HOLD_WORD}).", author="Ha", email="ha@x.org")
    )
    assert wp.status(comment_id) == "0"
    service_id = int(wp.meta(comment_id, "_moderation_id"))
    answer = httpx.post(
        f"{service.url}/api/v1/comments/{service_id}/approve",
        json={"note": "fine"},
        headers={"Authorization": f"Bearer {service.admin_token}"},  # type: ignore[attr-defined]
    )
    assert answer.status_code == 200, answer.text
    # The issue's bound is 5 s; the wait is generous so a loaded machine does not flake.
    published = wait_until(lambda: wp.status(comment_id) == "1", 30)
    assert published, delivery_report(service.app)
    assert "Waiting for a moderator" in wp.public_post()
    # WordPress applied it without sending it back: the service's last event is the admin's.
    assert audit_events(service.app, service_id)[-1].actor == "admin@example.org"


def akismet_mu_plugin(wp: WordPress) -> None:
    """Install the must-use plugin that sends Akismet's calls to the service."""
    (wp.root / "wp-content" / "mu-plugins" / "akismet-to-moderation.php").symlink_to(
        INTEGRATION / "akismet-to-moderation.php"
    )


def test_the_official_akismet_plugin_with_the_must_use_plugin(wordpress, service):
    wp = wordpress
    wp.deactivate(PLUGIN)
    akismet_mu_plugin(wp)
    # WordPress's own rule would hold a first-time author's comment that Akismet calls ham.
    wp.php("update_option( 'comment_previously_approved', 0 );")
    wp.activate("akismet/akismet.php")
    # The site's Akismet-style key (12 hex characters), entered on Akismet's own screen.
    issued = httpx.post(
        f"{service.url}/api/v1/admin/sites/wordpress/akismet-key",
        headers={"Authorization": f"Bearer {service.admin_token}"},  # type: ignore[attr-defined]
    )
    assert issued.status_code == 201, issued.text
    key = issued.json()["akismet_key"]
    screen = "/wp-admin/options-general.php?page=akismet-key-config"
    nonce = re.search(r'name="_wpnonce" value="([0-9a-f]+)"', wp.http.get(screen).text).group(1)
    entered = wp.http.post(screen, data={"_wpnonce": nonce, "action": "enter-key", "key": key})
    assert entered.status_code in (200, 302), entered.text[:1000]
    assert wp.php("echo get_option( 'wordpress_api_key' );") == key
    ham = wp.comment_id_of(
        wp.post_comment(HAM + " (via Akismet)", author="Ed", email="ed@example.org")
    )
    spam = wp.comment_id_of(
        wp.post_comment(
            f"Win at the {SPAM_WORD} (via Akismet)", author="Sp", email="sp@example.org"
        )
    )
    assert (wp.status(ham), wp.status(spam)) == ("1", "spam")
    assert (wp.meta(ham, "akismet_result"), wp.meta(spam, "akismet_result")) == ("false", "true")
    with db.new_session(service.app) as s:
        texts = {c.content_raw: str(c.status) for c in s.scalars(select(Comment))}
    assert texts[HAM + " (via Akismet)"] == "approved"
    assert texts[f"Win at the {SPAM_WORD} (via Akismet)"] == "spam"
