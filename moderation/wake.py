"""Waking the worker after commits: at most one queue message a window per process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


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
