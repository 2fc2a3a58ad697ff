"""Database engine, one session per request, and schema migrations (Alembic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask import current_app
from flask import g
from flask import has_request_context
from flask import request
from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

ENGINE = "moderation.engine"
SESSIONMAKER = "moderation.sessionmaker"
WRITE_SESSIONMAKER = "moderation.write_sessionmaker"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MIGRATIONS = Path(__file__).with_name("migrations")


LIKE_ESCAPE = "/"


def escape_like(text: str) -> str:
    """Return text matched literally inside a LIKE pattern (with escape=LIKE_ESCAPE)."""
    e = LIKE_ESCAPE
    return text.replace(e, e + e).replace("%", e + "%").replace("_", e + "_")


def make_engine(url: str, connect_timeout: int = 2) -> Engine:
    """Create an engine: SQLite in WAL mode with write transactions begun IMMEDIATE."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 10, "check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=connect_timeout,
        connect_args={"connect_timeout": connect_timeout},
    )


def _configure_sqlite(engine: Engine) -> None:
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
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def init_app(app: Flask) -> None:
    """Create the engine and session factories for this process and close sessions."""
    engine = make_engine(app.config["DATABASE_URL"], app.config["DB_CONNECT_TIMEOUT"])
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
