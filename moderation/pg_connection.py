"""A psycopg connection that stops waiting for a server that does not answer."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from flask import has_request_context
from psycopg import errors


class DatabaseNotAnswering(psycopg.OperationalError):
    """The server sent no answer in time; the connection was closed (its state is unknown)."""


class BoundedConnection(psycopg.Connection):
    """In a request, waits at most `answer_timeout` s for each answer (None: forever).

    A stopped or partitioned server still has its kernel acknowledge every packet, so
    neither statement_timeout (the server's) nor TCP timeouts end the wait: only the
    client can. The connection is then closed, which SQLAlchemy treats as a disconnect.
    """

    answer_timeout: float | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        """Run a protocol generator, giving up after answer_timeout (see psycopg's wait)."""
        limit = timeout
        if limit is None and has_request_context():  # CLI, jobs, threads: no limit
            limit = self.answer_timeout
        try:
            return super().wait(gen, interval=interval, timeout=limit)
        except errors._WaitTimeout:
            self.pgconn.finish()
            raise DatabaseNotAnswering(
                f"the database server did not answer within {limit} s"
            ) from None


def connect_within(seconds: float, *cargs: Any, **cparams: Any) -> BoundedConnection:
    """Connect, giving up after `seconds` (libpq will not wait less than 2 s by itself).

    The attempt runs in a thread of its own; when it gives up, that thread finishes the
    attempt (bounded by connect_timeout) and closes any connection it made too late.
    """
    outcome: dict[str, Any] = {}
    lock = threading.Lock()  # the caller's give-up and the attempt's result never cross

    def attempt() -> None:
        try:
            connection = BoundedConnection.connect(*cargs, **cparams)
        except BaseException as exc:  # handed to the caller, never lost in the thread
            with lock:
                outcome["error"] = exc
            return
        with lock:
            if not outcome.get("abandoned"):
                outcome["connection"] = connection
                return
        connection.close()  # made too late: the caller has given up

    thread = threading.Thread(target=attempt, name="pg-connect", daemon=True)
    thread.start()
    thread.join(seconds)
    with lock:
        if "connection" in outcome:
            return outcome["connection"]
        if "error" in outcome:
            raise outcome["error"]
        outcome["abandoned"] = True
    raise DatabaseNotAnswering(f"the database server did not answer within {seconds} s")
