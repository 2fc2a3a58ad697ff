"""Re-scoring comments held while no classifier could score them; moderators always win."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from moderation import db
from moderation import rescore
from moderation.classifier import HOLDER
from moderation.classifier import Doc
from moderation.classifier import get_holder
from moderation.settings import load_settings
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import Status
from moderation.tables import User
from moderation.tables import utcnow
from tests.test_classifier import READER_WITH_LINK
from tests.test_classifier import import_shipped
from tests.test_training import model_cli  # noqa: F401 (a fixture)

SPAM_TEXT = "Check out my channel and subscribe, free iPhone giveaway!!! http://bit.ly/2xyz"
READER_TEXT = "Thanks for the clear write-up, the second example helped me a lot."


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Re-score on load (the default) and no flood window (one author posts twice)."""
    return {**app_config, "CLASSIFIER_RESCORE_ON_LOAD": True, "FLOOD_SECONDS": 0}


def post_held(site_api: Any, content: str, **fields: Any) -> int:
    """Post a comment while no classifier is active; return its id (held, unscored)."""
    response = site_api.post(content=content, **fields)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "pending"
    assert body["spam_score"] is None
    assert [r["code"] for r in body["reasons"]] == ["classifier_unavailable"]
    return body["id"]


def comment(app: Flask, comment_id: int) -> Comment:
    """Return a comment as stored now."""
    with db.new_session(app) as s:
        return s.get(Comment, comment_id)


def audit_actors(app: Flask, comment_id: int) -> list[tuple[str, Status]]:
    """Return (actor, to_status) of a comment's audit events, oldest first."""
    with db.new_session(app) as s:
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.comment_id == comment_id).order_by(AuditEvent.id)
        )
        return [(e.actor, e.to_status) for e in events]


def moderate(client: Any, creds: Any, comment_id: int, action: str) -> None:
    """Approve, reject or mark spam as the moderator, through the API."""
    response = client.post(
        f"/api/v1/comments/{comment_id}/{action}", json={}, headers=creds.headers("moderator")
    )
    assert response.status_code == 200, response.get_json()


def run(app: Flask) -> rescore.RescoreResult:
    """Re-score every held comment with the app's holder."""
    with app.app_context():
        holder = get_holder()
        holder.rescore_on_load = False
        return rescore.run_rescore(app, holder.score, batch=2)


def test_held_comments_are_decided_again_once_a_classifier_is_back(app, client, creds, site_api):
    spam = post_held(site_api, SPAM_TEXT)
    reader = post_held(site_api, READER_TEXT)
    known = post_held(site_api, "First comment from a regular.", author_email="reg@example.org")
    moderate(client, creds, known, "approve")
    regular = post_held(site_api, READER_TEXT + " Again!", author_email="reg@example.org")
    version = import_shipped(app)

    result = run(app)

    assert result.rescored == 3
    assert result.statuses == {"spam": 1, "pending": 1, "approved": 1}
    after = {cid: comment(app, cid) for cid in (spam, reader, regular)}
    assert after[spam].status is Status.SPAM
    assert after[reader].status is Status.PENDING  # scored low, but a first comment waits
    assert after[regular].status is Status.APPROVED  # a known author
    for c in after.values():
        assert c.classifier_version == version
        assert c.spam_score is not None
        codes = [r["code"] for r in c.reasons]
        assert "classifier_unavailable" not in codes
        assert {"spam_score", "low_score"} & set(codes)
    assert audit_actors(app, spam)[-1] == ("classifier", Status.SPAM)
    assert len(audit_actors(app, reader)) == 1  # status unchanged: no event
    assert run(app).rescored == 0  # nothing is held any more


def test_a_rescored_comment_is_held_when_only_its_link_makes_it_spam(app, site_api):
    held = post_held(site_api, READER_WITH_LINK)
    import_shipped(app)

    assert run(app).rescored == 1
    after = comment(app, held)
    assert after.status is Status.PENDING
    assert [r["code"] for r in after.reasons if "features" in r] == ["links_alone"]
    assert after.spam_score >= 0.9
    assert after.spam_score_without_links < 0.5


@pytest.mark.parametrize("action", ["approve", "reject", "spam", "pending note"])
def test_a_moderators_decision_is_never_overridden(app, client, creds, site_api, action):
    held = post_held(site_api, SPAM_TEXT if action == "approve" else READER_TEXT)
    if action == "pending note":  # a moderator touched it without changing the status
        with db.new_session(app, write=True) as s:
            user = s.scalar(select(User).where(User.email == "mod@example.org"))
            s.add(
                AuditEvent(
                    comment_id=held,
                    actor=user.email,
                    user_id=user.id,
                    at=utcnow(),
                    from_status=Status.PENDING,
                    to_status=Status.PENDING,
                    note="checking with the author",
                )
            )
            s.commit()
    else:
        moderate(client, creds, held, action)
    before = comment(app, held)
    import_shipped(app)

    assert run(app).rescored == 0
    after = comment(app, held)
    assert (after.status, after.spam_score, after.version) == (
        before.status,
        None,
        before.version,
    )


def test_a_moderator_racing_the_rescore_wins(app, client, creds, site_api):
    held = post_held(site_api, SPAM_TEXT)
    import_shipped(app)
    holder = app.extensions[HOLDER]  # no app context: the API request pushes its own
    holder.rescore_on_load = False
    with db.new_session(app, write=True) as s:
        settings = load_settings(s)
        [stale] = rescore.held_comments(s)
        s.commit()  # the re-score read it; now the moderator acts before it writes
        moderate(client, creds, held, "approve")
        score = holder.score(rescore.doc_of(stale))
        assert rescore.apply_score(s, stale, score, settings) is None
        s.commit()
    after = comment(app, held)
    assert after.status is Status.APPROVED
    assert after.spam_score is None


def test_the_holder_starts_the_rescore_when_a_classifier_comes_back(app, site_api):
    held = post_held(site_api, SPAM_TEXT)
    import_shipped(app)
    with app.app_context():
        holder = get_holder()
        holder.score(Doc("the first score loads the version"))
        assert holder.rescore_thread is not None
        holder.rescore_thread.join(timeout=30)
        assert not holder.rescore_thread.is_alive()
    assert comment(app, held).status is Status.SPAM


def test_flask_model_rescore(app, model_cli, site_api):  # noqa: F811 (the fixture)
    held = post_held(site_api, SPAM_TEXT)
    unavailable = model_cli.invoke(args=["model", "rescore"])
    assert unavailable.exit_code != 0
    assert "no classifier can score" in unavailable.output
    import_shipped(app)
    result = model_cli.invoke(args=["model", "rescore"])
    assert result.exit_code == 0, result.output
    assert 're-scored 1 held comments (0 changed meanwhile, skipped): {"spam": 1}' in result.output
    assert comment(app, held).status is Status.SPAM
