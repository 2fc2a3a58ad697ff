"""Send one signed webhook (Standard Webhooks) to a vetted address; redirects are failures."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from standardwebhooks import Webhook

from moderation.webhooks.addresses import AddressRefused
from moderation.webhooks.addresses import Target
from moderation.webhooks.addresses import check_url
from moderation.webhooks.addresses import resolve
from moderation.webhooks.watchdog import Watchdog

USER_AGENT = "moderation-webhooks/1"
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: delivered (2xx) or why not."""

    delivered: bool
    status_code: int | None = None
    error: str | None = None


def body_of(payload: dict[str, Any]) -> str:
    """Return the exact JSON text that is signed and sent."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def signed_headers(secret: str, msg_id: str, body: str, at: datetime) -> dict[str, str]:
    """Return the Standard Webhooks headers for this body, signed with the library."""
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def _open_socket(address: str, port: int, timeout: float) -> socket.socket:
    """Connect to the vetted address, with Nagle off (as urllib3 does).

    http.client sends a request's headers and body in two writes; with Nagle on, the body
    waits for the receiver's delayed ACK, 40 ms on every kept-alive request.
    """
    sock = socket.create_connection((address, port), timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a fixed address; the Host header still names the URL's host."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = _open_socket(self._address, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address; the certificate is checked against the URL's host."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = target.address

    def connect(self) -> None:
        sock = _open_socket(self._address, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _cut(connection: http.client.HTTPConnection, cut: threading.Event) -> None:
    """Shut the connection's socket down (unblocks a read in the sending thread)."""
    cut.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class Connections:
    """The connections one delivery run keeps open, one per receiver host (keep-alive).

    A connection is made to the address vetted when it opens (see `resolve`) and is used
    again for the next delivery to the same scheme, host and port, so a busy receiver
    costs one TCP (and TLS) handshake and one DNS check per run instead of one per event.
    """

    def __init__(self, *, timeout: float, allow_private: bool) -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        self._open: dict[tuple[str, str, int], http.client.HTTPConnection] = {}
        self._checked: dict[str, tuple[str, str, int, str]] = {}  # each URL parsed once a run
        self._watchdog = Watchdog()

    def send(
        self, url: str, secret: str, msg_id: str, payload: dict[str, Any], at: datetime
    ) -> Outcome:
        """POST the signed event to `url` once; never follows a redirect."""
        try:
            scheme, host, port, path = self._checked.get(url) or check_url(url)
        except AddressRefused as exc:
            return Outcome(False, error=f"refused: {exc}")
        self._checked[url] = (scheme, host, port, path)
        key = (scheme, host, port)
        body = body_of(payload).encode("utf-8")
        headers = {
            **signed_headers(secret, msg_id, body.decode("utf-8"), at),
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        reused = key in self._open
        if not reused:
            try:
                target = resolve(url, allow_private=self.allow_private)
            except AddressRefused as exc:
                return Outcome(False, error=f"refused: {exc}")
            factory = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
            self._open[key] = factory(target, self.timeout)
        outcome = self._exchange(key, path, body, headers)
        if outcome is _STALE and reused:
            # The receiver closed the idle kept-alive connection before reading this
            # request: send it again on a new connection (at least once allows this).
            self._drop(key)
            return self.send(url, secret, msg_id, payload, at)
        return (
            Outcome(False, error="the receiver closed the connection")
            if outcome is _STALE
            else outcome
        )

    def _exchange(
        self, key: tuple[str, str, int], path: str, body: bytes, headers: dict[str, str]
    ) -> Outcome:
        connection = self._open[key]
        cut = threading.Event()
        self._watchdog.arm(self.timeout, lambda: _cut(connection, cut))
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(64 * 1024)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self._drop(key)
            return (
                Outcome(False, error=f"no complete answer within {self.timeout:g} s")
                if cut.is_set()
                else _STALE
            )
        except (OSError, http.client.HTTPException) as exc:
            self._drop(key)
            if cut.is_set():
                return Outcome(False, error=f"no complete answer within {self.timeout:g} s")
            return Outcome(False, error=f"{exc.__class__.__name__}: {exc}"[:MAX_ERROR_CHARS])
        finally:
            self._watchdog.disarm()
        if response.will_close or not response.isclosed():
            self._drop(key)  # the receiver ends the connection, or left part of its answer
        if 200 <= response.status < 300:
            return Outcome(True, response.status)
        if 300 <= response.status < 400:
            return Outcome(False, response.status, "redirects are not followed")
        return Outcome(False, response.status, f"HTTP {response.status} {response.reason}"[:200])

    def _drop(self, key: tuple[str, str, int]) -> None:
        connection = self._open.pop(key, None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        """Close every connection this run opened."""
        for key in list(self._open):
            self._drop(key)
        self._watchdog.close()

    def __enter__(self) -> Connections:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# A kept-alive connection the receiver had already closed: not an answer, try once more.
_STALE = Outcome(False, error="stale connection")


def send(
    url: str,
    secret: str,
    msg_id: str,
    payload: dict[str, Any],
    *,
    at: datetime,
    timeout: float,
    allow_private: bool,
) -> Outcome:
    """POST the signed event to `url` once, on a connection of its own."""
    with Connections(timeout=timeout, allow_private=allow_private) as connections:
        return connections.send(url, secret, msg_id, payload, at)
