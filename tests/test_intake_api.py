"""POST /api/v1/comments end to end: the pipeline's rules and its answers."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select

from moderation import db
from moderation.decisions import ReasonCode
from moderation.settings import save_settings
from moderation.tables import AuditEvent
from moderation.tables import Comment


def count_comments(app: Any) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(func.count()).select_from(Comment))


def set_settings(app: Any, **changes: Any) -> None:
    with db.new_session(app, write=True) as s:
        save_settings(s, changes, "test")
        s.commit()


def reason_codes(body: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in body["reasons"]]


def test_create_comment_answers_201_with_the_decision(site_api, app):
    response = site_api.post(content="Nice post! <script>alert(1)</script> <b>bold</b>")
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/comments/{body['id']}"
    assert body["status"] == "pending"
    assert body["spam_score"] is None
    assert "classifier_unavailable" in reason_codes(body)
    assert "<script>" not in body["content_html"]
    assert "<b>bold</b>" in body["content_html"]
    with db.new_session(app) as s:
        stored = s.get(Comment, body["id"])
        assert stored.content_raw.startswith("Nice post! <script>")
        assert stored.content_html == body["content_html"]
        events = s.scalars(select(AuditEvent).where(AuditEvent.comment_id == stored.id))
        assert [e.to_status for e in events] == ["pending"]


def test_form_encoded_body_is_accepted(client, creds):
    response = client.post(
        "/api/v1/comments",
        data={
            "post_id": "7",
            "author_name": "Bob",
            "author_email": "bob@example.org",
            "content": "Form posts work too.",
        },
        headers=creds.headers("site"),
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["post_id"] == "7"


def test_get_comment_is_visible_to_its_site_only(site_api, client, creds):
    created = site_api.post().get_json()
    url = f"/api/v1/comments/{created['id']}"
    assert client.get(url, headers=creds.headers("site")).status_code == 200
    other = client.get(url, headers=creds.headers("other_site"))
    assert other.status_code == 404
    assert other.mimetype == "application/problem+json"
    assert client.get(url, headers=creds.headers("moderator")).status_code == 200


def test_duplicate_comment_is_refused_with_409(site_api, app):
    first = site_api.post(author_email="same@example.org", author_ip="192.0.2.1")
    assert first.status_code == 201
    again = site_api.post(author_email="same@example.org", author_ip="192.0.2.2")
    assert again.status_code == 409
    assert again.get_json()["type"] == "/problems/duplicate-comment"
    assert count_comments(app) == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"author_ip": "192.0.2.9"}, {"author_ip": "192.0.2.9"}),
        ({"author_email": "fast@example.org"}, {"author_email": "fast@example.org"}),
    ],
    ids=["same-ip", "same-email"],
)
def test_flood_is_refused_with_429_and_retry_after(site_api, app, first, second):
    assert site_api.post(content="first words", **first).status_code == 201
    response = site_api.post(content="second, different words", **second)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 15
    assert count_comments(app) == 1


def test_flood_window_is_configurable_and_passes_after_it(site_api, app):
    app.config["FLOOD_SECONDS"] = 0
    assert site_api.post(content="one", author_ip="192.0.2.5").status_code == 201
    assert site_api.post(content="two", author_ip="192.0.2.5").status_code == 201


@pytest.mark.parametrize(
    ("settings", "overrides", "status", "code"),
    [
        (
            {"disallowed_words": ["casino"]},
            {"content": "Best CaSiNo bonus"},
            "spam",
            "disallowed_word",
        ),
        (
            {"disallowed_words": ["203.0.113."]},
            {"author_ip": "203.0.113.50"},
            "spam",
            "disallowed_word",
        ),
        (
            {"disallowed_words": ["evil.example"]},
            {"author_url": "https://evil.example/x"},
            "spam",
            "disallowed_word",
        ),
        (
            {"disallowed_words": ["spambot"]},
            {"author_name": "SpamBot 3000"},
            "spam",
            "disallowed_word",
        ),
        (
            {"moderation_words": ["refund"]},
            {"content": "I want a REFUND"},
            "pending",
            "moderation_word",
        ),
        (
            {"trust_new_authors": True},
            {"content": "see http://a.example and http://b.example"},
            "pending",
            "too_many_links",
        ),
    ],
    ids=[
        "word-in-text",
        "word-in-ip",
        "word-in-url",
        "word-in-name",
        "moderation-word",
        "two-links",
    ],
)
def test_rules_decide_and_record_their_reason(site_api, app, settings, overrides, status, code):
    set_settings(app, **settings)
    response = site_api.post(**overrides)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == status
    assert code in reason_codes(body)


def test_one_link_alone_does_not_hold_a_trusted_author(site_api, app):
    set_settings(app, trust_new_authors=True)
    body = site_api.post(content="see https://a.example/page").get_json()
    assert body["content_html"].count("<a ") == 1
    assert 'rel="nofollow ugc"' in body["content_html"]
    assert "too_many_links" not in reason_codes(body)


def test_parent_must_be_a_comment_of_the_same_post(site_api):
    parent = site_api.post(post_id="p1").get_json()
    elsewhere = site_api.post(post_id="p2", parent_id=parent["id"])
    assert elsewhere.status_code == 422
    assert "parent_id" in elsewhere.get_json()["errors"]
    reply = site_api.post(post_id="p1", parent_id=parent["id"])
    assert reply.status_code == 201
    assert reply.get_json()["parent_id"] == parent["id"]


def test_parent_of_another_site_is_unknown(site_api):
    parent = site_api.post(post_id="p1").get_json()
    response = site_api.post(who="other_site", post_id="p1", parent_id=parent["id"])
    assert response.status_code == 422
    assert response.get_json()["errors"]["parent_id"] == ["is not a comment of this site"]


def test_openapi_document_describes_the_validated_fields(client):
    document = client.get("/api/v1/openapi.json").get_json()
    schema = document["components"]["schemas"]["CommentIn"]
    assert set(schema["required"]) == {"post_id", "author_name", "author_email", "content"}
    assert schema["properties"]["author_name"]["maxLength"] == 245
    assert schema["properties"]["content"]["maxLength"] == 65525
    assert "/api/v1/comments" in document["paths"]
    codes = document["components"]["schemas"]["Reason"]["properties"]["code"]["description"]
    assert all(f"`{code}`" in codes for code in ReasonCode)


def test_health_endpoints_answer(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["database"] == "ok"
