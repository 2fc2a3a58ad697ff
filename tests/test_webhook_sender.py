"""Sending one webhook: the request as written on the wire, and every shape of answer."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC
from datetime import datetime

import pytest

from moderation.webhooks.sender import MAX_ANSWER_BYTES
from moderation.webhooks.sender import Connections
from moderation.webhooks.sender import body_of
from moderation.webhooks.sender import send

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PAYLOAD = {"type": "comment.created", "data": {"id": 7, "content": "Grüße"}}


class ScriptedReceiver:
    """A raw TCP receiver: reads each request whole, records it, writes scripted bytes.

    `answer(n)` gives the bytes for the n-th request on the server (from 0) and whether
    to close the connection after writing them.
    """

    def __init__(
        self, answer: Callable[[int], tuple[bytes, bool]], tls: ssl.SSLContext | None = None
    ) -> None:
        self.requests: list[bytes] = []
        self.connections = 0
        self._answer = answer
        self._tls = tls
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/ünï?x=1"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        if self._tls is not None:
            try:
                conn = self._tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()  # the sender refused our certificate
                return
        with conn, contextlib.suppress(ConnectionError):  # a sender may hang up mid-answer
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(rest) < length:
                    rest += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + rest[:length])
                data = rest[length:]
                answer, close = self._answer(len(self.requests) - 1)
                conn.sendall(answer)
                if close:
                    return

    def stop(self) -> None:
        self._server.close()


@pytest.fixture
def scripted():
    """Start a ScriptedReceiver with the given answers; stop it after the test."""
    started: list[ScriptedReceiver] = []

    def start(
        answer: Callable[[int], tuple[bytes, bool]], tls: ssl.SSLContext | None = None
    ) -> ScriptedReceiver:
        receiver = ScriptedReceiver(answer, tls)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


def deliver(url: str, times: int = 1, timeout: float = 2.0) -> list:
    """Send the payload `times` times on one set of kept-alive connections."""
    with Connections(timeout=timeout, allow_private=True) as connections:
        body = body_of(PAYLOAD)
        return [connections.send(url, SECRET, f"msg_{n}", body, AT) for n in range(times)]


NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


def test_the_request_is_one_signed_post_with_its_host_and_an_ascii_path(scripted):
    receiver = scripted(lambda n: (NO_CONTENT, False))
    [outcome] = deliver(receiver.url)
    assert (outcome.delivered, outcome.status_code) == (True, 204)
    head, _, body = receiver.requests[0].partition(b"\r\n\r\n")
    lines = head.decode("ascii").split("\r\n")
    assert lines[0] == "POST /hooks/%C3%BCn%C3%AF?x=1 HTTP/1.1"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Host"] == f"127.0.0.1:{receiver.port}"
    assert headers["Content-Type"] == "application/json"
    assert headers["webhook-id"] == "msg_0"
    assert headers["webhook-timestamp"] == str(int(AT.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert int(headers["Content-Length"]) == len(body)
    assert body.decode("utf-8") == '{"type":"comment.created","data":{"id":7,"content":"Grüße"}}'


@pytest.mark.parametrize(
    ("answer", "delivered", "status", "error"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", True, 200, None),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            True,
            200,
            None,
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
            True,
            202,
            None,
        ),
        (b"HTTP/1.1 301 Moved\r\nLocation: http://10.0.0.1/\r\n\r\n", False, 301, "redirects"),
        (b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", False, 503, "HTTP 503"),
        (b"SMTP ready\r\n\r\n", False, None, "not valid HTTP"),
    ],
    ids=["length", "chunked", "interim-100", "redirect", "503", "not-http"],
)
def test_each_kind_of_answer_is_read_as_what_it_is(scripted, answer, delivered, status, error):
    receiver = scripted(lambda n: (answer, False))
    [outcome] = deliver(receiver.url)
    assert (outcome.delivered, outcome.status_code) == (delivered, status)
    if error is None:
        assert outcome.error is None
    else:
        assert error in outcome.error


@pytest.mark.parametrize("close", [True, False], ids=["closed", "left-open"])
def test_an_answer_whose_body_runs_to_the_close_counts_at_once(scripted, close):
    # HTTP/1.0 style: no length, so the body ends when the receiver closes. The status is
    # all the sender needs: a receiver that never closes must not hold it to its timeout,
    # here longer than the test's own (so waiting for the close would fail the test).
    receiver = scripted(lambda n: (b"HTTP/1.1 200 OK\r\n\r\nthanks", close))
    outcomes = deliver(receiver.url, times=3, timeout=3600)
    assert [o.delivered for o in outcomes] == [True, True, True]
    assert receiver.connections == 3


def test_a_kept_alive_connection_serves_many_sends(scripted):
    receiver = scripted(lambda n: (NO_CONTENT, False))
    assert all(o.delivered for o in deliver(receiver.url, times=5))
    assert receiver.connections == 1


def test_an_endless_answer_is_not_read_past_its_cap(scripted):
    huge = b"x" * (4 * MAX_ANSWER_BYTES)
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(huge) + huge
    receiver = scripted(lambda n: (answer, False))
    outcomes = deliver(receiver.url, times=2)
    assert [o.delivered for o in outcomes] == [True, True]
    assert receiver.connections == 2  # the rest was dropped with its connection


def test_headers_that_never_end_are_not_read_past_the_cap(scripted):
    endless = b"HTTP/1.1 200 OK\r\n" + b"X-Padding: yes\r\n" * (MAX_ANSWER_BYTES // 8)
    receiver = scripted(lambda n: (endless, False))
    [outcome] = deliver(receiver.url)
    assert not outcome.delivered
    assert "no end of headers" in outcome.error


def test_a_receiver_that_hangs_up_mid_answer_is_a_failure_not_a_retry(scripted):
    receiver = scripted(lambda n: (b"HTTP/1.1 200 OK\r\nContent-Le", True))
    [outcome] = deliver(receiver.url)
    assert not outcome.delivered
    assert "closed the connection" in outcome.error
    assert len(receiver.requests) == 1


def test_nobody_listening_is_a_clear_failure():
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    outcome = send(
        f"http://127.0.0.1:{port}/",
        SECRET,
        "msg_1",
        PAYLOAD,
        at=AT,
        timeout=2.0,
        allow_private=True,
    )
    assert not outcome.delivered
    assert "Connection refused" in outcome.error


@pytest.fixture
def certificates(tmp_path):
    """A test CA and a certificate it signed for localhost; return (CA file, server context)."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Test CA")
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (tmp_path / "san.ext").write_text("subjectAltName=DNS:localhost\n")
    sign = [
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]
    openssl("x509", "-req", "-in", "server.csr", *sign, "-out", "server.pem")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    return tmp_path / "ca.pem", server


def test_https_checks_the_certificate_against_the_urls_host(scripted, certificates, monkeypatch):
    ca_file, server = certificates
    receiver = scripted(lambda n: (NO_CONTENT, False), tls=server)
    url = f"https://localhost:{receiver.port}/hook"
    [refused] = deliver(url)  # our CA is not one the system trusts
    assert not refused.delivered
    assert "CERTIFICATE_VERIFY_FAILED" in refused.error
    assert receiver.requests == []
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # now it is
    outcomes = deliver(url, times=3)
    assert [o.delivered for o in outcomes] == [True, True, True]
    assert receiver.connections == 2  # the refused handshake, then one kept-alive connection
    head = receiver.requests[0].split(b"\r\n\r\n", 1)[0].decode()
    assert f"Host: localhost:{receiver.port}" in head.split("\r\n")
    # The address was vetted and pinned, the certificate still checked against the name:
    [mismatch] = deliver(f"https://127.0.0.1:{receiver.port}/hook")
    assert not mismatch.delivered
    assert "IP address mismatch" in mismatch.error or "CERTIFICATE_VERIFY_FAILED" in mismatch.error
