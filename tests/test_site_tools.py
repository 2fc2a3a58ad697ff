"""What a site (the WordPress plugin) does besides posting: decide, edit, export, erase."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlalchemy import select

from moderation import db
from moderation.settings import save_settings
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import CommentRevision
from moderation.tables import WebhookEvent


@pytest.fixture
def app_config(app_config):
    """Turn the flood check off (several comments of one author); allow a local webhook."""
    return {**app_config, "FLOOD_SECONDS": 0, "WEBHOOKS_ALLOW_PRIVATE": True}


@pytest.fixture
def disallow_casino(app):
    """Make 'casino' a disallowed word (spam by rule, with or without a classifier)."""
    with db.new_session(app, write=True) as s:
        save_settings(s, {"disallowed_words": ["casino"]}, "test")
        s.commit()


def events_of(session, comment_id: int) -> list[AuditEvent]:
    session.rollback()
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.comment_id == comment_id).order_by(AuditEvent.id)
        )
    )


# --- decisions by the site itself ---


@pytest.mark.parametrize(("action", "status"), [("approve", "approved"), ("spam", "spam")])
def test_a_site_decides_on_its_own_comment_as_itself(
    client, creds, site_api, session, action, status
):
    comment_id = site_api.post().get_json()["id"]
    answer = client.post(
        f"/api/v1/comments/{comment_id}/{action}",
        json={"note": "from WordPress"},
        headers=creds.headers("site"),
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["comment"]["status"] == status
    last = events_of(session, comment_id)[-1]
    assert (last.actor, last.user_id, str(last.to_status)) == ("site:blog", None, status)
    assert last.note == "from WordPress"


def test_a_site_puts_its_own_comment_back_to_pending(client, creds, site_api, session):
    comment_id = site_api.post().get_json()["id"]
    client.post(f"/api/v1/comments/{comment_id}/approve", headers=creds.headers("site"))
    answer = client.post(f"/api/v1/comments/{comment_id}/pending", headers=creds.headers("site"))
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["comment"]["status"] == "pending"
    last = events_of(session, comment_id)[-1]
    assert (last.actor, str(last.from_status), str(last.to_status)) == (
        "site:blog",
        "approved",
        "pending",
    )


def test_a_site_cannot_decide_on_another_sites_comment(client, creds, site_api, session):
    comment_id = site_api.post(who="other_site").get_json()["id"]
    answer = client.post(f"/api/v1/comments/{comment_id}/approve", headers=creds.headers("site"))
    assert answer.status_code == 404
    assert answer.content_type == "application/problem+json"
    session.rollback()
    assert str(session.get(Comment, comment_id).status) == "pending"


def test_a_decision_without_credentials_is_still_401(client, site_api):
    comment_id = site_api.post().get_json()["id"]
    assert client.post(f"/api/v1/comments/{comment_id}/approve").status_code == 401


# --- edits ---


def test_an_edit_runs_the_pipeline_again_and_keeps_the_old_text(
    client, creds, site_api, session, disallow_casino
):
    posted = site_api.post(content="A fair point about the budget.").get_json()
    client.post(f"/api/v1/comments/{posted['id']}/approve", headers=creds.headers("site"))
    answer = client.put(
        f"/api/v1/comments/{posted['id']}/content",
        json={"content": "Visit my <b>casino</b> now"},
        headers=creds.headers("site"),
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["changed"] is True
    assert body["comment"]["status"] == "spam"
    assert body["comment"]["content_html"] == "Visit my <b>casino</b> now"
    assert "disallowed_word" in [r["code"] for r in body["comment"]["reasons"]]
    session.rollback()
    revisions = list(session.scalars(select(CommentRevision)))
    assert [r.content_raw for r in revisions] == ["A fair point about the budget."]
    assert session.get(Comment, posted["id"]).content_raw == "Visit my <b>casino</b> now"
    last = events_of(session, posted["id"])[-1]
    # The re-check is the pipeline's verdict, not a moderator's label.
    assert (last.actor, str(last.from_status), str(last.to_status)) == (
        "classifier",
        "approved",
        "spam",
    )
    assert "site:blog" in last.note
    history = client.get(
        f"/api/v1/comments/{posted['id']}/history", headers=creds.headers("moderator")
    ).get_json()
    assert [(r["actor"], r["content_raw"]) for r in history["revisions"]] == [
        ("site:blog", "A fair point about the budget.")
    ]
    assert history["comment"]["content_html"] == "Visit my <b>casino</b> now"


def test_an_edit_tells_the_sites_webhook(client, creds, site_api, session, disallow_casino):
    hook = client.post(
        "/api/v1/webhooks",
        json={
            "url": "http://127.0.0.1:9/hook",
            "events": ["comment.edited", "comment.status_changed"],
        },
        headers=creds.headers("site"),
    )
    assert hook.status_code == 201, hook.get_json()
    posted = site_api.post(content="Nothing to see.").get_json()
    client.put(
        f"/api/v1/comments/{posted['id']}/content",
        json={"content": "casino time"},
        headers=creds.headers("site"),
    )
    session.rollback()
    events = session.scalars(
        select(WebhookEvent)
        .where(WebhookEvent.comment_id == posted["id"])
        .order_by(WebhookEvent.id)
    )
    payloads = [(e.payload["type"], e.payload["data"].get("new_status")) for e in events]
    assert payloads == [("comment.edited", "spam"), ("comment.status_changed", "spam")]


def test_an_edit_with_the_same_text_changes_nothing(client, creds, site_api, session):
    posted = site_api.post(content="Same words.").get_json()
    answer = client.put(
        f"/api/v1/comments/{posted['id']}/content",
        json={"content": "  Same words. "},
        headers=creds.headers("site"),
    )
    assert answer.status_code == 200
    assert answer.get_json()["changed"] is False
    assert answer.get_json()["comment"]["version"] == posted["version"]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(CommentRevision)) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "content"),
        ({"content": "   "}, "content"),
        ({"content": "x" * 65526}, "content"),
        ({"content": 5}, "content"),
        ({"content": "ok", "author_email": "a@b.org"}, "author_email"),
        ({"content": "ok", "version": "1"}, "version"),
    ],
)
def test_a_bad_edit_is_422_naming_the_field_and_changes_nothing(
    client, creds, site_api, session, body, field
):
    posted = site_api.post(content="Original.").get_json()
    answer = client.put(
        f"/api/v1/comments/{posted['id']}/content", json=body, headers=creds.headers("site")
    )
    assert answer.status_code == 422
    assert field in answer.get_json()["errors"]
    session.rollback()
    assert session.get(Comment, posted["id"]).content_raw == "Original."


def test_edits_are_refused_to_other_sites_moderators_stale_versions_and_duplicates(
    client, creds, site_api, session
):
    first = site_api.post(content="First text.", author_email="same@example.org").get_json()
    second = site_api.post(
        content="Second text.", author_email="same@example.org", author_ip="192.0.2.99"
    ).get_json()
    url = f"/api/v1/comments/{second['id']}/content"
    other = client.put(url, json={"content": "Hi"}, headers=creds.headers("other_site"))
    assert other.status_code == 404
    moderator = client.put(url, json={"content": "Hi"}, headers=creds.headers("moderator"))
    assert moderator.status_code == 403
    stale = client.put(url, json={"content": "Hi", "version": 7}, headers=creds.headers("site"))
    assert stale.status_code == 409
    duplicate = client.put(url, json={"content": "First text."}, headers=creds.headers("site"))
    assert duplicate.status_code == 409
    assert duplicate.get_json()["type"] == "/problems/duplicate-comment"
    missing = client.put(
        "/api/v1/comments/999999/content", json={"content": "Hi"}, headers=creds.headers("site")
    )
    assert missing.status_code == 404
    session.rollback()
    assert session.get(Comment, second["id"]).content_raw == "Second text."
    assert session.get(Comment, first["id"]).content_raw == "First text."


# --- exports and erasures ---


def _two_sites_of_one_commenter(client, creds, site_api) -> tuple[int, int, int]:
    mine = site_api.post(author_email="Eve@Example.org", content="On blog.").get_json()["id"]
    client.put(
        f"/api/v1/comments/{mine}/content",
        json={"content": "On blog, edited."},
        headers=creds.headers("site"),
    )
    theirs = site_api.post(
        who="other_site", author_email="eve@example.org", content="On the other blog."
    ).get_json()["id"]
    stranger = site_api.post(author_email="someone@example.org").get_json()["id"]
    return mine, theirs, stranger


def test_an_admin_exports_a_commenter_on_every_site(client, creds, site_api):
    mine, theirs, _ = _two_sites_of_one_commenter(client, creds, site_api)
    answer = client.post(
        "/api/v1/admin/exports",
        json={"author_email": "EVE@example.org"},
        headers=creds.headers("admin"),
    )
    assert answer.status_code == 200, answer.get_json()
    export = answer.get_json()
    assert export["author_email"] == "eve@example.org"
    by_id = {c["id"]: c for c in export["comments"]}
    assert set(by_id) == {mine, theirs}
    assert by_id[mine]["site"] == "blog"
    assert by_id[mine]["content_raw"] == "On blog, edited."
    assert [r["content_raw"] for r in by_id[mine]["revisions"]] == ["On blog."]
    assert by_id[mine]["author_ip"]
    assert next(e["note"] for e in by_id[mine]["history"]) == "received"
    assert by_id[theirs]["site"] == "other-blog"


def test_a_site_exports_only_its_own_comments(client, creds, site_api):
    mine, _, _ = _two_sites_of_one_commenter(client, creds, site_api)
    answer = client.post(
        "/api/v1/exports", json={"author_email": "eve@example.org"}, headers=creds.headers("site")
    )
    assert answer.status_code == 200
    assert [c["id"] for c in answer.get_json()["comments"]] == [mine]


@pytest.mark.parametrize(
    ("path", "who", "status"),
    [
        ("/api/v1/admin/exports", "moderator", 403),
        ("/api/v1/admin/exports", "site", 403),
        ("/api/v1/admin/exports", None, 401),
        ("/api/v1/exports", "admin", 403),
        ("/api/v1/exports", None, 401),
        ("/api/v1/erasures", "admin", 403),
        ("/api/v1/erasures", None, 401),
    ],
)
def test_exports_and_erasures_check_who_calls(client, creds, path, who, status):
    headers = creds.headers(who) if who else {}
    answer = client.post(path, json={"author_email": "eve@example.org"}, headers=headers)
    assert answer.status_code == status
    assert answer.content_type == "application/problem+json"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "author_email"), ({"author_email": 3}, "author_email"), ({"email": "a@b.c"}, "email")],
)
@pytest.mark.parametrize("path", ["/api/v1/exports", "/api/v1/erasures"])
def test_a_bad_export_or_erasure_body_is_422(client, creds, site_api, session, path, body, field):
    site_api.post(author_email="eve@example.org")
    answer = client.post(path, json=body, headers=creds.headers("site"))
    assert answer.status_code == 422
    assert field in answer.get_json()["errors"]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Comment)) == 1


def test_a_site_erases_a_commenter_on_its_own_site_only(client, creds, site_api, session):
    mine, theirs, stranger = _two_sites_of_one_commenter(client, creds, site_api)
    answer = client.post(
        "/api/v1/erasures", json={"author_email": "eve@EXAMPLE.org"}, headers=creds.headers("site")
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["comments_deleted"] == 1
    session.rollback()
    assert set(session.scalars(select(Comment.id))) == {theirs, stranger}
    assert session.scalar(select(func.count()).select_from(CommentRevision)) == 0
    assert not list(session.scalars(select(AuditEvent).where(AuditEvent.comment_id == mine)))
    assert session.get(Comment, theirs).author_email == "eve@example.org"


def test_the_openapi_document_names_the_new_routes(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "put" in paths["/api/v1/comments/{comment_id}/content"]
    for path in ("/api/v1/exports", "/api/v1/admin/exports", "/api/v1/erasures"):
        assert "post" in paths[path]
