"""Helpers for tests that need the background worker and a webhook receiver, both real."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parents[1]


def worker_env(app: Flask) -> dict[str, str]:
    """Return the environment that gives `flask worker` this test app's configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_")}
    for key, value in app.config.items():
        if key.isupper() and isinstance(value, str | int | float | bool | type(None)):
            env[f"MODERATION_{key}"] = json.dumps(value)
    env["FLASK_APP"] = "moderation"
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Worker:
    """`flask worker` in a process of its own (its own session, so it can be killed alone)."""

    def __init__(self, app: Flask, log_path: Path, workers: int = 2) -> None:
        self.app = app
        self.log_path = log_path
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        """Start the worker process."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "worker", "--workers", str(self.workers)],
            cwd=ROOT,
            env=worker_env(self.app),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL the worker (no cleanup of any kind) and reap it."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """Stop the worker as Ctrl-C would, or kill it if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        """Return what the worker logged (for assertion messages)."""
        return self.log_path.read_text(errors="replace")[-4000:]


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes
    at: float
    status: int = 0  # what the receiver answered (0: not answered yet)


@dataclass
class Receiver:
    """A real HTTP server on an ephemeral port that records every webhook it gets.

    `answer(received) -> status` decides each reply (default 204); `hold` seconds delay
    every reply. It tracks how many requests for one webhook-id were in flight at once.
    """

    answer: Callable[[Received], int] = lambda _r: 204
    hold: float = 0.0
    received: list[Received] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        """Serve on 127.0.0.1 on a free port, in a thread."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                got = Received(
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                    time.monotonic(),
                )
                msg_id = got.headers.get("webhook-id", "")
                with receiver.lock:
                    receiver.received.append(got)
                    now = receiver.in_flight.get(msg_id, 0) + 1
                    receiver.in_flight[msg_id] = now
                    receiver.max_in_flight[msg_id] = max(
                        now, receiver.max_in_flight.get(msg_id, 0)
                    )
                try:
                    if receiver.hold:
                        time.sleep(receiver.hold)
                    status = receiver.answer(got)
                    got.status = status
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("Location", receiver.url + "/redirected")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                finally:
                    with receiver.lock:
                        receiver.in_flight[msg_id] -= 1

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        """Return the receiver's base URL."""
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        """Stop serving."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def delivered_order(self) -> list[str]:
        """Return the webhook-ids in the order each was first answered 2xx."""
        seen: list[str] = []
        with self.lock:
            for got in self.received:
                msg_id = got.headers.get("webhook-id", "")
                if 200 <= got.status < 300 and msg_id not in seen:
                    seen.append(msg_id)
        return seen

    def bodies(self) -> list[dict[str, Any]]:
        """Return every received body, parsed, in arrival order."""
        with self.lock:
            return [json.loads(r.body) for r in self.received]


def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)
