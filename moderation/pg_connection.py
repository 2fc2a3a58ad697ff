"""A psycopg connection that stops waiting for a server that does not answer."""

from __future__ import annotations

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
