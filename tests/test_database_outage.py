"""With the database unreachable the API answers 503 + Retry-After fast, then recovers."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from moderation import create_app
from moderation import db
from tests.conftest import comment_payload


class TcpProxy:
    """A loopback TCP forwarder that can be cut off and restored, like a network outage."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.links: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                conn.close()  # refused at once, as a stopped server would
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.links += [conn, upstream]
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones."""
        self.up = False
        with self.lock:
            for link in self.links:
                with contextlib.suppress(OSError):
                    link.shutdown(socket.SHUT_RDWR)
                link.close()
            self.links.clear()

    def restore(self) -> None:
        """Accept and forward connections again."""
        self.up = True

    def close(self) -> None:
        """Stop listening."""
        self.cut()
        self.listener.close()


@pytest.fixture
def outage(app_config: dict[str, Any], creds: Any, tmp_path: Path) -> Any:
    """Yield (app, cut, restore): an app whose database link the test can break."""
    url = make_url(app_config["DATABASE_URL"])
    if url.get_backend_name() == "postgresql":
        proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
        proxied = url.set(host="127.0.0.1", port=proxy.port)
        app = create_app({**app_config, "DATABASE_URL": proxied.render_as_string(False)})
        yield app, proxy.cut, proxy.restore
        proxy.close()
    else:
        # SQLite: the database lives behind a directory link that the test removes.
        real_dir = Path(url.database).parent
        link = tmp_path / "dblink"
        link.symlink_to(real_dir)
        app = create_app(
            {**app_config, "DATABASE_URL": f"sqlite:///{link / Path(url.database).name}"}
        )

        def cut() -> None:
            app.extensions[db.ENGINE].dispose()
            link.unlink()

        def restore() -> None:
            link.symlink_to(real_dir)

        yield app, cut, restore
        if not link.exists():
            restore()
    app.extensions[db.ENGINE].dispose()


def test_database_outage_answers_503_quickly_and_recovers(outage, creds):
    app, cut, restore = outage
    client = app.test_client()
    headers = creds.headers("site")
    assert (
        client.post("/api/v1/comments", json=comment_payload(), headers=headers).status_code == 201
    )

    cut()
    for path in ("/api/v1/comments", "/readyz"):
        started = time.monotonic()
        if path == "/readyz":
            response = client.get(path)
        else:
            body = comment_payload(author_ip="192.0.2.77", author_email="later@example.org")
            response = client.post(path, json=body, headers=headers)
        elapsed = time.monotonic() - started
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.mimetype == "application/problem+json"
        assert int(response.headers["Retry-After"]) > 0
        assert elapsed < 2.5, f"{path} took {elapsed:.2f} s to answer 503"
    assert client.get("/healthz").status_code == 200

    restore()
    body = comment_payload(
        author_ip="192.0.2.78", author_email="back@example.org", content="Back again"
    )
    response = client.post("/api/v1/comments", json=body, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert client.get("/readyz").status_code == 200


def test_unreachable_database_host_is_503_within_two_seconds(app_config, creds):
    if not app_config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("a remote database host exists only with PostgreSQL (runs in the PG pass)")
    # A TCP port whose server never answers: the connect timeout bounds the wait.
    blackhole = socket.create_server(("127.0.0.1", 0))
    port = blackhole.getsockname()[1]
    url = make_url(app_config["DATABASE_URL"]).set(host="127.0.0.1", port=port)
    app = create_app({**app_config, "DATABASE_URL": url.render_as_string(False)})
    started = time.monotonic()
    response = app.test_client().get("/readyz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert elapsed < 2.5, f"took {elapsed:.2f} s"
    blackhole.close()
