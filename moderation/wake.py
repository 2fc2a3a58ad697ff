"""Waking the worker after commits: at most one queue message a window per process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask import Flask
from sqlalchemy.orm import Session

from moderation import db


class Waker:
    """Fold the wake-ups of many commits into one queue message per `window` seconds.

    Sound only if the task a wake-up runs sees every commit of its window: webhook
    dispatches linger at least `window` seconds after they start (WEBHOOKS_LINGER_SECONDS
    ≥ WEBHOOKS_WAKE_SECONDS, checked by config.validate); the mail run is queued for the
    end of its window.
    """

    def __init__(
        self,
        send: Callable[[], object],
        window: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self._send = send
        self._clock = clock
        self._quiet_until = float("-inf")
        self._lock = threading.Lock()
        self.sent = 0  # wake-ups sent by this process (for the operator and the tests)

    def wake(self) -> bool:
        """Send a wake-up unless one went out less than `window` seconds ago; True if sent."""
        now = self._clock()
        with self._lock:
            if now < self._quiet_until:
                return False
            self._quiet_until = now + self.window
            self.sent += 1
        self._send()
        return True


def wake_after_commit(app: Flask, waker: Waker, take: Callable[[Session], bool]) -> None:
    """Wake `waker` after each commit whose session `take` finds marked (and clears).

    A rolled-back transaction's mark is cleared too, so the session's next transaction
    does not wake the worker for a change that never happened.
    """

    def after_commit(session: Session) -> None:
        if take(session):
            waker.wake()

    def after_rollback(session: Session) -> None:
        take(session)

    db.on_transaction_end(app, after_commit, after_rollback)
