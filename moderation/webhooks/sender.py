"""Send one signed webhook (Standard Webhooks) to a vetted address; redirects are failures."""

from __future__ import annotations

import contextlib
import socket
import ssl
import string
import threading
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httptools
from standardwebhooks import Webhook

from moderation.db import json_text
from moderation.webhooks.addresses import AddressRefused
from moderation.webhooks.addresses import Target
from moderation.webhooks.addresses import check_url
from moderation.webhooks.addresses import resolve
from moderation.webhooks.watchdog import Watchdog

USER_AGENT = "moderation-webhooks/1"
MAX_ERROR_CHARS = 500
MAX_ANSWER_BYTES = 64 * 1024  # of an answer read; a longer one ends its connection
_KNOWN_STATUSES = frozenset(HTTPStatus)


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: delivered (2xx) or why not."""

    delivered: bool
    status_code: int | None = None
    error: str | None = None


def body_of(payload: dict[str, Any]) -> str:
    """Return the exact JSON text that is signed and sent: as the outbox stores it."""
    return json_text(payload)


def signed_headers(signer: Webhook, msg_id: str, body: str, at: datetime) -> dict[str, str]:
    """Return the Standard Webhooks headers for this body, signed with the library."""
    signature = signer.sign(msg_id=msg_id, timestamp=at, data=body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


class _Stale(Exception):
    """A kept-alive connection the receiver had closed before it read this request."""


class _Answer:
    """httptools' callbacks for one answer: its headers are in, then all of it is.

    An interim answer (1xx, such as 100 Continue) is not the answer: the final one follows.
    """

    __slots__ = ("complete", "headers_done", "parser")

    def __init__(self) -> None:
        self.headers_done = False
        self.complete = False
        self.parser = httptools.HttpResponseParser(self)

    def on_headers_complete(self) -> None:
        self.headers_done = self.parser.get_status_code() >= 200

    def on_message_complete(self) -> None:
        self.complete = self.parser.get_status_code() >= 200


class _Link:
    """One kept-alive HTTP/1.1 connection to a vetted address.

    The request is written in one piece (so Nagle never holds its body back) and the
    answer parsed by httptools (llhttp, the parser Node.js uses): http.client's header
    handling (the e-mail parser) cost the worker about as much as the whole exchange.
    """

    def __init__(self, target: Target, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self.sock: socket.socket | None = None  # open once a request went out on it
        self._host = _host_header(target)
        self._buffer = bytearray(16 * 1024)

    def connect(self) -> socket.socket:
        """Open the connection to the vetted address (TLS checked against the URL's host)."""
        sock = socket.create_connection((self.target.address, self.target.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.target.scheme == "https":
            context = ssl.create_default_context()
            sock = context.wrap_socket(sock, server_hostname=self.target.host)
        self.sock = sock
        return sock

    def post(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bool]:
        """Send one POST to `path` (made ASCII-safe by `_request_path`); return the answer's
        status and whether the connection stays open."""
        reused = self.sock is not None  # the receiver may have closed it since
        sock = self.sock or self.connect()
        lines = [f"POST {path} HTTP/1.1", f"Host: {self._host}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines += [f"Content-Length: {len(body)}", "", ""]
        try:
            sock.sendall("\r\n".join(lines).encode("ascii") + body)
        except (BrokenPipeError, ConnectionResetError):
            if reused:
                raise _Stale from None
            raise
        return self._read_answer(sock, reused)

    def _read_answer(self, sock: socket.socket, reused: bool) -> tuple[int, bool]:
        answer = _Answer()
        parser = answer.parser
        view = memoryview(self._buffer)
        received = 0
        while not answer.complete:
            try:
                count = sock.recv_into(self._buffer)
            except ConnectionResetError:
                count = 0
            if count == 0:  # the receiver closed the connection
                if answer.headers_done:
                    return parser.get_status_code(), False  # an answer that ends at close
                if reused and received == 0:
                    raise _Stale
                raise ConnectionError("the receiver closed the connection")
            received += count
            parser.feed_data(view[:count])
            if answer.headers_done and not parser.should_keep_alive():
                # The connection ends with this answer (it says so, or its body runs to
                # the close): the status is all we need, and the rest is not waited for.
                return parser.get_status_code(), False
            if received > MAX_ANSWER_BYTES:
                if not answer.headers_done:
                    raise ConnectionError(f"no end of headers in {MAX_ANSWER_BYTES} bytes")
                return parser.get_status_code(), False  # enough read: drop the rest with it
        return parser.get_status_code(), parser.should_keep_alive()

    def close(self) -> None:
        """Close the connection."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _host_header(target: Target) -> str:
    """Return the Host header of the URL's host and port, as http.client writes it."""
    host = target.host
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def _request_path(path: str) -> str:
    """Return the path ASCII-safe: anything not printable ASCII is percent-encoded."""
    return quote(path, safe=string.punctuation)


def _cut(link: _Link, cut: threading.Event) -> None:
    """Shut the connection's socket down (unblocks a read in the sending thread)."""
    cut.set()
    sock = link.sock
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
        self._open: dict[tuple[str, str, int], _Link] = {}
        # Each URL checked and its path made ASCII-safe once a run.
        self._checked: dict[str, tuple[str, str, int, str]] = {}
        self._signers: dict[str, Webhook] = {}  # each secret decoded once a run
        self._watchdog = Watchdog()

    def send(self, url: str, secret: str, msg_id: str, body: str, at: datetime) -> Outcome:
        """POST the signed JSON `body` to `url` once; never follows a redirect."""
        checked = self._checked.get(url)
        if checked is None:
            try:
                scheme, host, port, path = check_url(url)
            except AddressRefused as exc:
                return Outcome(False, error=f"refused: {exc}")
            checked = self._checked[url] = (scheme, host, port, _request_path(path))
        scheme, host, port, request_path = checked
        key = (scheme, host, port)
        signer = self._signers.get(secret) or self._signers.setdefault(secret, Webhook(secret))
        headers = {
            **signed_headers(signer, msg_id, body, at),
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        reused = key in self._open
        if not reused:
            try:
                target = resolve(url, allow_private=self.allow_private)
            except AddressRefused as exc:
                return Outcome(False, error=f"refused: {exc}")
            self._open[key] = _Link(target, self.timeout)
        outcome = self._exchange(key, request_path, body.encode("utf-8"), headers)
        if outcome is _STALE and reused:
            # The receiver closed the idle kept-alive connection before reading this
            # request (_exchange dropped it): send it again on a new connection.
            return self.send(url, secret, msg_id, body, at)
        return (
            Outcome(False, error="the receiver closed the connection")
            if outcome is _STALE
            else outcome
        )

    def _exchange(
        self, key: tuple[str, str, int], path: str, body: bytes, headers: dict[str, str]
    ) -> Outcome:
        link = self._open[key]
        cut = threading.Event()
        self._watchdog.arm(self.timeout, lambda: _cut(link, cut))
        try:
            status, keep_alive = link.post(path, headers, body)
        except _Stale:
            self._drop(key)
            return self._timed_out() if cut.is_set() else _STALE
        except (OSError, httptools.HttpParserError) as exc:
            self._drop(key)
            if cut.is_set() or isinstance(exc, TimeoutError):
                return self._timed_out()
            if isinstance(exc, httptools.HttpParserError):
                return Outcome(False, error=f"the answer is not valid HTTP ({exc})"[:200])
            return Outcome(False, error=f"{exc.__class__.__name__}: {exc}"[:MAX_ERROR_CHARS])
        finally:
            self._watchdog.disarm()
        if not keep_alive:
            self._drop(key)  # the receiver ends the connection, or left part of its answer
        if 200 <= status < 300:
            return Outcome(True, status)
        if 300 <= status < 400:
            return Outcome(False, status, "redirects are not followed")
        reason = HTTPStatus(status).phrase if status in _KNOWN_STATUSES else ""
        return Outcome(False, status, f"HTTP {status} {reason}".strip()[:200])

    def _timed_out(self) -> Outcome:
        return Outcome(False, error=f"no complete answer within {self.timeout:g} s")

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
        return connections.send(url, secret, msg_id, body_of(payload), at)
