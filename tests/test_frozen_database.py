"""A frozen PostgreSQL (SIGSTOP) gives 503 fast and resumes; a killed worker writes nothing."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy import select
from sqlalchemy import text

from moderation import create_app
from moderation import db
from moderation.accounts import create_site
from moderation.cli.database import import_default_classifier
from moderation.tables import AuditEvent
from moderation.tables import Comment
from tests.conftest import POSTGRES_URL
from tests.conftest import comment_payload
from tests.conftest import empty_tables
from tests.own_postgres import OwnPostgres
from tests.own_postgres import free_port

# The issue asks for 503 within 2 s; tests never assert timings that a loaded 2-core
# machine could miss, so this bound only says "it answered, it did not hang" (the
# figures are measured by bench/frozen_database.py).
ANSWERED_WITHIN = 10.0
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[OwnPostgres]:
    """Start a PostgreSQL of this module's own, in the PostgreSQL pass only."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL-only (starts its own server): runs in the PostgreSQL pass")
    folder = Path(tempfile.mkdtemp(prefix="moderation-own-pg-"))
    server = OwnPostgres(folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def frozen_app(own_postgres: OwnPostgres, app_config: dict[str, Any]) -> Iterator[Any]:
    """Yield (app, site key) on the own server, migrated and emptied."""
    engine = create_engine(own_postgres.url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    app = create_app({**app_config, "DATABASE_URL": own_postgres.url})
    db.upgrade(app)
    with app.app_context(), db.new_session(app, write=True) as s:
        _, key = create_site(s, "blog")
        s.commit()
    yield app, key
    app.extensions[db.ENGINE].dispose()


def stored_emails(app: Any) -> set[str]:
    with db.new_session(app) as s:
        return set(s.scalars(select(Comment.author_email)))


def test_frozen_postgresql_answers_503_fast_and_resumes_by_itself(frozen_app, own_postgres):
    app, key = frozen_app
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    acknowledged = set()

    def post(n: int) -> Any:
        body = comment_payload(author_email=f"r{n}@example.org", author_ip=f"192.0.2.{n}")
        started = time.monotonic()
        response = client.post("/api/v1/comments", json=body, headers=headers)
        if response.status_code == 201:
            acknowledged.add(body["author_email"])
        return response, time.monotonic() - started

    assert post(1)[0].status_code == 201
    assert post(2)[0].status_code == 201
    own_postgres.freeze()
    try:
        # The first request finds a pooled connection whose server no longer answers,
        # the next ones must open a connection to it: both kinds of wait are bounded.
        for n in (3, 4, 5):
            response, elapsed = post(n)
            assert response.status_code == 503, response.get_data(as_text=True)
            assert response.mimetype == "application/problem+json"
            assert int(response.headers["Retry-After"]) > 0
            assert elapsed < ANSWERED_WITHIN
        started = time.monotonic()
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert time.monotonic() - started < ANSWERED_WITHIN
        assert client.get("/healthz").status_code == 200
    finally:
        own_postgres.thaw()

    # Service resumes by itself: no restart, no manual reconnect.
    deadline = time.monotonic() + ANSWERED_WITHIN
    n = 10
    while True:
        response, _ = post(n)
        if response.status_code == 201 or time.monotonic() > deadline:
            break
        n += 1
    assert response.status_code == 201, response.get_data(as_text=True)
    assert client.get("/readyz").status_code == 200
    assert acknowledged <= stored_emails(app)  # no acknowledged comment lost


def _gunicorn(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MODERATION_DATABASE_URL": url,
        "MODERATION_SECRET_KEY": "test-secret",
        "MODERATION_JOB_RUNNER": "none",
        "MODERATION_CLASSIFIER_RESCORE_ON_LOAD": "false",
        # This test holds a lock on purpose: the worker must still be waiting when killed.
        "MODERATION_DB_LOCK_TIMEOUT": "60",
        "MODERATION_DB_STATEMENT_TIMEOUT": "60",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "--error-logfile", str(log), "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _worker_pids(master: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def _request(port: int, key: str, n: int, timeout: float = 60) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    body = json.dumps(comment_payload(author_email=f"k{n}@example.org", author_ip=f"192.0.2.{n}"))
    conn.request(
        "POST",
        "/api/v1/comments",
        body=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    return conn


def _wait_for(check: Any, what: str, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_worker_killed_mid_request_leaves_no_half_written_comment(
    frozen_app, own_postgres, tmp_path
):
    app, key = frozen_app
    import_default_classifier(app)
    port = free_port()
    log = tmp_path / "gunicorn.log"
    server = _gunicorn(own_postgres.url, port, log)

    def warmed_up() -> int:
        # gunicorn.conf.py's post_worker_init: the classifier loads before the first request.
        return log.read_text().count("classifier version 1 loaded before serving")

    engine = create_engine(own_postgres.url)
    try:

        def serving() -> bool:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                return conn.getresponse().status == 200
            except OSError:
                return False
            finally:
                conn.close()

        _wait_for(serving, "gunicorn to serve")
        assert warmed_up() == 1
        worker = _worker_pids(server.pid)[0]
        with engine.connect() as blocker:
            # The intake inserts the comment, then its audit event: holding the events
            # table stops the worker between the two, inside its transaction.
            blocker.execute(text("LOCK TABLE audit_events IN EXCLUSIVE MODE"))
            pending = _request(port, key, 1)

            def inserted_and_waiting() -> bool:
                rows = blocker.execute(
                    text(
                        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                        " WHERE c.relname = 'comments' AND l.mode = 'RowExclusiveLock'"
                        " AND l.pid <> pg_backend_pid() AND EXISTS (SELECT 1 FROM pg_locks w"
                        " WHERE w.pid = l.pid AND NOT w.granted)"
                    )
                ).scalar_one()
                return rows > 0

            _wait_for(inserted_and_waiting, "the worker to insert and then wait")
            os.kill(worker, signal.SIGKILL)
            with pytest.raises((http.client.HTTPException, OSError)):
                pending.getresponse()
            pending.close()
            blocker.rollback()  # releases the lock

        # The killed worker's transaction never committed: no comment, no event.
        assert stored_emails(app) == set()
        with db.new_session(app) as s:
            assert s.scalar(select(AuditEvent.id).limit(1)) is None
        # gunicorn replaced the worker, which serves the same request whole.
        _wait_for(lambda: _worker_pids(server.pid) not in ([], [worker]), "a new worker")
        _wait_for(serving, "the new worker to serve")
        assert warmed_up() == 2
        again = _request(port, key, 2)
        response = again.getresponse()
        assert response.status == 201, response.read()
        again.close()
        assert stored_emails(app) == {"k2@example.org"}
    finally:
        engine.dispose()
        server.terminate()
        server.wait(timeout=30)


def test_sqlite_writer_waits_at_most_its_busy_timeout_then_resumes(app_config):
    if POSTGRES_URL:
        pytest.skip("SQLite's busy timeout: runs in the SQLite pass")
    app = create_app({**app_config, "DB_BUSY_TIMEOUT": 0.5})
    empty_tables(app)
    with app.app_context(), db.new_session(app, write=True) as s:
        _, key = create_site(s, "blog")
        s.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    # Another process's writer that never finishes (a stopped worker holding the lock).
    holder = sqlite3.connect(app_config["DATABASE_URL"].removeprefix("sqlite:///"))
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        response = client.post("/api/v1/comments", json=comment_payload(), headers=headers)
        assert response.status_code == 503, response.get_data(as_text=True)
        assert int(response.headers["Retry-After"]) > 0
        assert time.monotonic() - started < ANSWERED_WITHIN
        assert client.get("/healthz").status_code == 200
    finally:
        holder.rollback()
        holder.close()
    response = client.post("/api/v1/comments", json=comment_payload(), headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    app.extensions[db.ENGINE].dispose()
