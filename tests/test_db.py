"""The database layer: the migrations build exactly the tables the code declares."""

from __future__ import annotations

import sqlite3
import threading
import warnings
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy import text

from moderation import db
from moderation.tables import Base


def test_the_migrations_build_the_tables_the_code_declares(app):
    # The suite's database was built by `db.upgrade` (SQLite, or PostgreSQL in CI): a column
    # added to tables.py without its migration shows up here as a difference.
    with app.extensions[db.ENGINE].connect() as conn, warnings.catch_warnings():
        # Expression indexes (the trigram search, the one-open-job rule) cannot be reflected
        # and compared; alembic says so with a warning and skips them.
        warnings.simplefilter("ignore")
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []


def test_sqlite_connections_read_the_database_through_a_memory_map(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'mapped.sqlite'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA mmap_size").scalar_one() == db.SQLITE_MMAP_BYTES
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    engine.dispose()


def test_sqlite_requests_one_after_another_reuse_the_last_connection(tmp_path):
    # Its page cache is still good; a connection that another one's commit went past
    # drops its whole cache and reads the pages back from the WAL.
    engine = db.make_engine(f"sqlite:///{tmp_path / 'lifo.sqlite'}")
    with engine.connect() as first, engine.connect() as second:  # the pool now holds two
        assert first.connection.dbapi_connection is not second.connection.dbapi_connection
    used = []
    for _ in range(4):
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            used.append(conn.connection.dbapi_connection)
    assert all(connection is used[0] for connection in used)
    engine.dispose()


def test_only_requests_carry_the_postgresql_timeouts(app):
    # A request's statements are bounded; CLI commands and jobs (outside a request) are not.
    if app.extensions[db.ENGINE].dialect.name != "postgresql":
        pytest.skip("PostgreSQL's statement and lock timeouts: runs in the PostgreSQL pass")
    show = text("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')")
    with db.new_session(app) as session:
        assert tuple(session.execute(show).one()) == ("0", "0")
    with app.test_request_context("/"), db.new_session(app) as session:
        assert tuple(session.execute(show).one()) == ("1500ms", "1s")


def test_a_sqlite_writer_waits_for_the_lock_and_gives_up_after_the_busy_timeout(tmp_path):
    path = tmp_path / "locked.sqlite"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    writer = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        db.begin_immediate(writer, busy=0.05)
    assert writer.execute("PRAGMA busy_timeout").fetchone() == (50,)  # given back
    releases = threading.Timer(0.2, lambda: holder.execute("COMMIT"))
    releases.start()
    db.begin_immediate(writer, busy=5.0)  # waits for the commit, then holds the lock
    writer.execute("INSERT INTO t VALUES (1)")
    writer.execute("COMMIT")
    releases.join()
    assert holder.execute("SELECT x FROM t").fetchall() == [(1,)]


def sqlite_at(path: Path, revision: str) -> tuple[Engine, Config]:
    """Return a SQLite database file migrated to `revision`, and its Alembic config."""
    url = f"sqlite:///{path}"
    engine = db.make_engine(url)
    cfg = db.alembic_config(url)
    cfg.attributes["engine"] = engine
    command.upgrade(cfg, revision)
    return engine, cfg


def test_the_sqlite_rebuild_of_comments_keeps_rows_keys_and_indexes(tmp_path):
    # Migration 0020 rebuilds SQLite's comments table (whatever database the suite runs on).
    engine, cfg = sqlite_at(tmp_path / "rebuild.sqlite", "0019")
    schema = "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'comments' AND type = 'index'"
    with engine.begin() as conn:
        indexes = sorted(conn.exec_driver_sql(schema).all())
        conn.exec_driver_sql(
            "INSERT INTO sites (id, name, key_hash, key_prefix, created_at)"
            " VALUES (1, 'blog', 'h', 'msk_', '2026-01-01')"
        )
        for n, parent in ((1, None), (2, 1), (3, None)):
            conn.exec_driver_sql(
                "INSERT INTO comments (id, site_id, post_id, parent_id, author_name,"
                " author_email, content_raw, content_html, status, reasons, version,"
                " created_at, updated_at) VALUES (?, 1, 'p', ?, 'A', 'a@example.org', 't',"
                " 't', 'pending', '[]', 1, '2026-01-01', '2026-01-01')",
                (n, parent),
            )
        conn.exec_driver_sql(
            "INSERT INTO audit_events (comment_id, actor, at, to_status, note)"
            " VALUES (2, 'site:blog', '2026-01-01', 'pending', 'received')"
        )
    command.upgrade(cfg, "head")
    with engine.begin() as conn:
        assert (
            "AUTOINCREMENT"
            in conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'comments'"
            ).scalar_one()
        )
        assert sorted(conn.exec_driver_sql(schema).all()) == indexes
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert conn.exec_driver_sql("SELECT id, parent_id FROM comments ORDER BY id").all() == [
            (1, None),
            (2, 1),
            (3, None),
        ]
        assert conn.exec_driver_sql("SELECT comment_id FROM audit_events").all() == [(2,)]
        conn.exec_driver_sql("DELETE FROM comments WHERE id = 3")
        conn.exec_driver_sql(
            "INSERT INTO comments (site_id, post_id, author_name, author_email, content_raw,"
            " content_html, status, reasons, version, created_at, updated_at) VALUES (1, 'p',"
            " 'B', 'b@example.org', 't', 't', 'pending', '[]', 1, '2026-01-02', '2026-01-02')"
        )
        assert conn.exec_driver_sql("SELECT max(id) FROM comments").scalar_one() == 4
    command.downgrade(cfg, "0019")  # keeps the ids unique; upgrading again changes nothing
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        assert sorted(conn.exec_driver_sql(schema).all()) == indexes
    engine.dispose()


def test_the_sqlite_fan_out_cursor_starts_before_the_first_waiting_event(tmp_path):
    # Migration 0021: SQLite's waiting events become those past the cursor, the table
    # AUTOINCREMENT, msg_id without its unique index; a downgrade flags them again.
    engine, cfg = sqlite_at(tmp_path / "cursor.sqlite", "0020")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO sites (id, name, key_hash, key_prefix, created_at)"
            " VALUES (1, 'blog', 'h', 'msk_', '2026-01-01')"
        )
        for n, waiting in ((1, False), (2, False), (3, True), (4, True)):
            conn.exec_driver_sql(
                "INSERT INTO webhook_events (id, msg_id, site_id, comment_id, type, payload,"
                " created_at, endpoint_ids, fanout_pending) VALUES (?, ?, 1, ?,"
                " 'comment.created', '{}', '2026-01-01', '[]', ?)",
                (n, f"msg_{n}", n, waiting),
            )
    waiting = "SELECT id FROM webhook_events WHERE fanout_pending ORDER BY id"
    cursor = "SELECT event_id FROM webhook_fanout_cursor"
    unique = "SELECT name FROM sqlite_master WHERE name = 'uq_webhook_events_msg_id'"
    command.upgrade(cfg, "head")
    with engine.begin() as conn:
        assert conn.exec_driver_sql(cursor).all() == [(2,)]
        assert conn.exec_driver_sql(waiting).all() == []  # SQLite no longer flags
        table = "SELECT sql FROM sqlite_master WHERE name = 'webhook_events'"
        assert "AUTOINCREMENT" in conn.exec_driver_sql(table).scalar_one()
        assert conn.exec_driver_sql(unique).all() == []
        assert conn.exec_driver_sql("SELECT count(*) FROM webhook_events").scalar_one() == 4
        conn.exec_driver_sql("UPDATE webhook_fanout_cursor SET event_id = 3")  # one made
    command.downgrade(cfg, "0020")
    with engine.begin() as conn:
        assert conn.exec_driver_sql(waiting).all() == [(4,)]
        assert conn.exec_driver_sql(unique).all() == [("uq_webhook_events_msg_id",)]
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        assert conn.exec_driver_sql(cursor).all() == [(3,)]
        assert conn.exec_driver_sql(unique).all() == []
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    engine.dispose()
