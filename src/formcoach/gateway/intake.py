"""From a received video file to a queued run: the one path of a form upload and of a resumable
upload (gateway/uploads.py), so a recording goes through the same validation as a file."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from formcoach.accounts.users import User
from formcoach.kit.errors import AppError
from formcoach.kit.pipeline import UPLOAD, RunOptions, run_file
from formcoach.kit.settings import Settings
from formcoach.kit.storage import Storage, move_into
from formcoach.pipeline.stages import STAGES
from formcoach.runs import service as runs_service
from formcoach.runs.schemas import RunCreated


def camera_roll(value: str | None) -> float | None:
    """The upload field camera_roll_deg: degrees, normalised to (-180, 180]; blank = unknown."""
    if value is None or not value.strip():
        return None
    try:
        roll = float(value)
    except ValueError:
        raise AppError("validation_error", detail="camera_roll_deg must be a number") from None
    if not math.isfinite(roll) or abs(roll) > 360:
        raise AppError("validation_error", detail="camera_roll_deg must be within ±360 degrees")
    roll = (roll + 180.0) % 360.0 - 180.0
    return 180.0 if roll == -180.0 else round(roll, 2)


async def start_run(
    request: Request,
    session: Session,
    storage: Storage,
    settings: Settings,
    user: User,
    options: RunOptions,
    person_field: str | None,
    filename: str,
    dest: Path,
    check: Callable[[Path, Settings], None] | None = None,
) -> RunCreated:
    """Probe ``dest``, record the run, move the file into its folder, commit, enqueue.

    ``check`` runs after the probe (the recording path's look for a person). Raises the
    probe's AppError (not_a_video, video_too_short, ...) with nothing recorded; the
    caller removes ``dest`` whatever happens.
    """
    from formcoach.video_processing.service import probe

    size = dest.stat().st_size
    if size == 0:
        raise AppError("empty_file")
    await run_in_threadpool(probe, dest, settings)
    if check is not None:
        await run_in_threadpool(check, dest, settings)
    person = runs_service.clean_person(person_field)
    runs_service.check_queue_room(session, user.id, settings)
    run = runs_service.create_run(
        session, user, options, filename, size, person=person, stages=STAGES
    )
    try:
        move_into(storage, run_file(run.run_key, UPLOAD), dest)  # a copy can fill the disk
        session.commit()
    except Exception:
        storage.delete_prefix(run.folder)
        raise
    # Enqueued only after the commit, so a worker always finds the run it is given.
    request.app.state.jobs.enqueue("run", run.id, run.run_key, user.id)
    return RunCreated(id=run.id, url=f"/api/runs/{run.id}", status=run.status)
