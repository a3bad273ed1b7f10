"""The runs resource: ownership checks, create, view, status, lists, compare and delete."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from formcoach.accounts.users import User
from formcoach.kit.errors import AppError
from formcoach.kit.pipeline import FOLLOW_UP_OUTPUTS, RunOptions, new_run_key
from formcoach.kit.schemas import ErrorDetail
from formcoach.kit.settings import Settings
from formcoach.kit.storage import Storage
from formcoach.runs.models import PERSON_MAX, Run, RunStage, person_search_key
from formcoach.runs.schemas import RunOut, StageOut

_RUNS = Run.__table__.c
_RUN_STAGES = RunStage.__table__.c
# Built once: compiling a statement costs more than running it on SQLite.
_RUN_BY_ID = select(Run.__table__).where(_RUNS.id == bindparam("run_id"))
_STAGES_OF_RUN = (
    select(RunStage.__table__)
    .where(_RUN_STAGES.run_id == bindparam("run_id"))
    .order_by(_RUN_STAGES.position)
)


def get_run_for_user(session: Session, user_id: int, run_id: int) -> Run:
    """The run if it belongs to the user; otherwise not_found (never reveal others' ids)."""
    run = session.get(Run, run_id)
    if run is None or run.user_id != user_id:
        raise AppError("not_found")
    return run


def create_run(
    session: Session,
    user: User,
    options: RunOptions,
    filename: str,
    size: int,
    person: str | None = None,
    *,
    stages: Sequence[str],
) -> Run:
    """A new queued run with a pending row per stage (the pipeline's stage names, in order)."""
    run = Run(
        user_id=user.id,
        run_key=new_run_key(),
        movement=options.movement,
        view=options.view,
        height_cm=options.height_cm,
        language=options.language,
        subject=options.subject,
        camera_roll_deg=options.camera_roll_deg,
        person=person,
        person_key=None if person is None else person_search_key(person),
        original_filename=filename,
        upload_bytes=size,
        stages=[RunStage(name=name, position=i) for i, name in enumerate(stages)],
    )
    session.add(run)
    session.flush()
    return run


def check_queue_room(session: Session, user_id: int, settings: Settings) -> None:
    """Refuse a new run (too_many_queued_runs) while the user has max_queued_runs_per_user
    runs queued or running: the fairness limit, checked before anything is stored."""
    limit = settings.max_queued_runs_per_user
    if limit <= 0:
        return
    active = session.scalar(
        select(func.count())
        .select_from(Run)
        .where(Run.user_id == user_id, Run.status.in_(("queued", "running")))
    )
    if int(active or 0) >= limit:
        raise AppError("too_many_queued_runs", limit=limit)


def delete_folders(storage: Storage, folders: list[str]) -> None:
    """The second pass after the commit that deleted the rows (see delete_run)."""
    for folder in folders:
        storage.delete_prefix(folder)


def _duration(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def _is_report_ready(status: str, stages: Sequence[Any]) -> bool:
    if status == "completed":
        return True
    follow_ups = set(FOLLOW_UP_OUTPUTS.values())
    report_stages = [s for s in stages if s.name not in follow_ups]
    return bool(report_stages) and all(s.status == "done" for s in report_stages)


def report_ready(run: Run) -> bool:
    """True once every stage the report reads is done (analysis and advice written): the
    report is served from then on, before the annotated video and the drill videos."""
    return _is_report_ready(run.status, run.stages)


def _pending_outputs(status: str, stages: Iterable[Any]) -> list[Any]:
    if status == "failed":
        return []  # nothing more is coming
    done = {s.name for s in stages if s.status == "done"}
    return [output for output, stage in FOLLOW_UP_OUTPUTS.items() if stage not in done]


def run_view(run: Run) -> RunOut:
    return _run_out(run, run.stages)


def run_status(session: Session, user_id: int, run_id: int) -> RunOut:
    """run_view(get_run_for_user(...)) from two Core queries on the session's connection,
    without ORM objects: GET /api/runs/{id}, polled every second by each open progress page."""
    return run_status_and_key(session, user_id, run_id)[0]


def run_status_and_key(session: Session, user_id: int, run_id: int) -> tuple[RunOut, str]:
    """run_status and the run's storage key (for reading its artifacts, e.g. the clip length)."""
    connection = session.connection()
    run = connection.execute(_RUN_BY_ID, {"run_id": run_id}).first()
    if run is None or run.user_id != user_id:
        raise AppError("not_found")
    stages = connection.execute(_STAGES_OF_RUN, {"run_id": run_id}).all()
    return _run_out(run, stages), str(run.run_key)


def _run_out(run: Any, stages: Iterable[Any]) -> RunOut:
    """The view of a run; run and stages are ORM objects or Core rows (same attribute names)."""
    url = f"/api/runs/{run.id}"
    stages = list(stages)
    ready = _is_report_ready(run.status, stages)
    error = (
        ErrorDetail(code=run.error_code, message=run.error_message or "")
        if run.error_code
        else None
    )
    return RunOut(
        id=run.id,
        url=url,
        status=run.status,
        stage=run.stage,
        progress=run.progress,
        movement=run.movement,
        view=run.view,
        height_cm=run.height_cm,
        language=run.language,
        original_filename=run.original_filename,
        person=run.person,
        subject=run.subject,
        camera_roll_deg=run.camera_roll_deg,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        stages=[
            StageOut(
                name=s.name,
                status=s.status,
                progress=s.progress,
                attempts=s.attempts,
                started_at=s.started_at,
                finished_at=s.finished_at,
                duration_s=_duration(s.started_at, s.finished_at),
                error_code=s.error_code,
            )
            for s in stages
        ],
        error=error,
        report_url=f"{url}/report" if ready else None,
        report_ready=ready,
        pending_outputs=_pending_outputs(run.status, stages),
    )


def day_start(day: date | None, days_after: int = 0) -> datetime | None:
    """Midnight UTC of the day (plus days_after): date filters compare with created_at."""
    if day is None or day > date.max - timedelta(days=days_after):
        return None  # after the last representable day: no bound
    return datetime.combine(day + timedelta(days=days_after), time.min, tzinfo=UTC)


def list_runs_filtered(
    session: Session,
    user: User,
    page: int,
    per_page: int,
    *,
    movement: str | None = None,
    person: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> tuple[list[Run], int]:
    """Newest first. `person` is a case-insensitive part of the run's person label."""
    where = [Run.user_id == user.id]
    if movement:
        where.append(Run.movement == movement)
    if person:
        key = person_search_key(person)
        escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(Run.person_key.like(f"%{escaped}%", escape="\\"))
    if date_from is not None:
        where.append(Run.created_at >= date_from)
    if date_to is not None:
        where.append(Run.created_at < date_to)
    total = session.scalar(select(func.count()).select_from(Run).where(*where))
    rows = session.scalars(
        select(Run)
        .where(*where)
        .order_by(Run.created_at.desc(), Run.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), int(total or 0)


def list_persons(session: Session, user: User, limit: int = 200) -> list[str]:
    """The user's person labels, most recently used first (the upload form's suggestions)."""
    latest = func.max(Run.created_at)
    rows = session.execute(
        select(Run.person, latest)
        .where(Run.user_id == user.id, Run.person.is_not(None))
        .group_by(Run.person)
        .order_by(latest.desc())
        .limit(limit)
    )
    return [str(person) for person, _ in rows]


def clean_person(value: str | None) -> str | None:
    """A person label as stored: whitespace collapsed, printable, at most PERSON_MAX characters."""
    text = " ".join((value or "").split())
    if not text:
        return None
    if len(text) > PERSON_MAX:
        raise AppError("validation_error", detail=f"person: at most {PERSON_MAX} characters")
    if not text.isprintable():
        raise AppError("validation_error", detail="person: printable characters only")
    return text
