"""Purging old spam and stale flood marks; erasing a commenter's data (CLI and admin API)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import EventType
from moderation.tables import FloodMark
from moderation.tables import Status
from moderation.tables import WebhookEvent
from moderation.tables import utcnow
from moderation.webhooks.fanout import waits_for_fanout

ERASURES = "/api/v1/admin/erasures"


@pytest.fixture
def comments(app, site_api, session):
    """Post comments and return a function that sets one's status and age."""
    app.config["FLOOD_SECONDS"] = 0  # several comments by one address in a row

    def make(status: Status, days_old: float, **fields) -> int:
        response = site_api.post(content=f"comment {make.n}", **fields)
        make.n += 1
        assert response.status_code == 201, response.get_json()
        comment_id = response.get_json()["id"]
        when = utcnow() - timedelta(days=days_old)
        session.execute(
            update(Comment)
            .where(Comment.id == comment_id)
            .values(status=status, updated_at=when, created_at=when)
        )
        session.commit()
        return comment_id

    make.n = 0
    return make


def ids_left(session) -> set[int]:
    ids = set(session.scalars(select(Comment.id)))
    session.rollback()  # ends the transaction (and the SQLite write lock) it began
    return ids


def test_purge_deletes_old_spam_only(runner, comments, session):
    old_spam = comments(Status.SPAM, 31)
    keep = {
        comments(Status.SPAM, 29),
        comments(Status.PENDING, 400),
        comments(Status.APPROVED, 400),
        comments(Status.REJECTED, 400),
    }
    result = runner.invoke(args=["comments", "purge"])
    assert result.exit_code == 0, result.output
    assert "spam comments deleted: 1" in result.output
    assert ids_left(session) == keep
    events = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.comment_id == old_spam)
    )
    assert events == 0


def test_purge_tells_the_site_which_comments_went(runner, app, client, creds, comments, session):
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = True  # the receiver is never called here
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["comment.erased"]}
    assert (
        client.post("/api/v1/webhooks", json=hook, headers=creds.headers("site")).status_code
        == 201
    )
    old_spam = comments(Status.SPAM, 31, post_id="old-post")
    comments(Status.SPAM, 29)
    result = runner.invoke(args=["comments", "purge"])
    assert result.exit_code == 0, result.output
    events = session.scalars(select(WebhookEvent)).all()
    waits = waits_for_fanout(session, events[0].id)
    session.rollback()
    assert [(e.type, e.payload["data"]["comment"]) for e in events] == [
        (EventType.ERASED, {"id": old_spam, "site": "blog", "post_id": "old-post"})
    ]
    assert waits  # the worker sends it


def test_purge_keeps_spam_that_others_replied_to(runner, comments, session):
    parent = comments(Status.SPAM, 60)
    reply = comments(Status.APPROVED, 1, parent_id=None)
    session.execute(update(Comment).where(Comment.id == reply).values(parent_id=parent))
    session.commit()
    result = runner.invoke(args=["comments", "purge"])
    assert "spam comments kept (others replied to them): 1" in result.output
    assert ids_left(session) == {parent, reply}


def test_purge_deletes_a_chain_of_old_spam_replies(runner, comments, session):
    chain = [comments(Status.SPAM, 60) for _ in range(3)]
    for parent, child in itertools.pairwise(chain):
        session.execute(update(Comment).where(Comment.id == child).values(parent_id=parent))
    session.commit()
    result = runner.invoke(args=["comments", "purge"])
    assert "spam comments deleted: 3" in result.output
    assert ids_left(session) == set()


def test_purge_dry_run_counts_and_deletes_nothing(runner, comments, session):
    kept = {comments(Status.SPAM, 90), comments(Status.SPAM, 45)}
    result = runner.invoke(args=["comments", "purge", "--spam-older-than", "60d", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "spam comments would delete: 1" in result.output
    assert ids_left(session) == kept


def test_purge_deletes_flood_marks_past_their_window(runner, app, session):
    now = utcnow()
    session.add_all(
        [
            FloodMark(key="1:ip:203.0.113.1", last_at=now - timedelta(hours=1)),
            FloodMark(key="1:ip:203.0.113.2", last_at=now),
        ]
    )
    session.commit()
    result = runner.invoke(args=["comments", "purge"])
    assert "flood marks deleted: 1" in result.output
    session.expire_all()
    assert list(session.scalars(select(FloodMark.key))) == ["1:ip:203.0.113.2"]


@pytest.mark.parametrize("duration", ["30", "thirty days", "30w", "-3d", "9999999d"])
def test_purge_refuses_a_bad_duration(runner, duration):
    result = runner.invoke(args=["comments", "purge", "--spam-older-than", duration])
    assert result.exit_code == 2
    assert "is not a duration like 30d" in result.output


def test_admin_erases_every_comment_of_an_address(client, creds, site_api, comments, session):
    gone = [
        comments(Status.APPROVED, 1, author_email="erase.me@example.org"),
        comments(Status.SPAM, 1, author_email="Erase.Me@example.org"),
    ]
    other_site = site_api.post(
        who="other_site", author_email="erase.me@example.org", content="elsewhere"
    )
    gone.append(other_site.get_json()["id"])
    reply = site_api.post(parent_id=gone[0], content="a reply by someone else")
    assert reply.status_code == 201
    own_reply = site_api.post(
        parent_id=gone[0], author_email="erase.me@example.org", content="replying to myself"
    )
    gone.append(own_reply.get_json()["id"])
    bystander = comments(Status.APPROVED, 1)
    their_ips = session.execute(
        select(Comment.site_id, Comment.author_ip).where(Comment.id.in_(gone))
    ).all()
    ip_keys = [f"{site_id}:ip:{ip}" for site_id, ip in their_ips]
    emails = ["1:email:erase.me@example.org", "2:email:erase.me@example.org"]
    for key in [*emails, *ip_keys, "1:ip:x"]:
        session.add(FloodMark(key=key, last_at=utcnow()))
    session.commit()

    response = client.post(
        ERASURES, json={"author_email": "ERASE.ME@example.org"}, headers=creds.headers("admin")
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "comments_deleted": 4,
        "replies_detached": 1,
        "flood_marks_deleted": 2 + len(set(ip_keys)),
    }
    assert ids_left(session) == {reply.get_json()["id"], bystander}
    assert session.get(Comment, reply.get_json()["id"]).parent_id is None
    assert list(session.scalars(select(FloodMark.key))) == ["1:ip:x"]
    events = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.comment_id.in_(gone))
    )
    assert events == 0


def test_the_id_of_an_erased_newest_comment_is_never_given_again(client, creds, site_api):
    # A receiver keyed by comment id must never take a new comment for an erased one.
    site_api.post(content="an older comment")
    newest = site_api.post(author_email="gone@example.org", content="the newest").get_json()
    erased = client.post(
        "/api/v1/admin/erasures",
        json={"author_email": "gone@example.org"},
        headers=creds.headers("admin"),
    )
    assert erased.status_code == 200, erased.get_json()
    after = site_api.post(content="a comment after the erasure").get_json()
    assert after["id"] > newest["id"]


@pytest.mark.parametrize(
    ("posted_as", "erased_as"),
    [("ada_x@example.org", "ADA_X@example.org"), ("Straße@example.org", "straße@example.org")],
    ids=["like-wildcard-in-address", "casefold-differs-from-lower"],
)
def test_erasure_deletes_the_flood_marks_the_intake_wrote(
    client, creds, site_api, session, posted_as, erased_as
):
    assert site_api.post(author_email=posted_as).status_code == 201
    assert site_api.post(author_email="adaxx@example.org").status_code == 201
    response = client.post(
        ERASURES, json={"author_email": erased_as}, headers=creds.headers("admin")
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["flood_marks_deleted"] == 2  # its email and its IP
    left = list(session.scalars(select(FloodMark.key)))
    assert len(left) == 2  # the other commenter's email and IP
    assert any("adaxx@example.org" in key for key in left)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "author_email"),
        ({"author_email": ""}, "author_email"),
        ({"author_email": 42}, "author_email"),
        ({"author_email": "x" * 101}, "author_email"),
        ({"author_email": "a@example.org", "sites": "all"}, "sites"),
    ],
)
def test_erasure_with_a_bad_body_is_422_and_deletes_nothing(
    client, creds, comments, session, body, field
):
    kept = {comments(Status.APPROVED, 1, author_email="a@example.org")}
    response = client.post(ERASURES, json=body, headers=creds.headers("admin"))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]
    assert ids_left(session) == kept


def test_erasure_from_the_cli_asks_for_confirmation(runner, comments, session):
    kept = {comments(Status.APPROVED, 1)}
    comments(Status.APPROVED, 1, author_email="cli@example.org")
    refused = runner.invoke(args=["comments", "erase", "cli@example.org"], input="n\n")
    assert refused.exit_code == 1
    assert len(ids_left(session)) == 2
    result = runner.invoke(args=["comments", "erase", "cli@example.org", "--yes"])
    assert result.exit_code == 0, result.output
    assert "comments deleted: 1" in result.output
    assert ids_left(session) == kept
