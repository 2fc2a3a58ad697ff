"""Admin API: settings (with preview), sites, users, and the role each endpoint needs."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from moderation import db
from moderation.accounts import create_user
from moderation.settings import load_settings
from moderation.tables import AuditEvent
from moderation.tables import ClassifierVersion
from moderation.tables import Comment
from moderation.tables import Role
from moderation.tables import Site
from moderation.tables import Status
from moderation.tables import User
from moderation.tables import utcnow
from tests.conftest import comment_payload

ADMIN = "/api/v1/admin"


def admin_get(client, creds, path: str) -> Any:
    return client.get(ADMIN + path, headers=creds.headers("admin"))


def admin_send(client, creds, method: str, path: str, body: Any = None, who: str = "admin"):
    return client.open(ADMIN + path, method=method, json=body, headers=creds.headers(who))


# --- who may call ---


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/settings"),
        ("PATCH", "/settings"),
        ("POST", "/settings/preview"),
        ("GET", "/sites"),
        ("POST", "/sites"),
        ("GET", "/users"),
        ("POST", "/users"),
        ("GET", "/model-versions"),
        ("POST", "/model-versions/rollback"),
        ("GET", "/training-jobs"),
        ("POST", "/training-jobs"),
    ],
)
def test_admin_endpoints_refuse_everyone_but_admins(client, creds, method, path):
    anonymous = client.open(ADMIN + path, method=method, json={})
    assert anonymous.status_code == 401
    assert anonymous.mimetype == "application/problem+json"
    for who in ("site", "moderator"):
        response = admin_send(client, creds, method, path, {}, who=who)
        assert response.status_code == 403, (who, response.get_json())


# --- settings ---


def test_settings_round_trip_and_every_worker_reads_them(app, client, creds):
    assert admin_get(client, creds, "/settings").get_json()["spam_threshold"] == 0.9
    response = admin_send(
        client,
        creds,
        "PATCH",
        "/settings",
        {
            "spam_threshold": 0.95,
            "hold_threshold": 0.4,
            "disallowed_words": [" casino ", "", "Casino", "viagra"],
            "moderation_words": ["crypto"],
            "trust_new_authors": True,
        },
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["disallowed_words"] == ["casino", "viagra"]
    assert body["trust_new_authors"] is True
    with db.new_session(app) as s:
        stored = load_settings(s)
    assert (stored.spam_threshold, stored.hold_threshold) == (0.95, 0.4)
    assert stored.moderation_words == ("crypto",)
    # A PATCH changes only what it names.
    again = admin_send(client, creds, "PATCH", "/settings", {"hold_threshold": 0.5}).get_json()
    assert again["spam_threshold"] == 0.95
    assert again["disallowed_words"] == ["casino", "viagra"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"hold_threshold": 0.95}, {"hold_threshold"}),  # above the stored spam threshold
        ({"spam_threshold": 0.3, "hold_threshold": 0.6}, {"spam_threshold", "hold_threshold"}),
        ({"spam_threshold": 0}, {"spam_threshold"}),
        ({"spam_threshold": 1.5}, {"spam_threshold"}),
        ({"hold_threshold": "0.5x"}, {"hold_threshold"}),
        ({"trust_new_authors": "yes"}, {"trust_new_authors"}),
        ({"links_alone_never_spam": 1}, {"links_alone_never_spam"}),
        ({"disallowed_words": "casino"}, {"disallowed_words"}),
        ({"disallowed_words": ["x" * 101]}, {"disallowed_words"}),
        ({"max_links": -1}, {"max_links"}),
        ({"colour": "blue"}, {"colour"}),
    ],
)
def test_invalid_settings_are_refused_naming_the_field(app, client, creds, body, fields):
    response = admin_send(client, creds, "PATCH", "/settings", body)
    assert response.status_code == 422
    problem = response.get_json()
    assert set(problem["errors"]) == fields
    with db.new_session(app) as s:
        assert load_settings(s).spam_threshold == 0.9


def test_thresholds_may_be_equal_and_one(client, creds):
    response = admin_send(
        client, creds, "PATCH", "/settings", {"spam_threshold": 1, "hold_threshold": 1}
    )
    assert response.status_code == 200


def add_comment(s, site_id: int, n: int, score: float | None, **fields: Any) -> Comment:
    now = utcnow()
    comment = Comment(
        site_id=site_id,
        post_id="p",
        author_name=fields.get("author_name", f"reader {n}"),
        author_email=fields.get("author_email", f"r{n}@example.org"),
        content_raw=fields.get("content", f"comment number {n}"),
        content_html=fields.get("content", f"comment number {n}"),
        status=fields.get("status", Status.PENDING),
        spam_score=score,
        spam_score_without_links=fields.get("without_links"),
        classifier_version=1 if score is not None else None,
        reasons=[],
        created_at=now,
        updated_at=now,
    )
    s.add(comment)
    s.flush()
    return comment


def label(s, comment: Comment, status: Status, user: User) -> None:
    s.add(
        AuditEvent(
            comment_id=comment.id,
            actor=user.email,
            user_id=user.id,
            from_status=comment.status,
            to_status=status,
        )
    )
    comment.status = status


def test_preview_counts_and_lists_what_the_thresholds_change(app, client, creds):
    with db.new_session(app, write=True) as s:
        moderator = s.scalar(select(User).where(User.role == Role.MODERATOR))
        site_id = s.scalar(select(Site.id).where(Site.name == "blog"))
        scores = [0.05, 0.2, 0.55, 0.7, 0.85, 0.92, 0.97, None]
        comments = [add_comment(s, site_id, n, score) for n, score in enumerate(scores)]
        label(s, comments[4], Status.APPROVED, moderator)  # 0.85: ham a moderator approved
        label(s, comments[6], Status.SPAM, moderator)
        s.commit()
        ids = [c.id for c in comments]

    response = admin_send(
        client, creds, "POST", "/settings/preview", {"spam_threshold": 0.8, "hold_threshold": 0.6}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["n"] == 8
    # Now (0.5 / 0.9): 0.05, 0.2 first comments wait → pending; 0.55..0.85 pending; 0.92, 0.97
    # spam; unscored pending.
    assert body["current"] == {"pending": 6, "approved": 0, "spam": 2}
    assert body["proposed"] == {"pending": 5, "approved": 0, "spam": 3}
    changed = {c["id"]: c for c in body["changed"]}
    assert set(changed) == {ids[4]}
    assert changed[ids[4]]["current"] == "pending"
    assert changed[ids[4]]["proposed"] == "spam"
    assert changed[ids[4]]["moderator_label"] == "approved"
    assert body["labelled_current"] == {"ham": 1, "spam": 1, "ham_to_spam": 0, "spam_published": 0}
    assert body["labelled_proposed"]["ham_to_spam"] == 1
    # A preview saves nothing.
    with db.new_session(app) as s:
        assert load_settings(s).spam_threshold == 0.9


def test_preview_with_trusted_new_authors_and_words(app, client, creds):
    with db.new_session(app, write=True) as s:
        site_id = s.scalar(select(Site.id).where(Site.name == "blog"))
        add_comment(s, site_id, 1, 0.1)
        add_comment(s, site_id, 2, 0.1, content="buy casino chips")
        s.commit()
    body = admin_send(
        client,
        creds,
        "POST",
        "/settings/preview",
        {"trust_new_authors": True, "disallowed_words": ["casino"]},
    ).get_json()
    assert body["current"] == {"pending": 2, "approved": 0, "spam": 0}
    assert body["proposed"] == {"pending": 0, "approved": 1, "spam": 1}
    assert body["changed_total"] == 2


def test_preview_shows_what_the_links_alone_rule_keeps_out_of_spam(app, client, creds):
    with db.new_session(app, write=True) as s:
        site_id = s.scalar(select(Site.id).where(Site.name == "blog"))
        reader = add_comment(s, site_id, 1, 0.97, without_links=0.1, content="See bbc.co.uk")
        add_comment(s, site_id, 2, 0.97, without_links=0.95, status=Status.SPAM)
        add_comment(s, site_id, 3, 0.97, status=Status.SPAM)  # no words of its own
        s.commit()
        reader_id = reader.id
    body = admin_send(
        client, creds, "POST", "/settings/preview", {"links_alone_never_spam": False}
    ).get_json()
    assert body["current"] == {"pending": 1, "approved": 0, "spam": 2}
    assert body["proposed"] == {"pending": 0, "approved": 0, "spam": 3}
    assert [(c["id"], c["current"], c["proposed"]) for c in body["changed"]] == [
        (reader_id, "pending", "spam")
    ]


def test_preview_replays_the_scoring_versions_own_spam_threshold(app, client, creds):
    with db.new_session(app, write=True) as s:
        site_id = s.scalar(select(Site.id).where(Site.name == "blog"))
        # A retrained version that sends to spam only from 0.97 (never loaded by a preview).
        version = ClassifierVersion(
            created_by="test",
            artifact=b"",
            sha256="0" * 64,
            manifest={"thresholds": {"spam": 0.9, "hold": 0.5, "own_spam_floor": 0.97}},
            metrics={},
            active=False,
        )
        s.add(version)
        s.flush()
        add_comment(s, site_id, 1, 0.93).classifier_version = version.id
        add_comment(s, site_id, 2, 0.98).classifier_version = version.id
        s.commit()
    body = admin_send(
        client, creds, "POST", "/settings/preview", {"spam_threshold": 0.92}
    ).get_json()
    assert body["current"] == {"pending": 1, "approved": 0, "spam": 1}
    assert body["proposed"] == {"pending": 1, "approved": 0, "spam": 1}
    assert body["changed_total"] == 0


def test_preview_refuses_crossed_thresholds(client, creds):
    response = admin_send(client, creds, "POST", "/settings/preview", {"hold_threshold": 0.99})
    assert response.status_code == 422
    assert "hold_threshold" in response.get_json()["errors"]


# --- sites ---


def test_site_created_with_a_key_that_works_then_revoked(client, creds, site_api):
    created = admin_send(client, creds, "POST", "/sites", {"name": "shop"})
    assert created.status_code == 201
    body = created.get_json()
    key = body["key"]
    assert key.startswith(body["key_prefix"])
    assert created.headers["Cache-Control"] == "no-store"
    listed = admin_get(client, creds, "/sites").get_json()["items"]
    assert {s["name"] for s in listed} == {"blog", "other-blog", "shop"}
    assert all("key" not in s for s in listed)

    post = {"Authorization": f"Bearer {key}"}
    assert client.post("/api/v1/comments", json=comment_payload(), headers=post).status_code == 201
    revoked = admin_send(client, creds, "POST", f"/sites/{body['id']}/revoke")
    assert revoked.status_code == 200
    assert revoked.get_json()["revoked_at"]
    again = client.post("/api/v1/comments", json=comment_payload(content="another"), headers=post)
    assert again.status_code == 401


def test_site_name_taken_or_blank(client, creds):
    assert admin_send(client, creds, "POST", "/sites", {"name": "blog"}).status_code == 409
    blank = admin_send(client, creds, "POST", "/sites", {"name": "   "})
    assert blank.status_code == 422
    assert "name" in blank.get_json()["errors"]
    assert admin_send(client, creds, "POST", "/sites/999/revoke").status_code == 404


# --- users ---


def test_user_created_promoted_disabled_and_their_token_stops(app, client, creds):
    created = admin_send(
        client,
        creds,
        "POST",
        "/users",
        {"email": "New.Mod@Example.org", "password": "long-enough", "role": "moderator"},
    )
    assert created.status_code == 201, created.get_json()
    user = created.get_json()
    assert user["email"] == "new.mod@example.org"
    assert user["role"] == "moderator"
    token = admin_send(client, creds, "POST", f"/users/{user['id']}/token").get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/queue", headers=headers).status_code == 200
    assert client.get(ADMIN + "/settings", headers=headers).status_code == 403

    promoted = admin_send(client, creds, "PATCH", f"/users/{user['id']}", {"role": "admin"})
    assert promoted.get_json()["role"] == "admin"
    assert client.get(ADMIN + "/settings", headers=headers).status_code == 200

    disabled = admin_send(client, creds, "PATCH", f"/users/{user['id']}", {"disabled": True})
    assert disabled.get_json()["disabled"] is True
    assert client.get("/api/v1/queue", headers=headers).status_code == 401
    listed = {u["email"]: u for u in admin_get(client, creds, "/users").get_json()["items"]}
    assert listed["new.mod@example.org"]["has_token"] is False
    assert "password_hash" not in listed["new.mod@example.org"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"email": "mod@example.org", "password": "long-enough"}, 409, None),
        ({"email": "x@example.org", "password": "short"}, 422, "password"),
        ({"email": "not-an-email", "password": "long-enough"}, 422, "email"),
        ({"email": "y@example.org", "password": "long-enough", "role": "owner"}, 422, "role"),
    ],
)
def test_invalid_users_are_refused(client, creds, body, status, field):
    response = admin_send(client, creds, "POST", "/users", body)
    assert response.status_code == status, response.get_json()
    if field:
        assert field in response.get_json()["errors"]


def test_admins_cannot_lock_themselves_or_everyone_out(app, client, creds):
    with db.new_session(app) as s:
        me = s.scalar(select(User).where(User.email == "admin@example.org"))
    for change in ({"disabled": True}, {"role": "moderator"}):
        response = admin_send(client, creds, "PATCH", f"/users/{me.id}", change)
        assert response.status_code == 409
    with db.new_session(app, write=True) as s:
        other = create_user(s, "boss@example.org", "long-enough", Role.ADMIN)
        s.commit()
    # Another admin may be demoted while one stays enabled.
    response = admin_send(client, creds, "PATCH", f"/users/{other.id}", {"role": "moderator"})
    assert response.status_code == 200
    assert admin_send(client, creds, "PATCH", "/users/9999", {}).status_code == 404


def test_openapi_documents_the_admin_endpoints(client):
    document = client.get("/api/v1/openapi.json").get_json()
    for path in (
        "/api/v1/admin/training-jobs",
        "/api/v1/admin/model-versions/{version_id}/promote",
        "/api/v1/admin/settings/preview",
        "/api/v1/admin/users/{user_id}",
        "/api/v1/admin/sites/{name}/akismet-key",
    ):
        assert path in document["paths"], path
    assert "SettingsPatch" in document["components"]["schemas"]
    assert "TrainingJobOut" in document["components"]["schemas"]
