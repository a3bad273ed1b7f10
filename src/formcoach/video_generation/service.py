"""Public functions of the video_generation service: drill-video jobs and their views.

A job row is created (and committed by the caller) before any work starts; the job runner,
or the pipeline stage, then calls process_job with the id. process_job is idempotent: a
finished job is left alone, and an interrupted one ("running" at start-up) is simply done
again, since its outputs are written atomically under keys derived from its id.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from formcoach.advice_generation.service import get_drill, list_drills, match_drill
from formcoach.kit.db import session_scope
from formcoach.kit.errors import AppError, render_message
from formcoach.kit.i18n import Language, pick
from formcoach.kit.settings import Settings, get_settings
from formcoach.kit.storage import Storage, get_storage
from formcoach.runs.models import Run
from formcoach.runs.service import get_run_for_user
from formcoach.video_generation.cloud import is_cloud, model_of
from formcoach.video_generation.cloud_jobs import cancel_cloud_job, check_budget, process_cloud_job
from formcoach.video_generation.models import UNFINISHED, VideoJob
from formcoach.video_generation.motions import MOTIONS, motion_for
from formcoach.video_generation.proportions import body_for_run, body_from_code, figure_code
from formcoach.video_generation.records import (
    MESSAGES,
    STANDARD_FIGURE,
    cache_key,
    has_spend,
    record_failure,
    record_spend,
    record_success,
    set_status,
    thumbnail_key,
    video_key,
)
from formcoach.video_generation.render import SECONDS, SIZES, RenderResult, render_drill_video
from formcoach.video_generation.schemas import DrillOut, JobError, JobOut, RunVideosOut

__all__ = [
    "RenderResult",
    "create_job",
    "delete_videos_for_run",
    "drills_view",
    "ensure_pipeline_job",
    "get_job_for_user",
    "job_view",
    "pending_job_ids",
    "process_job",
    "render_drill_video",
    "run_videos_view",
    "thumbnail_path",
    "video_path",
]

log = logging.getLogger(__name__)

GENERATOR = "local"
URL_PREFIX = "/api/video-generation/videos"
# The seed's status words: "success" is what its clients look for when a video is ready.
VIEW_STATUS = {"queued": "queued", "running": "running", "completed": "success", "failed": "failed"}


def _check_format(size: str, seconds: str, language: Language) -> None:
    if size not in SIZES:
        raise AppError("validation_error", detail=f"size: one of {', '.join(SIZES)}")
    if seconds not in SECONDS:
        raise AppError("validation_error", detail=f"seconds: one of {', '.join(SECONDS)}")
    if language not in ("ja", "en"):
        raise AppError("validation_error", detail="language: ja or en")


def _suggestion_names(ids: list[str], language: Language) -> str:
    names: list[str] = []
    for drill_id in ids:
        try:
            names.append(pick(get_drill(drill_id).name.model_dump(), language))
        except KeyError:
            continue
    if not names:  # nothing close: offer the start of the library instead of an empty list
        names = [pick(d.name.model_dump(), language) for d in list_drills()[:3]]
    return ", ".join(names) if language == "en" else "、".join(names)


def _new_job(
    session: Session,
    settings: Settings | None,
    run_id: int,
    user_id: int,
    drill_id: str,
    drill_text: str,
    fmt: tuple[str, str, Language],
    generator: str,
    figure: str = STANDARD_FIGURE,
) -> VideoJob:
    """A queued job row, or one completed at once from the cache of identical videos."""
    size, seconds, language = fmt
    model = model_of(settings) if settings is not None and is_cloud(generator) else ""
    key = cache_key(drill_id, size, seconds, language, generator, figure, model)
    job = VideoJob(
        run_id=run_id,
        user_id=user_id,
        drill_id=drill_id,
        drill_text=drill_text,
        language=language,
        size=size,
        seconds=seconds,
        generator=generator,
        figure=figure,
        cache_key=key,
        billed_seconds=0,
        request_marker=f"fc-{secrets.token_hex(12)}" if is_cloud(generator) else None,
    )
    hit = _cached(session, settings, key)
    if hit is not None:
        # Both rows point at the same files; deleting either run keeps what the other uses.
        job.storage_key, job.thumbnail_key = hit.storage_key, hit.thumbnail_key
        set_status(job, "completed")
    else:
        if settings is not None and is_cloud(generator):
            check_budget(settings, seconds)
        set_status(job, "queued")
    session.add(job)
    session.flush()
    return job


def _cached(session: Session, settings: Settings | None, key: str) -> VideoJob | None:
    if settings is None:
        return None
    storage = get_storage(settings)
    candidates = session.scalars(
        select(VideoJob)
        .where(VideoJob.cache_key == key, VideoJob.status == "completed")
        .order_by(VideoJob.id.desc())
        .limit(5)
    )
    for job in candidates:
        if job.storage_key and job.thumbnail_key and storage.exists(job.storage_key):
            return job
    return None


def create_job(
    session: Session,
    user_id: int,
    run_id: int,
    drill_text: str,
    size: str,
    seconds: str,
    language: Language | None = None,
    settings: Settings | None = None,
    figure_from_run: int | None = None,
) -> VideoJob:
    """A job for the drill that ``drill_text`` names, on one of the user's runs.

    ``figure_from_run`` (needs ``settings``): the figure takes the proportions measured in
    that run, which must be the user's too (not_found otherwise; figure_unavailable when the
    run has no measured keypoints).

    With ``settings`` the configured generator is used and an identical finished video is
    reused at once (the job is then already "completed"); without, the local generator and
    no cache. Raises not_found (not the user's run), unknown_drill (with suggestions),
    validation_error, generation_budget_exceeded (cloud). The caller commits, then hands the
    id to the job runner.
    """
    run = get_run_for_user(session, user_id, run_id)
    lang = language or run.language
    _check_format(size, seconds, lang)
    match = match_drill(drill_text)
    if match.drill is None:
        raise AppError("unknown_drill", suggestions=_suggestion_names(match.suggestions, lang))
    generator = settings.video_generator if settings is not None else GENERATOR
    fmt = (size, seconds, lang)
    figure = STANDARD_FIGURE
    if figure_from_run is not None and settings is not None:
        source = get_run_for_user(session, user_id, figure_from_run)
        figure = figure_code(body_for_run(get_storage(settings), source.run_key, settings))
    return _new_job(
        session, settings, run.id, user_id, match.drill.id, drill_text, fmt, generator, figure
    )


def _pipeline_generator(settings: Settings, seconds: str) -> str:
    """The configured generator; over the cloud budget the report still gets local videos."""
    if not is_cloud(settings.video_generator):
        return GENERATOR
    try:
        check_budget(settings, seconds)
    except AppError:
        log.warning("cloud video budget used up: drill videos of runs fall back to local")
        return GENERATOR
    return settings.video_generator


def ensure_pipeline_job(
    settings: Settings, run_id: int, drill_id: str, size: str, seconds: str, language: Language
) -> int:
    """The job for this run/drill/format, created if missing; a failed one is queued again.

    Re-running the pipeline stage therefore reuses finished videos instead of duplicating them;
    a failed cloud job keeps its provider job id, so it is downloaded again, not re-generated.
    """
    with session_scope(settings.db_url) as session:
        job = session.scalars(
            select(VideoJob)
            .where(
                VideoJob.run_id == run_id,
                VideoJob.drill_id == drill_id,
                VideoJob.size == size,
                VideoJob.seconds == seconds,
                VideoJob.language == language,
            )
            .order_by(VideoJob.id.desc())
            .limit(1)
        ).first()
        if job is None:
            run = session.get(Run, run_id)
            if run is None:
                raise AppError("not_found")
            generator = _pipeline_generator(settings, seconds)
            fmt = (size, seconds, language)
            job = _new_job(
                session, settings, run_id, run.user_id, drill_id, drill_id, fmt, generator
            )
        elif job.status == "failed":
            job.error_code = job.error_message = None
            set_status(job, "queued")
        session.flush()
        return job.id


def _failure(exc: Exception, language: Language) -> tuple[str, str]:
    if isinstance(exc, AppError):
        return exc.code, exc.message(language)
    if isinstance(exc, KeyError):  # the drill left the library after the job was queued
        names = _suggestion_names([], language)
        return "unknown_drill", render_message("unknown_drill", language, suggestions=names)
    return "video_generation_failed", render_message("video_generation_failed", language)


def process_job(
    job_id: int, settings: Settings, progress: Callable[[float], None] | None = None
) -> None:
    """Make the job's video (locally or through its cloud provider) and record the outcome.

    Completed and failed jobs are left as they are; failures are recorded on the row, never
    raised, so one bad drill cannot take a worker or the pipeline down.
    """
    with session_scope(settings.db_url) as session:
        job = session.get(VideoJob, job_id)
        if job is None or job.status not in UNFINISHED:
            return
        set_status(job, "running")
        drill_id, language, size, seconds = job.drill_id, job.language, job.size, job.seconds
        cloud, body = is_cloud(job.generator), body_from_code(job.figure)
    if cloud:
        process_cloud_job(job_id, settings)
        return
    storage = get_storage(settings)
    try:
        drill = get_drill(drill_id)
        with (
            storage.writer(video_key(job_id), suffix=".mp4") as video_tmp,
            storage.writer(thumbnail_key(job_id), suffix=".jpg") as thumb_tmp,
        ):
            result = render_drill_video(
                drill,
                language,
                size,
                seconds,
                video_tmp,
                thumbnail=thumb_tmp,
                progress=progress,
                body=body,
            )
    except Exception as exc:
        code, message = _failure(exc, language)
        log.exception("drill video job %s failed (%s)", job_id, code)
        record_failure(settings, job_id, code, message)
        return
    log.info("drill video job %s: %s rendered in %.2f s", job_id, drill_id, result.elapsed_s)
    record_success(settings, job_id)


def pending_job_ids(settings: Settings) -> list[int]:
    """Jobs not finished (queued, or running when the process stopped): to resume at start-up."""
    with session_scope(settings.db_url) as session:
        rows = session.scalars(
            select(VideoJob.id).where(VideoJob.status.in_(UNFINISHED)).order_by(VideoJob.id)
        )
        return list(rows)


def job_view(job: VideoJob, language: Language | None = None) -> dict[str, Any]:
    """The seed's status shape {run_id, job_id, status, message, video_url, error}, plus details.

    Texts are in ``language`` (default: the job's). video_url is formcoach's own URL.
    """
    lang = language or job.language
    done = job.status == "completed"
    error = None
    if job.status == "failed":
        code = job.error_code or "internal_error"
        same = lang == job.language and job.error_message
        message = job.error_message if same else render_message(code, lang)
        error = JobError(code=code, message=message or "")
    view = JobOut(
        run_id=job.run_id,
        job_id=job.id,
        status=VIEW_STATUS[job.status],
        message=pick(MESSAGES[job.status], lang),
        video_url=f"{URL_PREFIX}/{job.id}" if done else None,
        error=error,
        drill_id=job.drill_id,
        size=job.size,
        seconds=job.seconds,
        language=job.language,
        generator=job.generator,
        figure=job.figure,
        thumbnail_url=f"{URL_PREFIX}/{job.id}/thumbnail" if done else None,
    )
    return view.model_dump()


def run_videos_view(
    session: Session, user_id: int, run_id: int, language: Language | None = None
) -> dict[str, Any]:
    """The latest job of the user's run in the seed's shape, with all its jobs under "jobs"."""
    get_run_for_user(session, user_id, run_id)
    jobs = list(
        session.scalars(select(VideoJob).where(VideoJob.run_id == run_id).order_by(VideoJob.id))
    )
    if not jobs:
        raise AppError("not_found")
    views = [job_view(job, language) for job in jobs]
    return RunVideosOut(**views[-1], jobs=views).model_dump()


def get_job_for_user(session: Session, user_id: int, job_id: int) -> VideoJob:
    """The job if its run belongs to the user; otherwise not_found (never reveal others' ids)."""
    job = session.get(VideoJob, job_id)
    if job is None:
        raise AppError("not_found")
    get_run_for_user(session, user_id, job.run_id)
    return job


def video_path(storage: Storage, job: VideoJob) -> Path:
    if job.status != "completed" or not job.storage_key or not storage.exists(job.storage_key):
        raise AppError("not_found")
    return storage.local_path(job.storage_key)


def thumbnail_path(storage: Storage, job: VideoJob) -> Path:
    key = job.thumbnail_key
    if job.status != "completed" or not key or not storage.exists(key):
        raise AppError("not_found")
    return storage.local_path(key)


def delete_videos_for_run(
    session: Session, storage: Storage, run_id: int, settings: Settings | None = None
) -> list[str]:
    """Remove a run's drill videos and job rows (called when the run is deleted).

    A video lives in the folder of the job that rendered it (``videos/<job id>/``); jobs served
    from the cache point at that folder. A folder goes with the last job pointing at it, from
    whichever run: a cached video another run still shows is kept, and is deleted with that
    run. Returns the folders deleted, so the caller can delete them again after its commit (a
    renderer still writing then is caught). With ``settings``, cloud jobs still being generated
    are cancelled at the provider (best effort).
    """
    jobs = list(session.scalars(select(VideoJob).where(VideoJob.run_id == run_id)))
    folders: set[str] = set()
    for job in jobs:
        folders.add(f"videos/{job.id}")
        folders.update(key.rsplit("/", 1)[0] for key in (job.storage_key, job.thumbnail_key) if key)
        unfinished = job.status in UNFINISHED and job.provider_job_id is not None
        if settings is not None and is_cloud(job.generator) and unfinished:
            cancel_cloud_job(settings, job.provider_job_id or "")
        # What it cost stays in the ledger (kept in step by cloud_jobs); a job billed before
        # the ledger existed, or by hand, gets its row now. A cancelled job stays counted:
        # the provider may have generated (and billed) part of it.
        if job.billed_seconds > 0 and not has_spend(session, job):
            price = (settings or get_settings()).cloud_video_usd_per_second
            record_spend(session, job, price)
        session.delete(job)
    session.flush()
    deleted: list[str] = []
    for folder in sorted(folders):
        inside = folder + "/"
        still_used = session.scalar(
            select(func.count())
            .select_from(VideoJob)
            .where(
                VideoJob.storage_key.startswith(inside, autoescape=True)
                | VideoJob.thumbnail_key.startswith(inside, autoescape=True)
            )
        )
        if not still_used:
            storage.delete_prefix(folder)
            deleted.append(folder)
    return deleted


def drills_view(settings: Settings, language: Language) -> list[dict[str, Any]]:
    """Every drill the generators can make, with the formats on offer."""
    generators = [GENERATOR]
    if is_cloud(settings.video_generator):
        generators.append(settings.video_generator)
    out: list[dict[str, Any]] = []
    for drill in list_drills():
        motion = motion_for(drill)
        view = DrillOut(
            drill_id=drill.id,
            name=pick(drill.name.model_dump(), language),
            posture=drill.posture,
            kind=drill.kind,
            motion=motion.id,
            own_motion=drill.motion in MOTIONS or drill.id in MOTIONS,
            sizes=list(SIZES),
            seconds=list(SECONDS),
            languages=["ja", "en"],
            generators=generators,
            default_generator=settings.video_generator,
        )
        out.append(view.model_dump())
    return out
