"""A deadline for whole HTTP exchanges: one watcher thread per delivery run, not per send."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Watchdog:
    """Call `on_expiry` for an armed exchange still running at its deadline.

    A socket timeout bounds each read only; a receiver that trickles its answer a byte
    at a time would hold a worker thread for ever without this. Arming costs no thread
    start (a threading.Timer per send cost about 150 µs); the watcher sleeps until the
    deadline it knows, and is woken only when it had nothing armed.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: tuple[float, Callable[[], None]] | None = None
        self._idle = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def arm(self, timeout: float, on_expiry: Callable[[], None]) -> None:
        """Watch one exchange: call `on_expiry` if it is not disarmed within `timeout`."""
        with self._cond:
            self._armed = (time.monotonic() + timeout, on_expiry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, daemon=True)
                self._thread.start()
            elif self._idle:
                self._cond.notify()

    def disarm(self) -> None:
        """The exchange ended in time."""
        with self._cond:
            self._armed = None

    def close(self) -> None:
        """Stop the watcher thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _watch(self) -> None:
        with self._cond:
            while not self._closed:
                if self._armed is None:
                    self._idle = True
                    self._cond.wait()
                    self._idle = False
                    continue
                deadline, on_expiry = self._armed
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                self._armed = None
                on_expiry()
