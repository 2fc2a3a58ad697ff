"""Shared fixtures: the app on SQLite or PostgreSQL, clients, the shared corpora, a browser."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from moderation import create_app
from moderation import db
from moderation.accounts import create_site
from moderation.accounts import create_user
from moderation.accounts import issue_token
from moderation.tables import AuditEvent
from moderation.tables import Base
from moderation.tables import Role

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"
CHROMIUM = os.environ.get("MODERATION_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def shared_path(*parts: str) -> Path:
    """Return a path under ../shared, skipping the test with a reason when it is absent."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared corpora/vectors live beside the project")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Yield a headless Debian Chromium driven by Playwright (never a downloaded build)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# --- the application on a real database ---

POSTGRES_URL = os.environ.get("MODERATION_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Return a migrated database: PostgreSQL when MODERATION_TEST_DATABASE_URL is set."""
    if POSTGRES_URL:
        url = POSTGRES_URL
        engine = db.make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = "sqlite:///" + str(tmp_path_factory.mktemp("db") / "moderation.sqlite")
    queue = "sqlite:///" + str(tmp_path_factory.mktemp("queue") / "queue.sqlite")
    migrate = create_app({"TESTING": True, "DATABASE_URL": url, "QUEUE_URL": queue})
    db.upgrade(migrate)
    migrate.extensions[db.ENGINE].dispose()
    return url


def empty_tables(app: Flask) -> None:
    """Delete every row so each test starts from an empty, migrated database."""
    engine = app.extensions[db.ENGINE]
    names = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
        else:
            for name in names:
                conn.execute(text(f"DELETE FROM {name}"))  # noqa: S608 (table names)
            conn.execute(text("DELETE FROM sqlite_sequence"))  # ids restart, as on PostgreSQL


def base_config(database_url: str, directory: Path) -> dict[str, Any]:
    """Return the test configuration of an app whose files live in `directory`."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "CLASSIFIER_POLL_SECONDS": 0.0,
        "SETTINGS_TTL_SECONDS": 0.0,
        # No background re-score thread after a classifier loads (test_rescore.py tests it).
        "CLASSIFIER_RESCORE_ON_LOAD": False,
        # Training jobs stay queued unless a test runs them (tests/test_jobs.py does).
        "JOB_RUNNER": "none",
        # Cheap hashing keeps fixtures fast; production uses werkzeug's scrypt default.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "ARTIFACTS_DIR": str(directory / "artifacts"),
        # The task queue: a SQLite file of this test's own; no worker runs it unless a
        # test starts one (tests/worker_support.py).
        "QUEUE_URL": "sqlite:///" + str(directory / "queue.sqlite"),
    }


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    """Return the test configuration; tests may change it before `app` is built."""
    return base_config(database_url, tmp_path)


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """Yield the app on an emptied, migrated database."""
    application = create_app(app_config)
    empty_tables(application)
    yield application
    application.extensions[db.ENGINE].dispose()


def audit_events(app: Flask, comment_id: int) -> list[AuditEvent]:
    """Return a comment's audit events, oldest first (each read in a session of its own)."""
    with db.new_session(app) as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.comment_id == comment_id)
                .order_by(AuditEvent.id)
            )
        )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Return a test client speaking real HTTP semantics through the WSGI stack."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """Return a runner for the flask CLI commands."""
    return app.test_cli_runner()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """Yield a database session for arranging and checking rows directly.

    No app context is pushed: one held open would make every request of the test share
    its `g`. End each transaction (commit or rollback) before the app writes: on SQLite
    this session holds the write lock while a transaction is open.
    """
    with db.new_session(app, write=True) as s:
        yield s


@dataclass
class Credentials:
    """Bearer secrets for the callers a test needs."""

    site_key: str
    other_site_key: str
    moderator_token: str
    admin_token: str

    def headers(self, who: str) -> dict[str, str]:
        """Return the Authorization header for 'site', 'other_site', 'moderator' or 'admin'."""
        secret = {
            "site": self.site_key,
            "other_site": self.other_site_key,
            "moderator": self.moderator_token,
            "admin": self.admin_token,
        }[who]
        return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def creds(app: Flask) -> Credentials:
    """Create two sites, a moderator and an admin, and return their secrets."""
    with app.app_context(), db.new_session(app, write=True) as s:
        _, site_key = create_site(s, "blog")
        _, other_key = create_site(s, "other-blog")
        moderator = create_user(s, "mod@example.org", "mod-password", Role.MODERATOR)
        admin = create_user(s, "admin@example.org", "admin-password", Role.ADMIN)
        result = Credentials(site_key, other_key, issue_token(s, moderator), issue_token(s, admin))
        s.commit()
    return result


def comment_payload(**overrides: Any) -> dict[str, Any]:
    """Return a valid comment body, with fields replaced or (value None) removed."""
    body: dict[str, Any] = {
        "post_id": "hello-world",
        "author_name": "Ada Lovelace",
        "author_email": "ada@example.org",
        "content": "Thanks for the clear write-up, it helped me a lot.",
        "author_ip": "203.0.113.7",
    }
    return overridden(body, overrides)


def overridden(body: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return the body with fields replaced, or removed where the override is None."""
    body = dict(body)
    for key, value in overrides.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


class SiteApi:
    """Post comments as a site (the helper-object pattern of flaskr's AuthActions)."""

    def __init__(self, client: FlaskClient, creds: Credentials) -> None:
        self.client = client
        self.creds = creds
        self._n = 0

    def post(self, who: str = "site", **overrides: Any) -> Any:
        """POST a comment as JSON; distinct IP and email per call unless given."""
        self._n += 1
        unique = {
            "author_ip": f"198.51.100.{self._n % 250 + 1}",
            "author_email": f"reader{self._n}@example.org",
        }
        body = comment_payload(**{**unique, **overrides})
        return self.client.post("/api/v1/comments", json=body, headers=self.creds.headers(who))


@pytest.fixture
def site_api(client: FlaskClient, creds: Credentials) -> SiteApi:
    """Return the site-posting helper."""
    return SiteApi(client, creds)


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """Serve the test app over real HTTP on a free local port (for the browser tests)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.setLevel(logging.WARNING)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
        logger.setLevel(level)


@pytest.fixture
def browser_timeout_ms() -> int:
    """Return how long a browser test waits for a page state (override per module)."""
    return 8_000


@pytest.fixture
def context(browser: Any, live_server: str, browser_timeout_ms: int) -> Iterator[Any]:
    """Yield a fresh browser context on the live server with a laptop-sized window."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=live_server)
    ctx.set_default_timeout(browser_timeout_ms)
    try:
        yield ctx
    finally:
        ctx.close()
