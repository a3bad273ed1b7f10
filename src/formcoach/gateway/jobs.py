"""The run pipeline: executes each service's stage in order, durably and idempotently.

Stage rows in the database record what is done. A run picked up again after a crash skips
the stages marked done and re-runs the one that was interrupted (every stage overwrites its
own outputs, so a second execution gives the same artifacts).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from formcoach.gateway.models import STAGES, Run, RunStage
from formcoach.kit.accounts import utcnow
from formcoach.kit.db import session_scope
from formcoach.kit.errors import AppError, render_message
from formcoach.kit.pipeline import RunOptions, StageContext
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage

log = logging.getLogger(__name__)

# stage -> "module:function"; resolved lazily so importing the gateway stays light.
STAGE_FUNCTIONS: dict[str, str] = {
    "probe": "formcoach.video_processing.jobs:run_probe",
    "pose": "formcoach.pose_estimation.jobs:run",
    "features": "formcoach.feature_extraction.jobs:run",
    "annotate": "formcoach.video_processing.jobs:run_annotate",
    "analysis": "formcoach.analysis.jobs:run",
    "advice": "formcoach.advice_generation.jobs:run",
    "drill_videos": "formcoach.video_generation.jobs:run",
}

# Share of the run's progress bar per stage, roughly its share of the time.
STAGE_WEIGHTS: dict[str, float] = {
    "probe": 12,
    "pose": 50,
    "features": 3,
    "annotate": 15,
    "analysis": 2,
    "advice": 2,
    "drill_videos": 16,
}

ProgressHook = Callable[[str, float], None]


def stage_function(stage: str) -> Callable[[StageContext], None]:
    module_name, _, attr = STAGE_FUNCTIONS[stage].partition(":")
    func: Callable[[StageContext], None] = getattr(importlib.import_module(module_name), attr)
    return func


def overall_progress(done: dict[str, float]) -> float:
    total = sum(STAGE_WEIGHTS.values())
    return round(100.0 * sum(STAGE_WEIGHTS[s] * done.get(s, 0.0) for s in STAGES) / total, 1)


def pending_run_ids(settings: Settings) -> list[int]:
    with session_scope(settings.db_url) as session:
        rows = session.scalars(
            select(Run.id).where(Run.status.in_(("queued", "running"))).order_by(Run.id)
        )
        return list(rows)


class _ProgressWriter:
    """Writes stage progress to the database at most a few times a second."""

    def __init__(self, settings: Settings, run_id: int, stage: str, base: dict[str, float]) -> None:
        self.settings = settings
        self.run_id = run_id
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
            run = session.get(Run, self.run_id)
            if row is None or run is None:
                return
            row.progress = fraction
            run.progress = overall_progress({**self.base, self.stage: fraction})


def process_run(run_id: int, settings: Settings, hook: ProgressHook | None = None) -> None:
    """Job handler: take the run through every stage not yet done."""
    storage = LocalStorage(settings.files_dir)
    with session_scope(settings.db_url) as session:
        run = session.get(Run, run_id)
        if run is None or run.status in ("completed", "failed"):
            return
        run.status = "running"
        run.started_at = run.started_at or utcnow()
        options = RunOptions(run.movement, run.view, run.height_cm, run.language)
        done = {s.name: 1.0 for s in run.stages if s.status == "done"}
        language = run.language

    for stage in STAGES:
        if done.get(stage) == 1.0:
            continue
        with session_scope(settings.db_url) as session:
            row = _stage_row(session, run_id, stage)
            run = session.get(Run, run_id)
            if row is None or run is None:
                return  # deleted while running
            row.status = "running"
            row.attempts += 1
            row.started_at = utcnow()
            row.progress = 0.0
            run.stage = stage
        progress = _ProgressWriter(settings, run_id, stage, done)
        progress.hook = hook
        ctx = StageContext(run_id, options, storage, settings, progress)
        started = time.monotonic()
        try:
            stage_function(stage)(ctx)
        except AppError as exc:
            _fail(settings, run_id, stage, exc.code, exc.message(language))
            return
        except Exception:
            log.exception("run %s: stage %s crashed", run_id, stage)
            _fail(
                settings,
                run_id,
                stage,
                "internal_error",
                render_message("internal_error", language),
            )
            return
        log.info("run %s: stage %s done in %.2f s", run_id, stage, time.monotonic() - started)
        done[stage] = 1.0
        with session_scope(settings.db_url) as session:
            row = _stage_row(session, run_id, stage)
            run = session.get(Run, run_id)
            if row is None or run is None:
                return
            row.status = "done"
            row.progress = 1.0
            row.finished_at = utcnow()
            run.progress = overall_progress(done)

    with session_scope(settings.db_url) as session:
        run = session.get(Run, run_id)
        if run is not None:
            run.status = "completed"
            run.stage = None
            run.progress = 100.0
            run.finished_at = utcnow()


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
