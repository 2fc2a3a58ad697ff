"""The moderator API: the queue, decisions one by one and in bulk, the audit trail."""

from __future__ import annotations

import base64
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete
from sqlalchemy import select

from moderation import db
from moderation.auth import Principal
from moderation.auth import PrincipalKind
from moderation.intake import dedupe_key
from moderation.problems import Problem
from moderation.queue import Action
from moderation.queue import apply_decision
from moderation.schemas import CommentIn
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import FloodMark
from moderation.tables import Site
from moderation.tables import Status
from moderation.tables import User
from tests.conftest import audit_events

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MOD = "mod@example.org"


class Rows:
    """Arrange and inspect rows directly, each in a short transaction of its own."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._n = 0

    def site_id(self, name: str = "blog") -> int:
        with db.new_session(self.app) as s:
            return s.scalar(select(Site.id).where(Site.name == name))

    def add(
        self,
        status: Status = Status.PENDING,
        *,
        at: datetime | None = None,
        site: str = "blog",
        **fields: Any,
    ) -> int:
        """Insert one comment as the intake would have stored it; return its id."""
        self._n += 1
        values: dict[str, Any] = {
            "post_id": "hello-world",
            "author_name": f"Reader {self._n}",
            "author_email": f"reader{self._n}@example.org",
            "content_raw": f"Comment number {self._n}.",
            "author_ip": "192.0.2.1",
            "parent_id": None,
            **fields,
        }
        values.setdefault("content_html", values["content_raw"])
        site_id = self.site_id(site)
        key = dedupe_key(
            site_id,
            CommentIn.model_construct(
                post_id=values["post_id"],
                parent_id=values["parent_id"],
                author_name=values["author_name"],
                author_email=values["author_email"],
                content=values["content_raw"],
            ),
        )
        when = at or T0 + timedelta(minutes=self._n)
        with db.new_session(self.app, write=True) as s:
            comment = Comment(
                site_id=site_id,
                status=status,
                reasons=[{"code": "first_comment", "detail": "first comments wait"}],
                dedupe_key=None if status is Status.REJECTED else key,
                created_at=when,
                updated_at=when,
                **values,
            )
            s.add(comment)
            s.flush()
            s.add(AuditEvent(comment_id=comment.id, actor="site:blog", to_status=status, at=when))
            s.commit()
            return comment.id

    def forget_flood(self) -> None:
        """Forget the intake's flood marks, so one author may post again at once."""
        with db.new_session(self.app, write=True) as s:
            s.execute(delete(FloodMark))
            s.commit()

    def get(self, comment_id: int) -> Comment:
        with db.new_session(self.app) as s:
            return s.get(Comment, comment_id)

    def events(self, comment_id: int) -> list[AuditEvent]:
        return audit_events(self.app, comment_id)


@pytest.fixture
def rows(app: Flask, creds: Any) -> Rows:
    """Return the row helper (the sites and users of `creds` exist)."""
    return Rows(app)


@pytest.fixture
def api(client: FlaskClient, creds: Any) -> Any:
    """Return a caller of the moderator API with the moderator's personal token."""

    class Api:
        headers = creds.headers("moderator")

        def queue(self, **params: Any) -> Any:
            return client.get("/api/v1/queue", query_string=params, headers=self.headers)

        def decide(self, comment_id: int, action: str, body: Any = None, **kw: Any) -> Any:
            headers = {**self.headers, **kw.pop("headers", {})}
            return client.post(
                f"/api/v1/comments/{comment_id}/{action}", json=body, headers=headers, **kw
            )

        def bulk(self, body: Any) -> Any:
            return client.post("/api/v1/decisions", json=body, headers=self.headers)

        def history(self, comment_id: int) -> Any:
            return client.get(f"/api/v1/comments/{comment_id}/history", headers=self.headers)

    return Api()


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


# --- listing ---


def test_queue_lists_pending_newest_first_with_counts(api, rows):
    old = rows.add()
    new = rows.add()
    rows.add(Status.SPAM)
    rows.add(Status.APPROVED)
    rows.add(Status.APPROVED)
    response = api.queue()
    assert ids(response) == [new, old]
    body = response.get_json()
    assert body["status"] == "pending"
    assert body["counts"] == {"pending": 2, "approved": 2, "rejected": 0, "spam": 1}
    assert body["next_cursor"] is None


def test_queue_item_shows_what_a_moderator_needs(api, rows):
    parent = rows.add(Status.APPROVED, content_raw="The <b>parent</b> text", author_name="Pa")
    reply = rows.add(parent_id=parent, author_url="https://example.net/me", site="other-blog")
    item = api.queue().get_json()["items"][0]
    assert item["id"] == reply
    assert item["site"] == "other-blog"
    assert item["author_email"].endswith("@example.org")
    assert item["author_ip"] == "192.0.2.1"
    assert item["author_url"] == "https://example.net/me"
    assert item["parent"] == {
        "id": parent,
        "author_name": "Pa",
        "status": "approved",
        "excerpt": "The parent text",
    }
    assert item["etag"] == f'"{reply}-1"'
    assert item["version"] == 1
    assert item["reasons"][0]["code"] == "first_comment"


def test_keyset_pagination_visits_every_comment_once_even_with_equal_times(api, rows):
    same = T0 + timedelta(hours=5)
    expected = [rows.add(at=same) for _ in range(4)] + [rows.add() for _ in range(5)]
    expected.sort(key=lambda i: (rows.get(i).created_at, i), reverse=True)
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = api.queue(**params).get_json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert pages == 5


def test_cursor_is_not_disturbed_by_newer_comments(api, rows):
    first = [rows.add() for _ in range(4)]
    page1 = api.queue(limit=2).get_json()
    rows.add(at=T0 + timedelta(days=1))  # arrives at the top meanwhile
    page2 = api.queue(limit=2, cursor=page1["next_cursor"]).get_json()
    assert [i["id"] for i in page1["items"] + page2["items"]] == first[::-1]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "all"}, ["p1", "p2", "spam", "other-post", "other-site"]),
        ({"status": "spam"}, ["spam"]),
        ({"post_id": "other"}, ["other-post"]),
        ({"site": "other-blog"}, ["other-site"]),
        ({"q": "LOVELACE"}, ["p1"]),
        ({"q": "babbage@"}, ["p2"]),
        ({"q": "engine", "status": "all"}, ["p2", "spam"]),
        ({"q": "0% w"}, ["other-post"]),
        ({"q": "1_0"}, []),  # LIKE wildcards are searched literally
        ({"q": "%"}, ["other-post"]),
    ],
)
def test_filters_and_search(api, rows, params, expected):
    names = {
        "p1": rows.add(author_name="Ada Lovelace"),
        "p2": rows.add(author_email="babbage@example.org", content_raw="The analytical engine"),
        "spam": rows.add(Status.SPAM, content_raw="Buy an ENGINE now"),
        "other-post": rows.add(post_id="other", content_raw="I agree 100% with this"),
        "other-site": rows.add(site="other-blog"),
    }
    by_id = {v: k for k, v in names.items()}
    found = [by_id[i] for i in ids(api.queue(**params))]
    assert sorted(found) == sorted(expected)


def test_counts_follow_the_filters_but_not_the_status(api, rows):
    rows.add(post_id="a")
    rows.add(Status.SPAM, post_id="a")
    rows.add(Status.SPAM, post_id="b")
    counts = api.queue(post_id="a").get_json()["counts"]
    assert counts == {"pending": 1, "approved": 0, "rejected": 0, "spam": 1}


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"status": "deleted"}, 422, "status"),
        ({"site": "nowhere"}, 422, "site"),
        ({"q": "x" * 201}, 422, "q"),
        ({"limit": "0"}, 400, None),
        ({"limit": "ten"}, 400, None),
        ({"cursor": "not-a-cursor"}, 400, None),
        ({"cursor": base64.urlsafe_b64encode(b"2025-01-01|-3").decode()}, 400, None),
    ],
)
def test_bad_queue_parameters_are_named(api, rows, params, status, field):
    response = api.queue(**params)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    if field:
        assert field in response.get_json()["errors"]


# --- single decisions ---

TRANSITIONS = [
    (before, action) for before in Status for action in Action if action.status is not before
]


@pytest.mark.parametrize(("before", "action"), TRANSITIONS, ids=lambda v: str(v))
def test_every_status_change_is_applied_and_audited(api, rows, app, before, action):
    comment_id = rows.add(before)
    response = api.decide(comment_id, action, {"version": 1, "note": "  checked  "})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["changed"] is True
    assert body["comment"]["status"] == action.status
    assert body["comment"]["version"] == 2
    assert response.headers["ETag"] == f'"{comment_id}-2"'
    stored = rows.get(comment_id)
    assert stored.status is action.status
    event = rows.events(comment_id)[-1]
    assert (event.from_status, event.to_status) == (before, action.status)
    assert event.actor == MOD
    assert event.note == "checked"
    with db.new_session(app) as s:
        assert event.user_id == s.scalar(select(User.id).where(User.email == MOD))


def test_not_spam_is_approve_on_a_spam_comment(api, rows):
    comment_id = rows.add(Status.SPAM)
    body = api.decide(comment_id, "approve").get_json()
    assert body["comment"]["status"] == "approved"
    assert [e.to_status for e in rows.events(comment_id)] == ["spam", "approved"]


def test_same_status_again_changes_nothing(api, rows):
    comment_id = rows.add(Status.APPROVED)
    response = api.decide(comment_id, "approve", {"version": 1})
    assert response.status_code == 200
    assert response.get_json()["changed"] is False
    assert rows.get(comment_id).version == 1
    assert len(rows.events(comment_id)) == 1


def test_stale_version_is_409_and_nothing_changes(api, rows):
    comment_id = rows.add()
    assert api.decide(comment_id, "approve", {"version": 1}).status_code == 200
    response = api.decide(comment_id, "spam", {"version": 1, "note": "late"})
    assert response.status_code == 409
    problem = response.get_json()
    assert problem["type"] == "/problems/stale-decision"
    assert problem["current_status"] == "approved"
    assert problem["current_version"] == 2
    assert "approved" in problem["detail"]
    assert rows.get(comment_id).status is Status.APPROVED
    assert [e.to_status for e in rows.events(comment_id)] == ["pending", "approved"]


@pytest.mark.parametrize(
    ("if_match", "status"),
    [
        ('"{id}-1"', 200),
        ('W/"{id}-1"', 200),
        ("*", 200),
        ('"{id}-2"', 409),
        ('"999999-1"', 409),
        ('"garbage"', 409),
    ],
)
def test_if_match_carries_the_version(api, rows, if_match, status):
    comment_id = rows.add()
    header = {"If-Match": if_match.format(id=comment_id)}
    response = api.decide(comment_id, "reject", headers=header)
    assert response.status_code == status
    expected = Status.REJECTED if status == 200 else Status.PENDING
    assert rows.get(comment_id).status is expected


def test_if_match_and_body_version_must_agree(api, rows):
    comment_id = rows.add()
    response = api.decide(
        comment_id, "reject", {"version": 2}, headers={"If-Match": f'"{comment_id}-1"'}
    )
    assert response.status_code == 422
    assert "version" in response.get_json()["errors"]


def test_a_change_between_read_and_write_is_409(app, rows, creds):
    # The optimistic lock itself: this session read version 1, another one
    # committed version 2 meanwhile; the UPDATE ... WHERE version = 1 matches nothing.
    comment_id = rows.add()
    with app.app_context(), db.new_session(app, write=True) as mine:
        seen = mine.get(Comment, comment_id)  # held: the identity map is weak
        assert seen.version == 1
        mine.commit()  # keeps the loaded row (expire_on_commit=False)
        with db.new_session(app, write=True) as theirs:
            moderator = theirs.scalar(select(User).where(User.email == MOD))
            them = Principal(PrincipalKind.TOKEN, user=moderator)
            apply_decision(theirs, comment_id, Action.SPAM, None, them, None)
            theirs.commit()
        me = Principal(PrincipalKind.TOKEN, user=mine.scalar(select(User).limit(1)))
        with pytest.raises(Problem) as caught:
            apply_decision(mine, comment_id, Action.APPROVE, None, me, None)
        mine.rollback()
    assert caught.value.status == 409
    assert rows.get(comment_id).status is Status.SPAM
    assert [e.to_status for e in rows.events(comment_id)] == ["pending", "spam"]


def test_unknown_comment_is_404(api, rows):
    assert api.decide(424242, "approve").status_code == 404
    assert api.history(424242).status_code == 404


@pytest.mark.parametrize(
    ("kwargs", "status", "field"),
    [
        ({"json": {"note": "x" * 2001}}, 422, "note"),
        ({"json": {"version": "1"}}, 422, "version"),
        ({"json": {"version": 0}}, 422, "version"),
        ({"json": {"status": "approved"}}, 422, "status"),
        ({"json": ["approve"]}, 400, None),
        ({"data": "{", "content_type": "application/json"}, 400, None),
        ({"data": "note=hi", "content_type": "text/plain"}, 415, None),
    ],
)
def test_bad_decision_bodies_are_refused(client, creds, rows, kwargs, status, field):
    comment_id = rows.add()
    response = client.post(
        f"/api/v1/comments/{comment_id}/approve", headers=creds.headers("moderator"), **kwargs
    )
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    if field:
        assert field in response.get_json()["errors"]
    assert rows.get(comment_id).status is Status.PENDING


# --- duplicates and rejection ---


def test_rejecting_frees_the_text_and_restoring_it_checks_for_a_clash(api, site_api, rows):
    body = {"author_email": "same@example.org", "content": "Exactly this text."}
    first = site_api.post(**body).get_json()["id"]
    rows.forget_flood()
    assert site_api.post(**body).status_code == 409  # a live duplicate

    assert api.decide(first, "reject").status_code == 200
    assert rows.get(first).dedupe_key is None
    rows.forget_flood()
    second = site_api.post(**body)
    assert second.status_code == 201  # a rejected comment does not block it
    second_id = second.get_json()["id"]

    clash = api.decide(first, "approve")
    assert clash.status_code == 409
    assert clash.get_json()["duplicate_of"] == second_id
    assert rows.get(first).status is Status.REJECTED

    assert api.decide(second_id, "reject").status_code == 200
    assert api.decide(first, "approve").status_code == 200
    restored = rows.get(first)
    assert restored.status is Status.APPROVED
    assert restored.dedupe_key is not None
    rows.forget_flood()
    assert site_api.post(**body).status_code == 409  # the restored key blocks again


def test_moving_between_live_statuses_keeps_the_key(api, rows):
    comment_id = rows.add()
    key = rows.get(comment_id).dedupe_key
    api.decide(comment_id, "spam")
    api.decide(comment_id, "approve")
    assert rows.get(comment_id).dedupe_key == key


# --- bulk ---


def test_bulk_applies_every_decision(api, rows):
    a, b, c = rows.add(), rows.add(), rows.add(Status.SPAM)
    response = api.bulk(
        {
            "decisions": [
                {"id": a, "action": "spam", "version": 1},
                {"id": b, "action": "reject"},
                {"id": c, "action": "approve", "version": 1},
            ],
            "note": "weekly sweep",
        }
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["changed"] == 3
    assert [i["comment"]["status"] for i in body["items"]] == ["spam", "rejected", "approved"]
    for comment_id, status in ((a, Status.SPAM), (b, Status.REJECTED), (c, Status.APPROVED)):
        assert rows.get(comment_id).status is status
        event = rows.events(comment_id)[-1]
        assert (event.to_status, event.note, event.actor) == (status, "weekly sweep", MOD)


def test_bulk_with_one_stale_comment_applies_nothing(api, rows):
    a, b = rows.add(), rows.add()
    api.decide(b, "approve")
    response = api.bulk(
        {
            "decisions": [
                {"id": a, "action": "spam", "version": 1},
                {"id": b, "action": "spam", "version": 1},
            ]
        }
    )
    assert response.status_code == 409
    assert list(response.get_json()["errors"]) == [str(b)]
    assert rows.get(a).status is Status.PENDING
    assert rows.get(b).status is Status.APPROVED
    assert len(rows.events(a)) == 1


def test_bulk_with_an_unknown_comment_applies_nothing(api, rows):
    a = rows.add()
    response = api.bulk(
        {"decisions": [{"id": a, "action": "spam"}, {"id": 999999, "action": "spam"}]}
    )
    assert response.status_code == 404
    assert list(response.get_json()["errors"]) == ["999999"]
    assert rows.get(a).status is Status.PENDING


def test_bulk_clash_found_while_applying_rolls_back_the_earlier_ones(api, site_api, rows):
    body = {"author_email": "twin@example.org", "content": "Twin text."}
    first = site_api.post(**body).get_json()["id"]
    api.decide(first, "reject")
    rows.forget_flood()
    assert site_api.post(**body).status_code == 201  # the live twin
    other = rows.add()
    response = api.bulk(
        {"decisions": [{"id": other, "action": "approve"}, {"id": first, "action": "approve"}]}
    )
    assert response.status_code == 409
    assert list(response.get_json()["errors"]) == [str(first)]
    assert rows.get(other).status is Status.PENDING
    assert len(rows.events(other)) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decisions": []}, "decisions"),
        ({}, "decisions"),
        ({"decisions": [{"id": 1, "action": "delete"}]}, "decisions"),
        (
            {"decisions": [{"id": 1, "action": "spam"}, {"id": 1, "action": "approve"}]},
            "decisions",
        ),
        ({"decisions": [{"id": i, "action": "spam"} for i in range(1, 202)]}, "decisions"),
        ({"decisions": [{"id": 1, "action": "spam"}], "extra": 1}, "extra"),
    ],
)
def test_bad_bulk_bodies_are_refused(api, rows, body, field):
    rows.add()
    response = api.bulk(body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert rows.get(1).status is Status.PENDING


# --- history ---


def test_history_lists_every_change_oldest_first(api, rows):
    comment_id = rows.add()
    api.decide(comment_id, "spam", {"note": "looks like spam"})
    api.decide(comment_id, "approve", {"note": "not spam after all"})
    response = api.history(comment_id)
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{comment_id}-3"'
    body = response.get_json()
    assert body["comment"]["status"] == "approved"
    changes = [(e["from_status"], e["to_status"], e["actor"], e["note"]) for e in body["history"]]
    assert changes == [
        (None, "pending", "site:blog", None),
        ("pending", "spam", MOD, "looks like spam"),
        ("spam", "approved", MOD, "not spam after all"),
    ]


def test_openapi_documents_the_moderator_endpoints(client):
    document = client.get("/api/v1/openapi.json").get_json()
    for path in (
        "/api/v1/queue",
        "/api/v1/comments/{comment_id}/{action}",
        "/api/v1/decisions",
        "/api/v1/comments/{comment_id}/history",
    ):
        assert path in document["paths"]
    for model in ("QueuePageOut", "DecisionIn", "BulkDecisionIn", "CommentHistory"):
        assert model in document["components"]["schemas"]


def test_counts_stop_at_the_count_limit(app, api, rows):
    # Every count but pending's (which is always exact) stops at the limit.
    app.config["QUEUE_COUNT_LIMIT"] = 3
    for _ in range(5):
        rows.add(Status.SPAM)
    rows.add()
    body = api.queue(status="spam").get_json()
    assert body["count_limit"] == 3
    assert body["counts"] == {"pending": 1, "approved": 0, "rejected": 0, "spam": 3}
    assert len(body["items"]) == 5  # the listing itself is not capped


# --- back to pending ---


@pytest.mark.parametrize(
    ("action", "start"),
    [("approve", Status.APPROVED), ("spam", Status.SPAM), ("reject", Status.REJECTED)],
)
def test_pending_puts_a_decided_comment_back_in_the_queue(api, rows, action, start):
    comment_id = rows.add()
    assert api.decide(comment_id, action, {"version": 1}).status_code == 200
    response = api.decide(comment_id, "pending", {"version": 2, "note": "slip of the key"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["changed"] is True
    assert body["comment"]["status"] == "pending"
    assert body["comment"]["version"] == 3
    assert response.headers["ETag"] == f'"{comment_id}-3"'
    assert rows.get(comment_id).status is Status.PENDING
    last = rows.events(comment_id)[-1]
    assert (last.from_status, last.to_status, last.actor, last.note) == (
        start,
        Status.PENDING,
        MOD,
        "slip of the key",
    )
    assert comment_id in ids(api.queue(status="pending"))


def test_pending_on_a_changed_comment_is_409(api, rows):
    comment_id = rows.add()
    api.decide(comment_id, "spam", {"version": 1})
    api.decide(comment_id, "approve", {"version": 2})  # someone else meanwhile
    response = api.decide(comment_id, "pending", {"version": 2})
    assert response.status_code == 409
    assert response.get_json()["current_status"] == "approved"
    assert rows.get(comment_id).status is Status.APPROVED
    stale = api.decide(comment_id, "pending", headers={"If-Match": f'"{comment_id}-2"'})
    assert stale.status_code == 409
    assert len(rows.events(comment_id)) == 3


def test_pending_on_a_pending_comment_changes_nothing(api, rows):
    comment_id = rows.add()
    response = api.decide(comment_id, "pending", {"version": 1})
    assert response.status_code == 200
    assert response.get_json()["changed"] is False
    assert len(rows.events(comment_id)) == 1


def test_pending_from_rejected_restores_the_duplicate_key(api, rows):
    comment_id = rows.add()
    key = rows.get(comment_id).dedupe_key
    api.decide(comment_id, "reject")
    assert rows.get(comment_id).dedupe_key is None
    assert api.decide(comment_id, "pending").status_code == 200
    assert rows.get(comment_id).dedupe_key == key


def test_bulk_pending_and_its_stale_refusal(api, rows):
    a, b = rows.add(Status.SPAM), rows.add(Status.APPROVED)
    response = api.bulk(
        {
            "decisions": [
                {"id": a, "action": "pending", "version": 1},
                {"id": b, "action": "pending"},
            ]
        }
    )
    assert response.status_code == 200, response.get_json()
    assert [i["comment"]["status"] for i in response.get_json()["items"]] == ["pending"] * 2
    assert [e.to_status for e in rows.events(a)] == [Status.SPAM, Status.PENDING]
    stale = api.bulk({"decisions": [{"id": a, "action": "spam", "version": 1}]})
    assert stale.status_code == 409
    assert rows.get(a).status is Status.PENDING


def test_a_comment_back_to_pending_is_no_retraining_label(app, api, rows):
    from moderation.retraining.labels import moderator_labels

    comment_id = rows.add()
    api.decide(comment_id, "spam")
    with db.new_session(app) as s:
        assert moderator_labels(s, [comment_id]) == {comment_id: True}
    api.decide(comment_id, "pending")
    with db.new_session(app) as s:
        assert moderator_labels(s, [comment_id]) == {}


def test_openapi_lists_pending_as_an_action(client):
    document = client.get("/api/v1/openapi.json").get_json()
    decide = document["paths"]["/api/v1/comments/{comment_id}/{action}"]["post"]
    action = next(p for p in decide["parameters"] if p["name"] == "action")
    assert "pending" in action["schema"]["enum"]
    item = document["components"]["schemas"]["BulkDecisionItem"]
    text = str(item) + str(document["components"]["schemas"].get("Action", ""))
    assert "pending" in text


# --- sorts and triage filters ---


def walk(api: Any, **params: Any) -> list[int]:
    """Follow next_cursor through every page; return the ids in the order served."""
    seen: list[int] = []
    cursor = None
    while True:
        response = api.queue(**params, **({"cursor": cursor} if cursor else {}))
        seen += ids(response)
        cursor = response.get_json()["next_cursor"]
        if cursor is None:
            return seen


def set_scores(app: Flask, scores: dict[int, float | None]) -> None:
    with db.new_session(app, write=True) as s:
        for comment_id, score in scores.items():
            s.get(Comment, comment_id).spam_score = score
        s.commit()


def test_each_sort_pages_through_every_comment_once_in_its_order(app, api, rows):
    same_time = T0 + timedelta(days=1)
    made = [rows.add() for _ in range(4)] + [rows.add(at=same_time) for _ in range(3)]
    rows.add(Status.SPAM)  # another status: never listed
    scores = dict(zip(made, [0.5, None, 0.9, 0.5, 0.1, None, 0.5], strict=True))
    set_scores(app, scores)
    by_time = sorted(made, key=lambda i: (rows.get(i).created_at, i))
    assert walk(api, limit=2) == list(reversed(by_time))
    assert walk(api, limit=2, sort="newest") == list(reversed(by_time))
    assert walk(api, limit=2, sort="oldest") == by_time
    by_score = sorted(made, key=lambda i: (scores[i] if scores[i] is not None else -1, i))
    assert walk(api, limit=3, sort="score") == list(reversed(by_score))
    body = api.queue(sort="score", limit=2).get_json()
    assert body["sort"] == "score"


def test_a_cursor_of_another_sort_is_refused(api, rows):
    for _ in range(3):
        rows.add()
    cursor = api.queue(limit=1, sort="score").get_json()["next_cursor"]
    response = api.queue(limit=1, sort="oldest", cursor=cursor)
    assert response.status_code == 422
    assert "cursor" in response.get_json()["errors"]
    old_style = api.queue(limit=1).get_json()["next_cursor"]  # newest keeps its old form
    assert base64.urlsafe_b64decode(old_style + "==").decode().count("|") == 1
    assert api.queue(limit=1, cursor=old_style).status_code == 200


@pytest.mark.parametrize(
    "cursor",
    ["score|nan|3", "score|2.5|3", "score|0.5|0", "oldest|2025-01-01T00:00:00|3", "later|x|1"],
)
def test_bad_sorted_cursors_are_400(api, rows, cursor):
    rows.add()
    raw = base64.urlsafe_b64encode(cursor.encode()).decode().rstrip("=")
    response = api.queue(cursor=raw, sort=cursor.split("|")[0].replace("later", "newest"))
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_filters_by_author_ip_and_reason_across_sites(api, rows):
    mine = rows.add(author_email="troll@example.org", author_ip="203.0.113.9")
    elsewhere = rows.add(Status.SPAM, site="other-blog", author_email="troll@example.org")
    rows.add(author_ip="203.0.113.9")
    other = rows.add()
    assert set(walk(api, status="all", author="troll@example.org")) == {mine, elsewhere}
    body = api.queue(status="all", author="troll@example.org").get_json()
    assert body["counts"] == {"pending": 1, "approved": 0, "rejected": 0, "spam": 1}
    assert len(walk(api, ip="203.0.113.9")) == 2
    assert walk(api, ip="2001:db8::1") == []
    with db.new_session(api_app(rows), write=True) as s:
        s.get(Comment, other).reasons = [
            {"code": "links", "detail": "3 links"},
            {"code": "hold_score", "detail": "0.7"},
        ]
        s.commit()
    assert walk(api, reason="hold_score") == [other]
    assert walk(api, reason="first_comment", sort="oldest") == [mine, mine + 2]


def api_app(rows: Rows) -> Flask:
    return rows.app


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "random"}, "sort"),
        ({"reason": "nonsense"}, "reason"),
        ({"ip": "not-an-ip"}, "ip"),
        ({"author": "x" * 101}, "author"),
    ],
)
def test_bad_triage_params_are_422(api, rows, params, field):
    response = api.queue(**params)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_the_pending_count_is_exact_past_the_count_limit(app, api, rows):
    app.config["QUEUE_COUNT_LIMIT"] = 3
    for _ in range(5):
        rows.add()
    for _ in range(4):
        rows.add(Status.SPAM)
    counts = api.queue(limit=1).get_json()["counts"]
    assert counts["pending"] == 5
    assert counts["spam"] == 3  # capped: "at least 3"


def test_openapi_documents_sorts_and_triage_filters(client):
    document = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"]: p for p in document["paths"]["/api/v1/queue"]["get"]["parameters"]}
    assert params["sort"]["schema"]["enum"] == ["newest", "oldest", "score"]
    assert "hold_score" in params["reason"]["schema"]["enum"]
    for name in ("author", "ip", "reason", "sort", "cursor", "status", "site", "post_id", "q"):
        assert params[name]["in"] == "query"
    assert "sort" in document["components"]["schemas"]["QueuePageOut"]["properties"]


def test_a_text_search_caps_the_pending_count_too(app, api, rows):
    app.config["QUEUE_COUNT_LIMIT"] = 2
    for _ in range(4):
        rows.add(content_raw="Same words here.")
    body = api.queue(q="same words").get_json()
    assert body["counts"]["pending"] == 2  # at least 2
    assert body["exact_counts"] == []
    plain = api.queue().get_json()
    assert plain["counts"]["pending"] == 4
    assert plain["exact_counts"] == ["pending"]
