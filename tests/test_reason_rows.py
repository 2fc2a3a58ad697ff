"""The reason filter's rows (comment_reasons): kept by every path, served in order, migrated."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy import insert
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.engine import make_url

from moderation import db
from moderation.reason_rows import rows_for
from moderation.tables import Comment
from moderation.tables import CommentReason
from moderation.tables import Site
from moderation.tables import Status
from moderation.tables import utcnow
from tests.conftest import POSTGRES_URL
from tests.test_classifier import import_shipped
from tests.test_queue_api import T0
from tests.test_queue_api import api  # noqa: F401 (a fixture)
from tests.test_queue_api import rows  # noqa: F401 (a fixture)
from tests.test_queue_api import walk
from tests.test_rescore import post_held
from tests.test_rescore import run as rescore_all

Row = tuple[int, str, str, Any, float]


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """No flood window: one author posts several comments in a row."""
    return {**app_config, "FLOOD_SECONDS": 0}


def stored_rows(app: Flask) -> set[Row]:
    """Return every comment_reasons row."""
    with db.new_session(app) as s:
        return {
            (r.comment_id, r.code, str(r.status), r.created_at, r.score)
            for r in s.scalars(select(CommentReason))
        }


def expected_rows(app: Flask) -> set[Row]:
    """Return the rows every comment's JSON reasons, status, time and score call for."""
    with db.new_session(app) as s:
        return {
            (r["comment_id"], r["code"], str(r["status"]), r["created_at"], r["score"])
            for c in s.scalars(select(Comment))
            for r in rows_for(c.id, c.reasons, c.status, c.created_at, c.spam_score)
        }


def in_step(app: Flask) -> set[Row]:
    """Assert the rows match the comments; return them."""
    stored = stored_rows(app)
    assert stored == expected_rows(app)
    return stored


def codes_of(app: Flask, comment_id: int) -> dict[str, str]:
    """Return {code: status} of one comment's rows."""
    return {code: status for cid, code, status, _, _ in stored_rows(app) if cid == comment_id}


def test_every_path_that_sets_reasons_or_status_keeps_the_rows(app, client, creds, site_api):
    moderator = creds.headers("moderator")
    # The intake (a Core insert), held unscored: no classifier is active yet.
    held = [post_held(site_api, f"A reader's comment number {n}.") for n in range(3)]
    in_step(app)
    assert codes_of(app, held[0]) == {"classifier_unavailable": "pending"}
    # A moderator's decision, then a bulk one.
    answer = client.post(f"/api/v1/comments/{held[0]}/spam", json={}, headers=moderator)
    assert answer.status_code == 200, answer.get_json()
    assert codes_of(app, held[0]) == {"classifier_unavailable": "spam"}
    # The re-score once a classifier is back (decisions.apply_verdict).
    import_shipped(app)
    assert rescore_all(app).rescored == 2
    rescored = in_step(app)
    assert "classifier_unavailable" not in codes_of(app, held[1])
    assert all(score >= 0 for cid, _, _, _, score in rescored if cid == held[1])
    # A site's edit decides the comment again.
    edit = client.put(
        f"/api/v1/comments/{held[1]}/content",
        json={"content": "Edited: buy cheap pills http://a.example http://b.example"},
        headers=creds.headers("site"),
    )
    assert edit.status_code == 200, edit.get_json()
    assert in_step(app) != rescored
    bulk = client.post(
        "/api/v1/decisions",
        json={
            "decisions": [
                {"id": held[1], "action": "approve"},
                {"id": held[2], "action": "reject"},
            ]
        },
        headers=moderator,
    )
    assert bulk.status_code == 200, bulk.get_json()
    assert codes_of(app, held[2])
    assert set(codes_of(app, held[2]).values()) == {"rejected"}
    # An import (ORM rows), and a comment checked through Akismet's protocol.
    imported = client.post(
        "/api/v1/imports",
        json={
            "comments": [
                {
                    "id": "wp-1",
                    "post_id": "hello-world",
                    "author_name": "Old Reader",
                    "author_email": "old@example.org",
                    "content": "An old comment.",
                    "status": "spam",
                    "created_at": "2020-01-02T03:04:05Z",
                }
            ]
        },
        headers=creds.headers("site"),
    )
    assert imported.status_code == 200, imported.get_json()
    assert codes_of(app, imported.get_json()["ids"]["wp-1"]) == {"imported": "spam"}
    checked = client.post(
        "/1.1/comment-check",
        data={
            "api_key": creds.site_key,
            "blog": "https://blog.example",
            "user_ip": "192.0.2.55",
            "comment_author": "Bea",
            "comment_author_email": "bea@example.org",
            "comment_content": "A comment checked through the Akismet protocol.",
        },
    )
    assert checked.status_code == 200, checked.get_data(as_text=True)
    # Erasing a commenter deletes their comments and, with them, their rows.
    erased = client.post(
        "/api/v1/admin/erasures",
        json={"author_email": "old@example.org"},
        headers=creds.headers("admin"),
    )
    assert erased.status_code == 200, erased.get_json()
    assert codes_of(app, imported.get_json()["ids"]["wp-1"]) == {}
    final = in_step(app)
    assert len({cid for cid, *_ in final}) == 4  # the three posted and the Akismet one


REASONS = [["a"], ["a", "b"], ["b"], [], ["a", "a"]]  # codes are the filter's, not real ones


def test_the_reason_filter_pages_and_counts_like_the_json_reasons(app, api, rows):  # noqa: F811
    # Real codes, in a spread of statuses, scores (None included) and equal times.
    codes = {"a": "too_many_links", "b": "hold_score"}
    statuses = [Status.PENDING, Status.SPAM, Status.PENDING, Status.APPROVED]
    same_time = T0 + timedelta(days=2)
    made: dict[int, tuple[set[str], Status, Any, float]] = {}
    for n in range(20):
        status = statuses[n % 4]
        at = same_time if n % 3 == 0 else T0 + timedelta(minutes=n)
        reasons = [{"code": codes[c], "detail": "x"} for c in REASONS[n % 5]]
        cid = rows.add(status, at=at)
        score = None if n % 7 == 0 else round((n * 37 % 100) / 100, 2)
        with db.new_session(app, write=True) as s:
            comment = s.get(Comment, cid)
            comment.reasons = reasons
            comment.spam_score = score
            s.commit()
        made[cid] = ({r["code"] for r in reasons}, status, at, -1.0 if score is None else score)
    in_step(app)

    def expected(code: str, status: str, sort: str) -> list[int]:
        chosen = [
            cid
            for cid, (have, st, _, _) in made.items()
            if code in have and (status == "all" or st == status)
        ]
        if sort == "score":
            return sorted(chosen, key=lambda c: (made[c][3], c), reverse=True)
        order = sorted(chosen, key=lambda c: (made[c][2], c))
        return order if sort == "oldest" else order[::-1]

    for code in codes.values():
        for status in ("pending", "spam", "approved", "all"):
            for sort in ("newest", "oldest", "score"):
                served = walk(api, reason=code, status=status, sort=sort, limit=2)
                assert served == expected(code, status, sort), (code, status, sort)
        counts = api.queue(reason=code, status="all").get_json()["counts"]
        assert counts == {str(st): len(expected(code, str(st), "newest")) for st in Status}, code
    # With another filter too (the post): the reason rows meet the comments.
    assert walk(api, reason=codes["a"], status="all", post_id="elsewhere") == []


def test_the_counts_with_a_reason_keep_the_cap_and_the_exact_pending_count(app, api, rows):  # noqa: F811
    app.config["QUEUE_COUNT_LIMIT"] = 3
    held = [{"code": "hold_score", "detail": "0.6"}]
    for status in [Status.PENDING] * 5 + [Status.SPAM] * 4:
        cid = rows.add(status)
        with db.new_session(app, write=True) as s:
            s.get(Comment, cid).reasons = held
            s.commit()
    body = api.queue(reason="hold_score", limit=1).get_json()
    assert body["counts"] == {"pending": 5, "approved": 0, "rejected": 0, "spam": 3}
    assert body["exact_counts"] == ["pending"]


# --- migration 0017 fills the rows of the comments stored before it ---


@pytest.fixture
def bare_url(tmp_path: Path) -> Any:
    """Yield (url, engine) of an empty database of this test's own.

    On PostgreSQL a database beside the suite's (a schema would not do: Alembic would see
    the suite's own version table through the search path).
    """
    if POSTGRES_URL:
        suite = make_url(POSTGRES_URL)
        name = f"{suite.database}_migration"
        server = create_engine(suite, isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = suite.set(database=name).render_as_string(hide_password=False)
        engine = create_engine(url)
        yield url, engine
        engine.dispose()
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        server.dispose()
    else:
        url = "sqlite:///" + str(tmp_path / "migrate.sqlite")
        engine = db.make_engine(url)
        yield url, engine
        engine.dispose()


def migrate(url: str, engine: Any, revision: str, *, down: bool = False) -> None:
    """Run Alembic on `engine` to `revision`."""
    cfg = db.alembic_config(url)
    cfg.attributes["engine"] = engine
    (command.downgrade if down else command.upgrade)(cfg, revision)


def test_the_migration_fills_the_rows_of_existing_comments_and_goes_back(bare_url):
    url, engine = bare_url
    migrate(url, engine, "0013")
    assert "comment_reasons" not in inspect(engine).get_table_names()
    now = utcnow()
    stored = [
        ([{"code": "hold_score", "detail": "0.6"}, {"code": "too_many_links"}], 0.61),
        ([{"code": "hold_score"}, {"code": "hold_score"}], None),  # the same code twice
        ([], 0.1),
        ([{"detail": "no code"}, "not an object", {"code": 7}], 0.2),
    ]
    with engine.begin() as conn:
        conn.execute(
            insert(Site.__table__).values(id=1, name="blog", key_hash="x" * 64, key_prefix="msk_x")
        )
        for n, (reasons, score) in enumerate(stored, start=1):
            conn.execute(
                insert(Comment.__table__).values(
                    id=n,
                    site_id=1,
                    post_id="p",
                    author_name="A",
                    author_email=f"a{n}@example.org",
                    content_raw="t",
                    content_html="t",
                    status="pending" if n != 2 else "spam",
                    spam_score=score,
                    reasons=reasons,
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
    migrate(url, engine, "head")
    with engine.connect() as conn:
        got = sorted(
            conn.execute(
                select(
                    CommentReason.comment_id,
                    CommentReason.code,
                    CommentReason.status,
                    CommentReason.score,
                )
            )
        )
    assert [tuple(r) for r in got] == [
        (1, "hold_score", Status.PENDING, 0.61),
        (1, "too_many_links", Status.PENDING, 0.61),
        (2, "hold_score", Status.SPAM, -1.0),
    ]
    migrate(url, engine, "0013", down=True)
    assert "comment_reasons" not in inspect(engine).get_table_names()
