"""Database engine, one session per request, and schema migrations (Alembic)."""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import TypeVar

import orjson
from flask import Flask
from flask import current_app
from flask import g
from flask import has_request_context
from flask import request
from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

ENGINE = "moderation.engine"
SESSIONMAKER = "moderation.sessionmaker"
WRITE_SESSIONMAKER = "moderation.write_sessionmaker"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MIGRATIONS = Path(__file__).with_name("migrations")
PREPARED = "moderation.prepared_statements"
# SQLite reads the database file through a memory map of up to this size. Each connection
# empties its page cache when another connection has committed (the worker's commits, the
# other web workers'); mapped pages come back without a read() and a copy each. Measured
# with bench/webhooks.py: the intake with a delivering worker lost 8.7-10.6 % instead of
# 14.6-15.7 %. The map is address space, not memory: the kernel shares it between processes.
SQLITE_MMAP_BYTES = 256 * 1024 * 1024
T = TypeVar("T")


LIKE_ESCAPE = "/"


def escape_like(text: str) -> str:
    """Return text matched literally inside a LIKE pattern (with escape=LIKE_ESCAPE)."""
    e = LIKE_ESCAPE
    return text.replace(e, e + e).replace("%", e + "%").replace("_", e + "_")


@dataclass(frozen=True)
class Timeouts:
    """How long a request may wait on the database, in seconds (0: no limit)."""

    connect: float = 1.5  # in a request; libpq itself waits at least 2 s (see connect_within)
    statement: float = 1.5  # server-side statement_timeout, and the wait for any answer
    lock: float = 1.0  # PostgreSQL lock_timeout
    pool: float = 1.0  # waiting for a free pooled connection
    busy: float = 5.0  # SQLite's busy timeout (a writer waits for the write lock)

    @classmethod
    def from_config(cls, config: Any) -> Timeouts:
        """Read MODERATION_DB_*_TIMEOUT from the app's configuration."""
        return cls(
            connect=float(config.get("DB_CONNECT_TIMEOUT", cls.connect)),
            statement=float(config.get("DB_STATEMENT_TIMEOUT", cls.statement)),
            lock=float(config.get("DB_LOCK_TIMEOUT", cls.lock)),
            pool=float(config.get("DB_POOL_TIMEOUT", cls.pool)),
            busy=float(config.get("DB_BUSY_TIMEOUT", cls.busy)),
        )


_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def json_text(value: Any) -> str:
    """Return `value` as compact JSON text: what every JSON column stores.

    orjson writes it in about a tenth of json.dumps's time, which the intake feels in
    its webhook outbox rows. Non-string keys become strings and numpy numbers plain
    numbers, as json.dumps would have them.
    """
    return orjson.dumps(value, option=_JSON_OPTIONS).decode()


def make_engine(url: str, timeouts: Timeouts | None = None) -> Engine:
    """Create an engine whose every wait is bounded (see Timeouts).

    SQLite runs in WAL mode with write transactions begun IMMEDIATE. On PostgreSQL a
    request's statements carry statement and lock timeouts, and the client stops waiting
    for an answer after the statement timeout too: a frozen server (stopped, partitioned)
    answers nothing at all, so only the client can end that wait. Work outside a request
    (CLI, jobs, background threads) runs without statement timeouts.
    """
    timeouts = timeouts or Timeouts()
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            pool_timeout=timeouts.pool,
            # The connection used last goes out first: its page cache is still good. Taken
            # in turn (FIFO), each connection found the others' commits and dropped its
            # whole cache, then read the pages back from the WAL: about 35 reads a comment.
            pool_use_lifo=True,
            json_serializer=json_text,
            connect_args={"timeout": timeouts.busy, "check_same_thread": False},
        )
        _configure_sqlite(engine, timeouts)
        return engine
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=5,
        pool_timeout=timeouts.pool,
        json_serializer=json_text,
        # No pre-ping: a ping to a frozen server would wait too. A dead connection
        # fails once, SQLAlchemy then drops every pooled connection older than it.
        pool_pre_ping=False,
        connect_args={
            "connect_timeout": max(2, math.ceil(timeouts.connect)),
            "options": f"-c statement_timeout={_ms(timeouts.statement)}"
            f" -c lock_timeout={_ms(timeouts.lock)}",
        },
    )
    _configure_postgresql(engine, timeouts)
    return engine


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _configure_postgresql(engine: Engine, timeouts: Timeouts) -> None:
    from moderation.pg_connection import BoundedConnection
    from moderation.pg_connection import connect_within

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        if has_request_context() and timeouts.connect:
            connection = connect_within(timeouts.connect, *cargs, **cparams)
        else:
            connection = BoundedConnection.connect(*cargs, **cparams)
        connection.answer_timeout = timeouts.statement or None
        return connection

    @event.listens_for(engine, "begin")
    def _unbounded_outside_requests(conn: Any) -> None:
        if not has_request_context():  # CLI, jobs, background threads: no statement limit
            conn.exec_driver_sql(  # one round trip (it starts every job transaction)
                "SELECT set_config('statement_timeout', '0', true),"
                " set_config('lock_timeout', '0', true)"
            )


def _configure_sqlite(engine: Engine, timeouts: Timeouts) -> None:
    # pysqlite's own transaction handling defers BEGIN and cannot BEGIN IMMEDIATE; a
    # deferred reader that later writes fails with "database is locked" under WAL
    # without waiting, so writers take the lock when they begin (SQLAlchemy's recipe).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.execute(f"PRAGMA busy_timeout={_ms(timeouts.busy)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("sqlite_write", False):
            try:
                begin_immediate(conn.connection.dbapi_connection, timeouts.busy)
            except sqlite3.OperationalError as error:  # answered as any database error is
                raise OperationalError("BEGIN IMMEDIATE", None, error) from error
        else:
            conn.exec_driver_sql("BEGIN")


def begin_immediate(dbapi_connection: Any, busy: float) -> None:
    """BEGIN IMMEDIATE, polling for the write lock every 0.1 to 2 ms until `busy` seconds pass.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15… ms between tries, so a writer that
    meets another's short transaction (the webhook worker's, say) sleeps far longer than
    the lock was held; polling finely gets the lock soon after it is free.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + busy
        pause = 0.0001
        while True:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise
                if time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.002)
    finally:
        cursor.execute(f"PRAGMA busy_timeout={_ms(busy)}")
        cursor.close()


def init_app(app: Flask) -> None:
    """Create the engine and session factories for this process and close sessions."""
    engine = make_engine(app.config["DATABASE_URL"], Timeouts.from_config(app.config))
    app.extensions[ENGINE] = engine
    app.extensions[SESSIONMAKER] = sessionmaker(engine, expire_on_commit=False)
    app.extensions[WRITE_SESSIONMAKER] = sessionmaker(
        engine.execution_options(sqlite_write=True), expire_on_commit=False
    )
    app.teardown_appcontext(close_session)


def get_session() -> Session:
    """Return this request's session; state-changing requests begin as writers."""
    if "db_session" not in g:
        writer = has_request_context() and request.method not in READ_METHODS
        factory = current_app.extensions[WRITE_SESSIONMAKER if writer else SESSIONMAKER]
        g.db_session = factory()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    """Close the request's session, rolling back anything not committed."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def new_session(app: Flask, *, write: bool = False) -> Session:
    """Return a session outside any request (CLI commands, background jobs)."""
    return app.extensions[WRITE_SESSIONMAKER if write else SESSIONMAKER]()


def on_transaction_end(
    app: Flask,
    after_commit: Callable[[Session], None],
    after_rollback: Callable[[Session], None],
) -> None:
    """Call these after every commit and rollback of the app's sessions (requests and jobs).

    For features that act once a change is durable (wake the worker) and forget what a
    rolled-back transaction noted in `session.info`.
    """
    for key in (SESSIONMAKER, WRITE_SESSIONMAKER):
        event.listen(app.extensions[key], "after_commit", after_commit)
        event.listen(app.extensions[key], "after_rollback", after_rollback)


def prepared(app: Flask, build: Callable[..., T], *args: Any) -> T:
    """Return the statement `build(*args)` makes, built once per app and kept.

    For statements run many times a second (the delivery worker's): building one with
    its subqueries costs more CPU than running it, and a kept statement keeps its cache
    key, so SQLAlchemy finds its compiled form at once. Values go in as bound parameters.
    """
    kept: dict[tuple[Any, ...], Any] = app.extensions.setdefault(PREPARED, {})
    key = (build, *args)
    statement = kept.get(key)
    if statement is None:
        statement = kept[key] = build(*args)  # two threads may both build it: same result
    return statement


def ping(session: Session) -> None:
    """Raise if the database cannot be reached."""
    session.execute(text("SELECT 1"))


def alembic_config(url: str) -> Any:
    """Return the Alembic configuration pointing at this package's migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(app: Flask, revision: str = "head") -> None:
    """Apply the migrations up to `revision`."""
    from alembic import command

    cfg = alembic_config(app.config["DATABASE_URL"])
    cfg.attributes["engine"] = app.extensions[ENGINE]
    command.upgrade(cfg, revision)
