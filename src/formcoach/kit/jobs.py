"""Job backends: the in-process runner of the one-process deployment (Celery: celery_app.py).

The database rows are the durable record of every job; this runner only holds ids. At start-up
each registered kind lists its unfinished ids (``pending``) and they are queued again, so a
killed process resumes its work. Handlers must be idempotent.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from formcoach.kit.observability import log_context

log = logging.getLogger(__name__)


class JobBackend(Protocol):
    """What the web routes see as ``app.state.jobs``: enqueue after the commit, that is all."""

    def enqueue(self, kind: str, job_id: int) -> None: ...
    def start(self) -> None: ...
    def stop(self, timeout: float = 5.0) -> None: ...


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Callable[[int], None]
    pending: Callable[[], list[int]]


class JobRunner:
    def __init__(self, workers: int = 1, resume: bool = True) -> None:
        self._workers = max(1, workers)
        # A service process run beside a gateway leaves resuming to the gateway.
        self._resume = resume
        self._kinds: dict[str, JobKind] = {}
        self._queue: queue.Queue[tuple[str, int] | None] = queue.Queue()
        self._active: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []

    def register(
        self, name: str, handler: Callable[[int], None], pending: Callable[[], list[int]]
    ) -> None:
        self._kinds[name] = JobKind(name, handler, pending)

    def enqueue(self, kind: str, job_id: int) -> None:
        if kind not in self._kinds:
            raise KeyError(f"unknown job kind {kind!r}")
        with self._lock:
            if (kind, job_id) in self._active:
                return
            self._active.add((kind, job_id))
        self._queue.put((kind, job_id))

    def start(self) -> None:
        for i in range(self._workers):
            thread = threading.Thread(target=self._loop, name=f"formcoach-job-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if not self._resume:
            return
        for kind in self._kinds.values():
            for job_id in kind.pending():
                log.info("resuming %s %s", kind.name, job_id)
                self.enqueue(kind.name, job_id)

    def stop(self, timeout: float = 5.0) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def depth(self) -> dict[str, int]:
        """Jobs queued or running now, per kind (the queue-depth metric)."""
        with self._lock:
            active = list(self._active)
        counts = dict.fromkeys(self._kinds, 0)
        for kind, _ in active:
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or running (used by the CLI and tests)."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._active, timeout)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            kind, job_id = item
            # Every line logged while the job runs names it (kit/observability.py).
            context = {"run_id": job_id} if kind == "run" else {"job_id": job_id}
            try:
                with log_context(**context):
                    try:
                        self._kinds[kind].handler(job_id)
                    except Exception:
                        # Handlers record their own failures; this only keeps the worker alive.
                        log.exception("job %s %s crashed", kind, job_id)
            finally:
                with self._idle:
                    self._active.discard(item)
                    self._idle.notify_all()
