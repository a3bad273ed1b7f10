"""Job backends: the in-process runner of the one-process deployment (Celery: celery_app.py).

The database rows are the durable record of every job; this runner only holds identities:
(kind, id, key), where the key is what tells this run from any other that ever had its id (a
run's ``run_key``; empty for kinds whose ids alone suffice). At start-up each registered kind
lists its unfinished jobs (``pending``) and they are queued again, so a killed process resumes
its work. Handlers must be idempotent. Jobs are taken round-robin between owners (the user a
job is for), so one user's queued runs do not hold back everybody else's.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from formcoach.kit.observability import log_context

log = logging.getLogger(__name__)


class JobBackend(Protocol):
    """What the web routes see as ``app.state.jobs``: enqueue after the commit, that is all."""

    def enqueue(self, kind: str, job_id: int, key: str = "", owner: int | None = None) -> None: ...
    def start(self) -> None: ...
    def stop(self, timeout: float = 5.0) -> None: ...


# A job's identity: kind, id and key. Two runs that share an id (a database restored, or
# reset beside old files) differ in their key, so neither is ever taken for the other.
Job = tuple[str, int, str]
# Handlers get the id and the key the job was queued with.
Handler = Callable[[int, str], None]
# What ``pending`` lists: ids, or (id, key) pairs, optionally with the owner: (id, key, owner).
Pending = Callable[[], Iterable[int | tuple[int, str] | tuple[int, str, int | None]]]


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Handler
    pending: Pending


@dataclass(frozen=True)
class IdHandler:
    """A handler of a kind whose ids alone name its jobs (drill videos): the key is ignored.
    A class rather than a closure so that the job process can be handed it (pickled)."""

    func: Callable[[int], None]

    def __call__(self, job_id: int, _key: str) -> None:
        self.func(job_id)


class FairQueue:
    """A blocking queue that serves owners in turn: the owner with work that was served least
    recently goes first (an owner's own jobs stay first come, first served). The turn outlives
    an owner's empty lane: a user whose one job was just taken and who queues another right
    away still waits behind a user who queued meanwhile. ``None`` is the stop sentinel, served
    before anything else."""

    def __init__(self) -> None:
        self._lanes: dict[int | None, deque[Job]] = {}
        # When each owner was last served, and when each lane got its first job (tie-break).
        self._served: dict[int | None, int] = {}
        self._since: dict[int | None, int] = {}
        self._tick = 0
        self._stops = 0
        self._ready = threading.Condition()

    def put(self, item: Job | None, owner: int | None = None) -> None:
        with self._ready:
            if item is None:
                self._stops += 1
            else:
                self._tick += 1
                if owner not in self._lanes:
                    self._lanes[owner] = deque()
                    self._since[owner] = self._tick
                self._lanes[owner].append(item)
            self._ready.notify()

    def get(self) -> Job | None:
        with self._ready:
            self._ready.wait_for(lambda: self._stops > 0 or bool(self._lanes))
            if self._stops:
                self._stops -= 1
                return None
            owner = min(self._lanes, key=lambda o: (self._served.get(o, 0), self._since[o]))
            lane = self._lanes[owner]
            item = lane.popleft()
            self._tick += 1
            self._served[owner] = self._tick
            if not lane:
                del self._lanes[owner], self._since[owner]
            return item


def lower_thread_priority(nice: int) -> None:
    """Raise the calling thread's nice value by ``nice`` (Linux: a thread is a task of its own).

    The job threads share the process and its two cores with the web requests; niced, the
    kernel runs a request's thread first when both are ready, and every thread and process a
    job starts (pose workers, encoder threads) inherits the lower priority.
    """
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + nice))
    except OSError as exc:  # e.g. a sandbox without the permission: run at normal priority
        log.warning("could not lower the job thread's priority: %s", exc)


class _JobBook:
    """What both runners keep: the registered kinds and the jobs queued or running (ids only)."""

    def __init__(self, workers: int, resume: bool) -> None:
        self._workers = max(1, workers)
        # A service process run beside a gateway leaves resuming to the gateway.
        self._resume = resume
        self._kinds: dict[str, JobKind] = {}
        self._active: set[Job] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    def register(self, name: str, handler: Handler, pending: Pending) -> None:
        self._kinds[name] = JobKind(name, handler, pending)

    def _submit(self, item: Job, owner: int | None) -> None:
        """Hands a new job to the workers; called holding the lock."""
        raise NotImplementedError

    def enqueue(self, kind: str, job_id: int, key: str = "", owner: int | None = None) -> None:
        """Queue the job unless the same job (kind, id and key) is queued or running already;
        a job of another key is another job, even with the same id."""
        if kind not in self._kinds:
            raise KeyError(f"unknown job kind {kind!r}")
        item: Job = (kind, job_id, key)
        with self._lock:
            if item in self._active:
                return
            self._active.add(item)
            self._submit(item, owner)

    def _resume_pending(self) -> None:
        if not self._resume:
            return
        for kind in self._kinds.values():
            for entry in kind.pending():
                job_id, key, owner = _pending_entry(entry)
                log.info("resuming %s %s", kind.name, job_id)
                self.enqueue(kind.name, job_id, key, owner)

    def _finished(self, item: Job) -> None:
        with self._idle:
            self._active.discard(item)
            self._idle.notify_all()

    def depth(self) -> dict[str, int]:
        """Jobs queued or running now, per kind (the queue-depth metric)."""
        with self._lock:
            active = list(self._active)
        counts = dict.fromkeys(self._kinds, 0)
        for kind, _, _ in active:
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or running (used by the CLI and tests)."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._active, timeout)


def _pending_entry(
    entry: int | tuple[int, str] | tuple[int, str, int | None],
) -> tuple[int, str, int | None]:
    if isinstance(entry, int):
        return entry, "", None
    if len(entry) == 2:
        return entry[0], entry[1], None
    return entry[0], entry[1], entry[2]


class JobRunner(_JobBook):
    def __init__(
        self,
        workers: int = 1,
        resume: bool = True,
        nice: int = 0,
        on_done: Callable[[Job], None] | None = None,
    ) -> None:
        super().__init__(workers, resume)
        self._nice = nice
        self._on_done = on_done
        self._queue = FairQueue()
        self._threads: list[threading.Thread] = []

    def _submit(self, item: Job, owner: int | None) -> None:
        self._queue.put(item, owner)

    def start(self) -> None:
        for i in range(self._workers):
            thread = threading.Thread(target=self._loop, name=f"formcoach-job-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._resume_pending()

    def stop(self, timeout: float = 5.0) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _loop(self) -> None:
        lower_thread_priority(self._nice)
        while True:
            item = self._queue.get()
            if item is None:
                return
            kind, job_id, key = item
            # Every line logged while the job runs names it (kit/observability.py).
            context = {"run_id": job_id} if kind == "run" else {"job_id": job_id}
            try:
                with log_context(**context):
                    try:
                        self._kinds[kind].handler(job_id, key)
                    except Exception:
                        # Handlers record their own failures; this only keeps the worker alive.
                        log.exception("job %s %s crashed", kind, job_id)
            finally:
                self._finished(item)
                if self._on_done is not None:
                    self._on_done(item)


# --- the jobs of the one-process default in a child process ----------------------------------

# How often the child checks that the server is still there, and the parent that the child is.
WATCH_S = 1.0


def _child_main(
    handlers: dict[str, Handler],
    tasks: Any,
    done: Any,
    workers: int,
    nice: int,  # absolute nice value
    parent_pid: int,
    log_level: str,
    log_format: str,
) -> None:
    """The child of ProcessJobRunner: a JobRunner fed from ``tasks``, reporting to ``done``."""
    from formcoach.kit.observability import configure_logging

    # Ctrl-C reaches the whole process group: the server stops the child itself (sentinel).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    # Usually set already by the parent right after the start; threads made later inherit it.
    if os.getpriority(os.PRIO_PROCESS, 0) < nice:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    configure_logging(log_level, log_format)
    runner = JobRunner(workers, resume=False, on_done=done.put)
    for name, handler in handlers.items():
        runner.register(name, handler, list)
    runner.start()

    def watch_parent() -> None:
        # Backs up PR_SET_PDEATHSIG: a killed server must not leave this process running.
        while os.getppid() == parent_pid:
            time.sleep(WATCH_S)
        os._exit(0)

    threading.Thread(target=watch_parent, name="formcoach-job-watch", daemon=True).start()
    while True:
        item = tasks.get()
        if item is None:
            break
        kind, job_id, key, owner = item
        runner.enqueue(kind, job_id, key, owner)
    # A job still running is cut off at exit (daemon threads) and resumed at the next start.
    runner.stop(timeout=2.0)


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class ProcessJobRunner(_JobBook):
    """JobRunner's interface with the jobs run in one child process ('spawn') of lower priority.

    Threads of the web process share its GIL: pure-Python parts of a pose job (decoding
    glue, tracking) delay every request by up to the interpreter's switch interval, many times
    per request. In a child, niced, the job leaves the web process its own interpreter and the
    kernel serves requests first. The rows in the database stay the durable record: this keeps
    only ids; resuming at start-up is done here (the parent), a child that dies is started again
    with the jobs it had, and the child exits with the server (sentinel on stop, parent-death
    signal and a parent check if the server is killed).
    """

    def __init__(
        self,
        workers: int = 1,
        resume: bool = True,
        nice: int = 0,
        log_level: str = "INFO",
        log_format: str = "json",
    ) -> None:
        super().__init__(workers, resume)
        self._nice = nice
        self._log = (log_level, log_format)
        self._context = multiprocessing.get_context("spawn")
        self._tasks: Any = self._context.Queue()
        self._done: Any = self._context.Queue()
        self._process: Any = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        # Owner of each active job, for a restarted child's queue.
        self._owners: dict[Job, int | None] = {}

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (tests, diagnostics)."""
        process = self._process
        return int(process.pid) if process is not None and process.is_alive() else None

    def _submit(self, item: Job, owner: int | None) -> None:
        self._owners[item] = owner
        self._tasks.put((*item, owner))

    def start(self) -> None:
        self._stopping.clear()
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="formcoach-jobs", daemon=True)
        self._watcher.start()
        self._resume_pending()

    def _spawn(self) -> None:
        handlers = {name: kind.handler for name, kind in self._kinds.items()}
        nice = min(19, os.getpriority(os.PRIO_PROCESS, 0) + self._nice)
        args = (handlers, self._tasks, self._done, self._workers, nice, os.getpid(), *self._log)
        process = self._context.Process(
            target=_child_main, args=args, name="formcoach-jobs", daemon=True
        )
        process.start()
        try:
            # At once, before the child's interpreter starts any thread (they inherit it).
            os.setpriority(os.PRIO_PROCESS, int(process.pid or 0), nice)
        except OSError as exc:
            log.warning("could not lower the job process's priority: %s", exc)
        self._process = process

    def _watch(self) -> None:
        while not self._stopping.is_set():
            try:
                item = self._done.get(timeout=WATCH_S)
            except queue.Empty:
                process = self._process
                if process is not None and not process.is_alive() and not self._stopping.is_set():
                    self._restart(process.exitcode)
                continue
            job: Job = (str(item[0]), int(item[1]), str(item[2]))
            with self._lock:
                self._owners.pop(job, None)
            self._finished(job)

    def _restart(self, exitcode: int | None) -> None:
        log.error("the job process exited (code %s); starting it again", exitcode)
        with self._lock:
            # A queue the dead child was reading may be left locked: fresh queues, same jobs.
            self._tasks, self._done = self._context.Queue(), self._context.Queue()
            for item in sorted(self._active):
                self._tasks.put((*item, self._owners.get(item)))
            self._spawn()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        process = self._process
        if process is not None:
            self._tasks.put(None)
            process.join(timeout)
            if process.is_alive():
                process.terminate()
                process.join(timeout)
            if process.is_alive():
                process.kill()
                process.join(timeout)
        if self._watcher is not None:
            self._watcher.join(timeout)
            self._watcher = None
        self._process = None
