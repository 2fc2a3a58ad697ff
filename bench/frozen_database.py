"""A frozen PostgreSQL under gunicorn: how fast the 503s come, how soon service resumes.

Starts a PostgreSQL of its own (initdb in a temporary folder, a free port; as the postgres
user when run as root) and gunicorn with gunicorn.conf.py (2 workers), posts comments,
SIGSTOPs every PostgreSQL process, measures the answers (POST /api/v1/comments, /readyz,
/healthz), SIGCONTs and measures the time to the first 201. Then password guessing:
what 30 guesses on 30 accounts from one address get, and 30 addresses on one account.

    .venv/bin/python bench/frozen_database.py
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from moderation import create_app  # noqa: E402
from moderation import db  # noqa: E402
from moderation.accounts import create_site  # noqa: E402
from moderation.accounts import create_user  # noqa: E402
from moderation.cli.database import import_default_classifier  # noqa: E402
from moderation.tables import Role  # noqa: E402
from tests.own_postgres import OwnPostgres  # noqa: E402
from tests.own_postgres import free_port  # noqa: E402


def call(port: int, method: str, path: str, body: dict | None = None, key: str = "") -> tuple:
    """Return (status, seconds) of one request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    started = time.monotonic()
    try:
        conn.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    except OSError as exc:
        return type(exc).__name__, time.monotonic() - started
    finally:
        conn.close()


def comment(n: int) -> dict:
    return {
        "post_id": "bench",
        "author_name": "Bench",
        "author_email": f"b{n}@example.org",
        "content": f"Comment number {n}, posted to measure.",
        "author_ip": f"198.51.100.{n % 250 + 1}",
    }


def frozen(server: OwnPostgres) -> None:
    engine = create_engine(server.url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    app = create_app({"DATABASE_URL": server.url, "SECRET_KEY": "bench"})
    db.upgrade(app)
    import_default_classifier(app)
    with app.app_context(), db.new_session(app, write=True) as s:
        _, key = create_site(s, "bench")
        s.commit()
    port = free_port()
    env = {**os.environ, "MODERATION_DATABASE_URL": server.url, "MODERATION_SECRET_KEY": "b"}
    log = open(os.devnull, "w")  # noqa: SIM115
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind",
         f"127.0.0.1:{port}", "--access-logfile", "-", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=log,
    )  # fmt: skip
    try:
        while call(port, "GET", "/healthz")[0] != 200:
            time.sleep(0.2)
        ok = [call(port, "POST", "/api/v1/comments", comment(n), key) for n in range(20)]
        print(f"before: {sum(s == 201 for s, _ in ok)}/20 posts 201")
        server.freeze()
        rows = []
        for n in range(100, 110):
            rows.append(("POST /api/v1/comments", *call(port, "POST", "/api/v1/comments",
                                                        comment(n), key)))  # fmt: skip
        for _ in range(3):
            rows.append(("GET /readyz", *call(port, "GET", "/readyz")))
        for _ in range(5):
            rows.append(("GET /healthz", *call(port, "GET", "/healthz")))
        print("\nfrozen (SIGSTOP), one request at a time:")
        print("| request | status | seconds |\n|---|---|---|")
        for name, status, seconds in rows:
            print(f"| {name} | {status} | {seconds:.3f} |")
        posts = [s for name, _, s in rows if name.startswith("POST")]
        print(
            f"POST while frozen: max {max(posts):.3f} s, median {statistics.median(posts):.3f} s"
        )
        server.thaw()
        thawed = time.monotonic()
        n = 200
        while call(port, "POST", "/api/v1/comments", comment(n), key)[0] != 201:
            n += 1
        print(f"\nafter SIGCONT: first 201 after {time.monotonic() - thawed:.3f} s")
    finally:
        server.thaw()
        gunicorn.terminate()
        gunicorn.wait(30)
        app.extensions[db.ENGINE].dispose()


def guessing(server: OwnPostgres) -> None:
    from tests.test_login import PageUser

    app = create_app({"DATABASE_URL": server.url, "SECRET_KEY": "bench"})
    with app.app_context(), db.new_session(app, write=True) as s:
        for n in range(30):
            create_user(s, f"user{n}@example.org", "a long password", Role.MODERATOR)
        s.commit()
    one_address = [(f"user{n}@example.org", "203.0.113.9") for n in range(30)]
    one_account = [("user0@example.org", f"203.0.113.{n + 20}") for n in range(30)]
    for label, pairs in (
        ("30 accounts from one address", one_address),
        ("one account from 30 addresses", one_account),
    ):
        page = PageUser(app.test_client())
        started = time.monotonic()
        statuses = [
            page.login(email, "guess", environ_base={"REMOTE_ADDR": address}).status_code
            for email, address in pairs
        ]
        elapsed = time.monotonic() - started
        checked = statuses.count(401)
        print(f"{label}: {checked} passwords checked, {statuses.count(429)} refused (429),"
              f" {elapsed:.2f} s")  # fmt: skip
    app.extensions[db.ENGINE].dispose()


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="moderation-bench-pg-"))
    server = OwnPostgres(folder)
    try:
        server.start()
        frozen(server)
        print()
        guessing(server)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
