"""A daemon thread that calls one function every interval until stopped.

The retention sweep and the Celery watchdog both need one; a pass that raises is logged and the
next pass tries again, because what such passes talk to (database, storage, broker) comes back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class PeriodicThread:
    def __init__(
        self, name: str, interval_s: float, action: Callable[[], object], first_at_start: bool
    ) -> None:
        self.name = name
        self.interval_s = interval_s
        self._action = action
        # True: one pass right at start-up (e.g. expired runs are purged without waiting a day).
        self._first_at_start = first_at_start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        if self._first_at_start:
            self._pass()
        while not self._stop.wait(self.interval_s):
            self._pass()

    def _pass(self) -> None:
        try:
            self._action()
        except Exception:
            log.warning("%s pass failed", self.name, exc_info=True)
