"""The distributed job backend: Celery on a Redis broker, beside the in-process JobRunner.

Same contract as JobRunner (``register``/``enqueue``/``start``/``stop``): the database is the
durable record of every job, the broker only carries ids. Redis may lose its messages (the CI
Redis keeps nothing on disk), so every dispatched job also leaves a *marker* in Redis and every
running job refreshes a short *lease*; a watchdog in the gateway re-dispatches unfinished jobs
that have neither (a restart wiped both, or the worker died with the message unacknowledged).
Re-dispatching is safe because every handler is idempotent and guarded in the database.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery, signals

from formcoach.kit.background import PeriodicThread
from formcoach.kit.observability import bind, configure_logging
from formcoach.kit.observability import clear as clear_context
from formcoach.kit.settings import Settings

log = logging.getLogger(__name__)

KEY_PREFIX = "formcoach:job"


def create_celery(settings: Settings, queues: tuple[str, ...]) -> Celery:
    """A Celery app on the settings' broker with one durable queue per name in ``queues``."""
    if not settings.broker_url:
        raise RuntimeError("FORMCOACH_BROKER_URL is not set")
    app = Celery("formcoach", broker=settings.broker_url)
    app.conf.update(
        # Queues are plain Redis lists, created on first use (task_create_missing_queues).
        task_default_queue=queues[0],
        # Acknowledge after the work, so a killed worker's job goes back to the queue.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One job at a time per process: a pose job must not sit behind another in a prefetch.
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout_s},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
    )
    _install_logging(settings)
    return app


_LOGGING_INSTALLED = threading.Event()


def _install_logging(settings: Settings) -> None:
    """Worker logs in formcoach's format, each line of a task carrying its run id and stage.

    Connecting ``setup_logging`` stops Celery from configuring logging itself; the pre/post-run
    signals set and clear the log context in the process that runs the task. Stage task names
    are ``formcoach.stage.<stage>`` taking the run id (pipeline/orchestrator.py); the drill-video task
    takes a video job id.
    """
    if _LOGGING_INSTALLED.is_set():
        return
    _LOGGING_INSTALLED.set()

    def setup(**_: Any) -> None:
        configure_logging(settings.log_level, settings.log_format)

    def prerun(task: Any = None, args: Any = None, **_: Any) -> None:
        clear_context()
        name = str(getattr(task, "name", "") or "")
        job_id = args[0] if args else None
        if name.startswith("formcoach.stage."):
            bind(run_id=job_id, stage=name.rsplit(".", 1)[1])
        elif name.startswith("formcoach."):
            bind(job_id=job_id)

    def postrun(**_: Any) -> None:
        clear_context()

    signals.setup_logging.connect(setup, weak=False)
    signals.task_prerun.connect(prerun, weak=False)
    signals.task_postrun.connect(postrun, weak=False)


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Leases:
    """Redis markers: ``queued`` (a message was sent) and ``lease`` (a worker is on it now)."""

    def __init__(self, client: redis.Redis, queued_ttl_s: float, lease_s: float) -> None:
        self.client = client
        self.queued_ttl = max(1, int(queued_ttl_s))
        self.lease_ms = max(100, int(lease_s * 1000))

    @classmethod
    def from_settings(cls, settings: Settings) -> Leases:
        client = redis.Redis.from_url(
            settings.broker_url or "", socket_timeout=5, socket_connect_timeout=5
        )
        return cls(client, settings.broker_visibility_timeout_s, settings.job_lease_s)

    @staticmethod
    def _key(what: str, kind: str, job_id: int) -> str:
        return f"{KEY_PREFIX}:{what}:{kind}:{job_id}"

    def mark_queued(self, kind: str, job_id: int) -> None:
        self.client.set(self._key("queued", kind, job_id), "1", ex=self.queued_ttl)

    def renew(self, kind: str, job_id: int) -> None:
        pipe = self.client.pipeline()
        pipe.set(self._key("lease", kind, job_id), worker_identity(), px=self.lease_ms)
        pipe.delete(self._key("queued", kind, job_id))
        pipe.execute()

    def release(self, kind: str, job_id: int) -> None:
        self.client.delete(self._key("lease", kind, job_id))

    def holder(self, kind: str, job_id: int) -> str | None:
        value = self.client.get(self._key("lease", kind, job_id))
        return value.decode() if isinstance(value, bytes) else None

    def alive(self, kind: str, job_id: int) -> bool:
        keys = (self._key("queued", kind, job_id), self._key("lease", kind, job_id))
        return bool(self.client.exists(*keys))

    @contextmanager
    def held(self, kind: str, job_id: int, every_s: float) -> Iterator[None]:
        """Keep the lease fresh while the block runs (a thread, since stages block for long)."""
        stop = threading.Event()

        def beat() -> None:
            while True:
                try:
                    self.renew(kind, job_id)
                except redis.RedisError:
                    # Redis away (restarting): the next beat puts the lease back.
                    log.warning("lease of %s %s not renewed: broker unreachable", kind, job_id)
                if stop.wait(every_s):
                    return

        thread = threading.Thread(target=beat, name=f"lease-{kind}-{job_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)
            try:
                self.release(kind, job_id)
            except redis.RedisError:
                log.warning("lease of %s %s not released: broker unreachable", kind, job_id)


@dataclass(frozen=True)
class Route:
    """Where a job goes now: the Celery task name and its queue."""

    task: str
    queue: str


@dataclass(frozen=True)
class CeleryKind:
    name: str
    route: Callable[[int], Route | None]
    pending: Callable[[], list[int]]


class CeleryBackend:
    """Sends jobs to Celery queues; a watchdog thread re-sends jobs whose messages were lost."""

    def __init__(self, app: Celery, leases: Leases, watchdog_interval_s: float) -> None:
        self.app = app
        self.leases = leases
        self._kinds: dict[str, CeleryKind] = {}
        self._missing: set[tuple[str, int]] = set()
        self._thread = PeriodicThread(
            "formcoach-watchdog", watchdog_interval_s, self.sweep, first_at_start=False
        )
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="formcoach-send")

    def register(
        self,
        name: str,
        route: Callable[[int], Route | None],
        pending: Callable[[], list[int]],
    ) -> None:
        self._kinds[name] = CeleryKind(name, route, pending)

    def enqueue(self, kind: str, job_id: int, key: str = "", owner: int | None = None) -> None:
        """Send the job (call after the commit that records it) from a background thread, so
        a web request never waits on the broker. A send that fails is only logged: the job is
        in the database, and the watchdog sends it once Redis is back. ``key`` (a run's
        run_key) travels in the message; a worker given a key no run has any more does
        nothing. Workers take messages in order: ``owner`` is not used here."""
        if kind not in self._kinds:
            raise KeyError(f"unknown job kind {kind!r}")
        self._sender.submit(self.send_now, kind, job_id, key)

    def send_now(self, kind: str, job_id: int, key: str = "") -> None:
        try:
            route = self._kinds[kind].route(job_id)
            if route is None:
                return
            send(self.app, self.leases, kind, job_id, route, key)
        except Exception:
            log.exception("could not send %s %s now; the watchdog will retry", kind, job_id)

    def sweep(self) -> list[tuple[str, int]]:
        """One watchdog pass. A job is re-sent when it was seen without marker or lease on two
        passes in a row, so a job being handed over between two workers is left alone."""
        sent: list[tuple[str, int]] = []
        missing: set[tuple[str, int]] = set()
        for kind in self._kinds.values():
            for job_id in kind.pending():
                if self.leases.alive(kind.name, job_id):
                    continue
                item = (kind.name, job_id)
                if item in self._missing:
                    log.warning("re-dispatching %s %s: no message and no worker on it", *item)
                    self.send_now(kind.name, job_id)
                    sent.append(item)
                else:
                    missing.add(item)
        self._missing = missing
        return sent

    def depth(self, queues: tuple[str, ...]) -> dict[str, int]:
        """Messages waiting in each Celery queue (one Redis list per queue): the queue depth."""
        pipe = self.leases.client.pipeline()
        for name in queues:
            pipe.llen(name)
        return dict(zip(queues, (int(n) for n in pipe.execute()), strict=True))

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._thread.stop(timeout)
        self._sender.shutdown(wait=True)
        # Ready again should the app start once more (e.g. a second test client).
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="formcoach-send")


def send(app: Celery, leases: Leases, kind: str, job_id: int, route: Route, key: str = "") -> None:
    """Mark the job as queued, then publish it (the marker first: a message is never unseen)."""
    leases.mark_queued(kind, job_id)
    app.send_task(
        route.task,
        args=[job_id, key] if key else [job_id],
        queue=route.queue,
        routing_key=route.queue,
        retry=True,
        retry_policy={"max_retries": 3, "interval_start": 0.5, "interval_step": 1},
    )


def task_options(settings: Settings) -> dict[str, Any]:
    """Options shared by every formcoach task."""
    return {
        "acks_late": True,
        "reject_on_worker_lost": True,
        "max_retries": settings.job_max_retries,
    }


def supervise(argv: list[str], max_backoff_s: float = 30.0) -> int:
    """Run ``argv`` (a worker) until we are told to stop, restarting it whenever it exits, with
    a growing pause in a crash loop. SIGTERM/SIGINT are passed on, so shutdown stays warm."""
    stopping = threading.Event()
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: object) -> None:
        stopping.set()
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    backoff = 1.0
    while True:
        started = time.monotonic()
        # Its own session: Celery signals its process group when it stops, which must not
        # reach (and stop) this supervisor.
        child = subprocess.Popen(argv, start_new_session=True)
        code = child.wait()
        if stopping.is_set():
            return code
        # Celery can stop by itself even with status 0 (an "unrecoverable" broker error during
        # shutdown of its consumer), so any exit we did not ask for is restarted.
        # A worker that ran for a while gets restarted at once; a crash loop slows down.
        backoff = 1.0 if time.monotonic() - started > 60 else min(backoff * 2, max_backoff_s)
        log.warning("worker exited with %s; starting it again in %.0f s", code, backoff)
        if stopping.wait(backoff):
            return code
