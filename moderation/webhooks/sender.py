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
from moderation.webhooks.addresses import resolve

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


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a fixed address; the Host header still names the URL's host."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address; the certificate is checked against the URL's host."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _cut(connection: http.client.HTTPConnection, cut: threading.Event) -> None:
    """Shut the connection's socket down (unblocks a read in the sending thread)."""
    cut.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


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
    """POST the signed event to `url` once; never follows a redirect."""
    try:
        target = resolve(url, allow_private=allow_private)
    except AddressRefused as exc:
        return Outcome(False, error=f"refused: {exc}")
    body = body_of(payload)
    headers = {
        **signed_headers(secret, msg_id, body, at),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    factory = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = factory(target, timeout)
    # The socket timeout bounds each read; this bounds the whole exchange, so a receiver
    # that trickles its answer a byte at a time cannot hold a worker thread.
    cut = threading.Event()
    deadline = threading.Timer(timeout, _cut, args=(connection, cut))
    deadline.daemon = True
    deadline.start()
    try:
        connection.request("POST", target.path, body=body.encode("utf-8"), headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
    except (OSError, http.client.HTTPException) as exc:
        if cut.is_set():
            return Outcome(False, error=f"no complete answer within {timeout:g} s")
        return Outcome(False, error=f"{exc.__class__.__name__}: {exc}"[:MAX_ERROR_CHARS])
    finally:
        deadline.cancel()
        connection.close()
    if 200 <= response.status < 300:
        return Outcome(True, response.status)
    if 300 <= response.status < 400:
        return Outcome(False, response.status, "redirects are not followed")
    return Outcome(False, response.status, f"HTTP {response.status} {response.reason}"[:200])
