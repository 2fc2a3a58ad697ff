"""Undo from the audit trail: a moderator's latest decision still current, any page, any tab."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy import update

from moderation import db
from moderation.accounts import create_user
from moderation.accounts import issue_token
from moderation.tables import AuditEvent
from moderation.tables import Role
from moderation.tables import Status
from moderation.tables import utcnow
from tests.test_queue_api import api  # noqa: F401 (a fixture)
from tests.test_queue_api import rows  # noqa: F401 (a fixture)

UNDO = "/api/v1/decisions/undo"


def undo(client: Any, headers: dict[str, str]) -> Any:
    """POST an undo with these credentials."""
    return client.post(UNDO, json={}, headers=headers)


def second_moderator(app: Flask) -> dict[str, str]:
    """Create another moderator; return their Authorization header."""
    with app.app_context(), db.new_session(app, write=True) as s:
        user = create_user(s, "mod2@example.org", "mod2-password", Role.MODERATOR)
        token = issue_token(s, user)
        s.commit()
    return {"Authorization": f"Bearer {token}"}


def status_of(rows: Any, comment_id: int) -> Status:  # noqa: F811
    return rows.get(comment_id).status


def test_undo_walks_back_through_my_decisions_and_is_audited(client, api, rows):  # noqa: F811
    first, second = rows.add(), rows.add()
    assert api.decide(first, "approve").status_code == 200
    assert api.decide(second, "spam").status_code == 200
    assert api.decide(second, "reject").status_code == 200

    answer = undo(client, api.headers)
    assert answer.status_code == 200
    (item,) = answer.get_json()["items"]
    assert item["comment"]["id"] == second
    assert item["comment"]["status"] == "spam"
    last = rows.events(second)[-1]
    assert (last.from_status, last.to_status, last.note) == (Status.REJECTED, Status.SPAM, "undo")

    assert undo(client, api.headers).get_json()["items"][0]["comment"]["status"] == "pending"
    assert status_of(rows, second) is Status.PENDING
    assert undo(client, api.headers).get_json()["items"][0]["comment"]["id"] == first
    assert status_of(rows, first) is Status.PENDING
    nothing = undo(client, api.headers)
    assert nothing.status_code == 404
    assert nothing.mimetype == "application/problem+json"
    assert nothing.get_json()["title"] == "Nothing to undo"


def test_a_bulk_decision_is_undone_as_one(client, api, rows):  # noqa: F811
    ids = [rows.add() for _ in range(3)]
    bulk = api.bulk({"decisions": [{"id": i, "action": "spam"} for i in ids]})
    assert bulk.status_code == 200
    answer = undo(client, api.headers)
    assert answer.status_code == 200
    assert sorted(item["comment"]["id"] for item in answer.get_json()["items"]) == ids
    assert {status_of(rows, i) for i in ids} == {Status.PENDING}


def test_undo_passes_over_what_someone_else_changed_since(app, client, api, rows):  # noqa: F811
    other = second_moderator(app)
    mine_older, taken_over = rows.add(), rows.add()
    assert api.decide(mine_older, "approve").status_code == 200
    assert api.decide(taken_over, "spam").status_code == 200
    # Another moderator approves the comment I marked as spam: not mine to revert any more.
    answer = client.post(f"/api/v1/comments/{taken_over}/approve", json={}, headers=other)
    assert answer.status_code == 200
    # Their undo reaches only their own decision; mine skips the one they took over.
    assert undo(client, api.headers).get_json()["items"][0]["comment"]["id"] == mine_older
    assert status_of(rows, taken_over) is Status.APPROVED
    assert status_of(rows, mine_older) is Status.PENDING
    assert undo(client, api.headers).status_code == 404
    assert undo(client, other).get_json()["items"][0]["comment"]["status"] == "spam"


def test_undo_reaches_back_one_day_only(app, client, api, rows):  # noqa: F811
    comment_id = rows.add()
    assert api.decide(comment_id, "approve").status_code == 200
    with db.new_session(app, write=True) as s:
        s.execute(
            update(AuditEvent)
            .where(AuditEvent.comment_id == comment_id, AuditEvent.user_id.is_not(None))
            .values(at=utcnow() - timedelta(days=1, minutes=1))
        )
        s.commit()
    assert undo(client, api.headers).status_code == 404
    assert status_of(rows, comment_id) is Status.APPROVED


def test_undo_refuses_a_body_with_fields(client, api, rows):  # noqa: F811
    answer = client.post(UNDO, json={"id": 1}, headers=api.headers)
    assert answer.status_code == 422
    with db.new_session(rows.app) as s:
        assert s.scalars(select(AuditEvent).where(AuditEvent.note == "undo")).first() is None
