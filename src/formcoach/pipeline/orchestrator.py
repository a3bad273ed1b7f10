"""The run pipeline: executes each service's stage in order, durably and idempotently.

Stage rows in the database record what is done. A run picked up again after a crash skips
the stages marked done and re-runs the one that was interrupted (every stage overwrites its
own outputs, so a second execution gives the same artifacts).

Two ways to drive it, same stage code: ``process_run`` takes a run through every stage in one
thread (the one-process default); with a broker, each stage is a Celery task on its service's
queue that takes the run id and sends the next stage when it is done (``register_tasks``).
Marking a stage done is a compare-and-set, so a redelivered stage never chains twice.

A job names its run by id and ``run_key``; every check (loading the run, each progress write,
each storage write, marking a stage done) compares both, so a job of a deleted run stops at its
next step and writes nothing, and never into a run that later got the same id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from formcoach.accounts.users import utcnow
from formcoach.kit.backoff import doubling_backoff
from formcoach.kit.db import session_scope
from formcoach.kit.diskspace import is_disk_full
from formcoach.kit.errors import AppError, render_message
from formcoach.kit.i18n import Language
from formcoach.kit.observability import log_context
from formcoach.kit.pipeline import SERVICES, RunGone, RunOptions, StageContext, run_folder
from formcoach.kit.settings import Settings
from formcoach.kit.storage import Storage, get_storage
from formcoach.pipeline.stages import BY_NAME, STAGE_QUEUES, STAGE_WEIGHTS, STAGES
from formcoach.runs.models import TERMINAL, Run, RunStage

if TYPE_CHECKING:
    from celery import Celery, Task

    from formcoach.pipeline.celery_app import CeleryBackend, Route

log = logging.getLogger(__name__)

# One Celery queue per service.
QUEUES: tuple[str, ...] = SERVICES
DRILL_VIDEO_TASK = "formcoach.drill_video"
DRILL_VIDEO_QUEUE = "video_generation"

ProgressHook = Callable[[str, float], None]


def stage_task_name(stage: str) -> str:
    return f"formcoach.stage.{stage}"


def stage_function(stage: str) -> Callable[[StageContext], None]:
    return BY_NAME[stage].run


def overall_progress(done: dict[str, float]) -> float:
    total = sum(STAGE_WEIGHTS.values())
    return round(100.0 * sum(STAGE_WEIGHTS[s] * done.get(s, 0.0) for s in STAGES) / total, 1)


__all__ = ["RunGone"]


def pending_run_ids(settings: Settings) -> list[int]:
    return [run_id for run_id, _, _ in pending_runs(settings)]


def pending_runs(settings: Settings) -> list[tuple[int, str, int | None]]:
    """(id, run_key, user id) of every unfinished run, oldest first: the runner's resume list."""
    with session_scope(settings.db_url) as session:
        rows = session.execute(
            select(Run.id, Run.run_key, Run.user_id)
            .where(Run.status.in_(("queued", "running")))
            .order_by(Run.id)
        )
        return [(int(i), str(k), int(u)) for i, k, u in rows]


def run_job(run_id: int, run_key: str, *, settings: Settings) -> None:
    """The "run" handler of the in-process runners (a module function: the job process pickles
    it)."""
    process_run(run_id, settings, run_key=run_key or None)


def _run_row(session: Session, run_id: int, run_key: str | None) -> Run | None:
    """The run with this id, if it is still the one with this key (None: any key)."""
    run = session.get(Run, run_id)
    if run is None or (run_key is not None and run.run_key != run_key):
        return None
    return run


class _ProgressWriter:
    """Writes stage progress to the database at most a few times a second."""

    def __init__(
        self, settings: Settings, run_id: int, run_key: str, stage: str, base: dict[str, float]
    ) -> None:
        self.settings = settings
        self.run_id = run_id
        self.run_key = run_key
        self.stage = stage
        self.base = base
        self.last = 0.0
        self.hook: ProgressHook | None = None

    def __call__(self, fraction: float) -> None:
        fraction = min(1.0, max(0.0, fraction))
        if self.hook is not None:
            self.hook(self.stage, fraction)
        now = time.monotonic()
        if now - self.last < 0.5:
            return
        self.last = now
        with session_scope(self.settings.db_url) as session:
            row = session.scalar(
                select(RunStage).where(RunStage.run_id == self.run_id, RunStage.name == self.stage)
            )
            run = _run_row(session, self.run_id, self.run_key)
            if row is None or run is None:
                raise RunGone(self.run_id)  # deleted while running: stop the stage now
            row.progress = fraction
            run.progress = overall_progress({**self.base, self.stage: fraction})


class StorageFull(Exception):
    """A stage failed for a full disk: it is left pending (the run shows storage_full) and
    runs again after a pause, until there is space (``execute_until_space``; Celery: a retry
    with the same backoff that never gives up)."""


def _wait_for_space(
    settings: Settings, run_id: int, run_key: str, stage: str, language: Language
) -> None:
    with session_scope(settings.db_url) as session:
        run = _run_row(session, run_id, run_key)
        row = _stage_row(session, run_id, stage) if run is not None else None
        if row is not None:
            row.status = "pending"
            row.progress = 0.0
        if run is not None:
            run.error_code = "storage_full"
            run.error_message = render_message("storage_full", language)


def storage_pause(settings: Settings, attempt: int) -> float:
    """The wait before the attempt-th retry of a stage that found the disk full."""
    return doubling_backoff(settings.storage_retry_backoff_s, attempt, settings.storage_retry_max_s)


def execute_until_space(
    settings: Settings,
    run_id: int,
    stage: str,
    state: RunState,
    storage: Storage,
    hook: ProgressHook | None = None,
) -> bool:
    """execute_stage, run again after a growing pause while the disk is full. Holds its
    worker thread meanwhile: nothing else could be written either."""
    attempt = 0
    while True:
        try:
            return execute_stage(settings, run_id, stage, state, storage, hook)
        except StorageFull:
            pause = storage_pause(settings, attempt)
            log.warning("run %s: stage %s waits %.1f s for disk space", run_id, stage, pause)
            time.sleep(pause)
            attempt += 1
            if first_pending_stage(settings, run_id, state.run_key or None) != stage:
                return False  # deleted (or finished elsewhere) meanwhile


@dataclass(frozen=True)
class RunState:
    options: RunOptions
    language: Language
    done: dict[str, float]
    user_id: int | None = None
    run_key: str = ""


def load_run(settings: Settings, run_id: int, run_key: str | None = None) -> RunState | None:
    """Mark the run running; None when it is gone (or the id names a run of another key) or
    already finished."""
    with session_scope(settings.db_url) as session:
        run = _run_row(session, run_id, run_key)
        if run is None or run.status in TERMINAL:
            return None
        run.status = "running"
        run.started_at = run.started_at or utcnow()
        options = RunOptions(
            run.movement, run.view, run.height_cm, run.language, run.subject, run.camera_roll_deg
        )
        done = {s.name: 1.0 for s in run.stages if s.status == "done"}
        return RunState(options, run.language, done, run.user_id, run.run_key)


def first_pending_stage(settings: Settings, run_id: int, run_key: str | None = None) -> str | None:
    """The stage the run waits for; None when the run is gone, finished or all done."""
    with session_scope(settings.db_url) as session:
        run = _run_row(session, run_id, run_key)
        if run is None or run.status in TERMINAL:
            return None
        # In the table's order, not the rows' positions: runs made before the follow-up
        # stages moved last keep their rows' old positions.
        done = {s.name for s in run.stages if s.status == "done"}
        names = {s.name for s in run.stages}
        return next((n for n in STAGES if n in names and n not in done), None)


def execute_stage(
    settings: Settings,
    run_id: int,
    stage: str,
    state: RunState,
    storage: Storage,
    hook: ProgressHook | None = None,
    transient: tuple[type[BaseException], ...] = (),
) -> bool:
    """Run one stage and record the outcome; True when it succeeded.

    Exceptions listed in ``transient`` propagate (the Celery task retries them); any other
    failure is recorded on the run, which then stops.
    """
    key = state.run_key or None
    with session_scope(settings.db_url) as session:
        row = _stage_row(session, run_id, stage)
        run = _run_row(session, run_id, key)
        if row is None or run is None:
            return False  # deleted while running
        row.status = "running"
        row.attempts += 1
        row.started_at = utcnow()
        row.progress = 0.0
        run.stage = stage
    progress = _ProgressWriter(settings, run_id, run.run_key, stage, state.done)
    progress.hook = hook
    folder_key = run.run_key

    def alive() -> bool:
        return _run_exists(settings, run_id, folder_key)

    ctx = StageContext(
        run_id, state.options, storage, settings, progress, run_key=folder_key, alive=alive
    )
    started = time.monotonic()
    with log_context(run_id=run_id, stage=stage, user_id=state.user_id):
        failure: tuple[str, str] | None = None
        disk_full = False
        try:
            stage_function(stage)(ctx)
        except RunGone:
            pass
        except Exception as exc:
            # A full disk anywhere in the stage (the encoder's writes too, however wrapped) is
            # no fault of the video: checked before the stage's own verdict on it.
            disk_full = is_disk_full(exc)
            if disk_full:
                log.warning("run %s: stage %s ran out of disk space: %s", run_id, stage, exc)
            elif isinstance(exc, AppError):
                failure = (exc.code, exc.message(state.language))
            elif isinstance(exc, transient):
                raise
            else:
                log.exception("run %s: stage %s crashed", run_id, stage)
                failure = ("internal_error", render_message("internal_error", state.language))
        if not alive():
            # Deleted meanwhile: whatever the stage wrote after the deletion goes too (its own
            # folder only: a run that has the id now has another key, hence another folder).
            storage.delete_prefix(run_folder(folder_key))
            log.info("run %s was deleted during stage %s: stopped, files removed", run_id, stage)
            return False
        if disk_full:
            _wait_for_space(settings, run_id, folder_key, stage, state.language)
            raise StorageFull(run_id, stage)
        if failure is not None:
            _fail(settings, run_id, stage, *failure)
            return False
        log.info("run %s: stage %s done in %.2f s", run_id, stage, time.monotonic() - started)
        return True


def _run_exists(settings: Settings, run_id: int, run_key: str | None = None) -> bool:
    with session_scope(settings.db_url) as session:
        return _run_row(session, run_id, run_key) is not None


def finish_stage(
    settings: Settings,
    run_id: int,
    stage: str,
    done: dict[str, float],
    run_key: str | None = None,
) -> bool:
    """Mark the stage done; True only for the one execution that did (a compare-and-set), so
    a stage run twice (a redelivered message) is recorded once and chains the next stage once.
    The last stage also completes the run."""
    where = [RunStage.run_id == run_id, RunStage.name == stage, RunStage.status != "done"]
    if run_key is not None:
        where.append(RunStage.run_id.in_(select(Run.id).where(Run.run_key == run_key)))
    with session_scope(settings.db_url) as session:
        changed = session.execute(
            update(RunStage).where(*where).values(status="done", progress=1.0, finished_at=utcnow())
        )
        if getattr(changed, "rowcount", 0) != 1:
            return False
        run = _run_row(session, run_id, run_key)
        if run is None:
            return False
        done = {**done, stage: 1.0}
        run.progress = overall_progress(done)
        if run.error_code == "storage_full":
            run.error_code = run.error_message = None  # it had waited for space: no longer
        if all(s.status == "done" or s.name == stage for s in run.stages):
            run.status = "completed"
            run.stage = None
            run.progress = 100.0
            run.finished_at = utcnow()
        return True


def process_run(
    run_id: int,
    settings: Settings,
    hook: ProgressHook | None = None,
    run_key: str | None = None,
) -> None:
    """Job handler of the thread runner: take the run through every stage not yet done. Given
    ``run_key``, a run deleted meanwhile (or an id that now names another run) is skipped."""
    state = load_run(settings, run_id, run_key)
    if state is None:
        return
    storage = get_storage(settings)
    done = dict(state.done)
    for stage in STAGES:
        if done.get(stage) == 1.0:
            continue
        if not execute_until_space(settings, run_id, stage, state, storage, hook):
            return
        finish_stage(settings, run_id, stage, done, state.run_key)
        done[stage] = 1.0
        state = RunState(state.options, state.language, done, state.user_id, state.run_key)


def _stage_row(session: Session, run_id: int, stage: str) -> RunStage | None:
    return session.scalar(select(RunStage).where(RunStage.run_id == run_id, RunStage.name == stage))


def _fail(settings: Settings, run_id: int, stage: str, code: str, message: str) -> None:
    with session_scope(settings.db_url) as session:
        row = _stage_row(session, run_id, stage)
        run = session.get(Run, run_id)
        if row is not None:
            row.status = "failed"
            row.error_code = code
            row.finished_at = utcnow()
        if run is not None:
            run.status = "failed"
            run.error_code = code
            run.error_message = message
            run.finished_at = utcnow()


# --- Celery ---------------------------------------------------------------------------------


def _transient() -> tuple[type[BaseException], ...]:
    """Failures of the infrastructure, not of the video: worth a retry with backoff."""
    from botocore.exceptions import BotoCoreError
    from redis import RedisError

    return (
        OperationalError,
        InterfaceError,
        ConnectionError,
        TimeoutError,
        BotoCoreError,
        RedisError,
    )


def run_route(settings: Settings, run_id: int) -> Route | None:
    from formcoach.pipeline.celery_app import Route

    stage = first_pending_stage(settings, run_id)
    return None if stage is None else Route(stage_task_name(stage), STAGE_QUEUES[stage])


def video_route(_job_id: int) -> Route:
    from formcoach.pipeline.celery_app import Route

    return Route(DRILL_VIDEO_TASK, DRILL_VIDEO_QUEUE)


def pending_video_job_ids(settings: Settings) -> list[int]:
    """Unfinished drill-video jobs of finished runs; a running run's drill_videos stage renders
    its own jobs, so the watchdog must not send those a second time."""
    from formcoach.video_generation.models import UNFINISHED, VideoJob

    with session_scope(settings.db_url) as session:
        rows = session.scalars(
            select(VideoJob.id)
            .join(Run, Run.id == VideoJob.run_id)
            .where(VideoJob.status.in_(UNFINISHED), Run.status.in_(TERMINAL))
            .order_by(VideoJob.id)
        )
        return list(rows)


def build_celery_backend(settings: Settings) -> CeleryBackend:
    from formcoach.pipeline.celery_app import CeleryBackend, Leases, create_celery

    app = create_celery(settings, QUEUES)
    backend = CeleryBackend(app, Leases.from_settings(settings), settings.watchdog_interval_s)
    backend.register(
        "run", lambda run_id: run_route(settings, run_id), lambda: pending_run_ids(settings)
    )
    backend.register("drill_video", video_route, lambda: pending_video_job_ids(settings))
    return backend


def _retry(task: Task[Any, Any], settings: Settings, exc: BaseException) -> BaseException:
    countdown = doubling_backoff(settings.job_retry_backoff_s, int(task.request.retries or 0))
    log.warning("transient failure (%s); retry in %.1f s", exc, countdown)
    retry: BaseException = task.retry(exc=exc, countdown=countdown)
    return retry


def run_stage_task(
    task: Task[Any, Any], settings: Settings, stage: str, run_id: int, run_key: str | None = None
) -> None:
    """Body of the stage tasks: one stage of one run, then send the run's next stage.

    A message carries the run's key (a message without one, from the watchdog or sent before
    run keys existed, is for whichever run has the id now): a message for a deleted run, or
    for a run whose id now names another, does nothing."""
    from formcoach.pipeline.celery_app import Leases, Route, send

    leases = Leases.from_settings(settings)
    try:
        if run_key is None:
            run_key = _current_key(settings, run_id)
            if run_key is None:
                return
        first = first_pending_stage(settings, run_id, run_key)
        if first != stage:
            # Done already: the earlier delivery may have died between its commit and sending
            # the next stage, so send it, but only from the stage just before it.
            position = STAGES.index(stage) + 1
            if first is not None and position < len(STAGES) and STAGES[position] == first:
                route = Route(stage_task_name(first), STAGE_QUEUES[first])
                send(task.app, leases, "run", run_id, route, run_key)
            return
        state = load_run(settings, run_id, run_key)
        if state is None:
            return
        with leases.held("run", run_id, settings.job_heartbeat_s):
            try:
                ok = execute_stage(
                    settings, run_id, stage, state, get_storage(settings), transient=_transient()
                )
            except StorageFull as exc:
                # Left pending: retried after a pause until there is space, never given up.
                with suppress(Exception):
                    leases.mark_queued("run", run_id)
                countdown = storage_pause(settings, int(task.request.retries or 0))
                raise task.retry(exc=exc, countdown=countdown, max_retries=None) from exc
            won = ok and finish_stage(settings, run_id, stage, state.done, run_key)
            nxt = first_pending_stage(settings, run_id, run_key) if won else None
            if nxt is not None:
                route = Route(stage_task_name(nxt), STAGE_QUEUES[nxt])
                send(task.app, leases, "run", run_id, route, run_key)
    except _transient() as exc:
        with suppress(Exception):
            leases.mark_queued("run", run_id)  # the retry is a message too
        if task.request.retries >= settings.job_max_retries:
            log.error("run %s: stage %s gave up after %s retries", run_id, stage, exc)
            _fail(settings, run_id, stage, "internal_error", render_message("internal_error", "en"))
            return
        raise _retry(task, settings, exc) from exc


def _current_key(settings: Settings, run_id: int) -> str | None:
    with session_scope(settings.db_url) as session:
        run = session.get(Run, run_id)
        return None if run is None else run.run_key


def run_video_task(task: Task[Any, Any], settings: Settings, job_id: int) -> None:
    from formcoach.pipeline.celery_app import Leases
    from formcoach.video_generation.service import process_job

    leases = Leases.from_settings(settings)
    try:
        with leases.held("drill_video", job_id, settings.job_heartbeat_s):
            process_job(job_id, settings)
    except _transient() as exc:
        if task.request.retries >= settings.job_max_retries:
            return
        raise _retry(task, settings, exc) from exc


def register_tasks(app: Celery, settings: Settings) -> None:
    """One task per stage (routed to its service's queue) and the drill-video task."""
    from formcoach.pipeline.celery_app import task_options

    options = task_options(settings)
    for stage in STAGES:

        def body(
            task: Task[Any, Any], run_id: int, run_key: str | None = None, stage: str = stage
        ) -> None:
            run_stage_task(task, settings, stage, run_id, run_key)

        app.task(name=stage_task_name(stage), bind=True, **options)(body)

    def video(task: Task[Any, Any], job_id: int) -> None:
        run_video_task(task, settings, job_id)

    app.task(name=DRILL_VIDEO_TASK, bind=True, **options)(video)
    app.conf.task_routes = {
        **{stage_task_name(s): {"queue": q} for s, q in STAGE_QUEUES.items()},
        DRILL_VIDEO_TASK: {"queue": DRILL_VIDEO_QUEUE},
    }


def celery_worker_app(settings: Settings) -> Celery:
    from formcoach.pipeline.celery_app import create_celery

    app = create_celery(settings, QUEUES)
    register_tasks(app, settings)
    return app
