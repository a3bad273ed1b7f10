"""HTTP API of the video_generation service (mounted at /api/video-generation/).

The seed's routes (GET /, POST /generate, GET /status/{run_id}) plus the videos themselves:
formcoach serves every drill video from its own storage, with Range support for seeking.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from formcoach.accounts.deps import CurrentUser
from formcoach.kit.api import (
    DbSession,
    IdPath,
    SettingsDep,
    StorageDep,
    request_language,
    service_info,
)
from formcoach.video_generation import service
from formcoach.video_generation.schemas import DrillOut, GenerateRequest, JobOut, RunVideosOut

router = APIRouter()

JOB_KIND = "drill_video"


@router.get("/")
def info(user: CurrentUser) -> dict[str, str]:
    """Service name, version and status (authenticated like every service route)."""
    return service_info("video_generation")


@router.post("/generate", status_code=202, response_model=JobOut)
def generate(
    body: GenerateRequest,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Queue a demonstration video of the drill that ``drill_text`` names, for one of your runs.

    Answers 202 at once with the job's status; poll GET /status/{run_id} until "success".
    An identical video made before (same drill, size, seconds, language, generator, figure)
    is returned at once, already "success". Cloud generators answer 429
    generation_budget_exceeded when the day's paid seconds are used up. With
    ``figure_from_run`` (one of your runs, else 404 not_found) the figure has the proportions
    measured in that run (409 figure_unavailable if it has none).
    """
    job = service.create_job(
        session,
        user.id,
        body.run_id,
        body.drill_text,
        body.size or settings.drill_video_size,
        body.seconds or settings.drill_video_seconds,
        body.language,
        settings=settings,
        figure_from_run=body.figure_from_run,
    )
    # The worker reads the row from its own session: it must be committed before the id is queued.
    session.commit()
    if job.status != "completed":
        request.app.state.jobs.enqueue(JOB_KIND, job.id)
    return service.job_view(job, request_language(request))


@router.get("/drills", response_model=list[DrillOut])
def drills(request: Request, user: CurrentUser, settings: SettingsDep) -> list[dict[str, Any]]:
    """Every drill that can be generated, with its sizes, lengths, languages and generators."""
    return service.drills_view(settings, request_language(request))


@router.get("/status/{run_id}", response_model=RunVideosOut)
def status(
    run_id: IdPath, request: Request, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """The latest drill-video job of the run (the seed's shape) and, under "jobs", all of them."""
    return service.run_videos_view(session, user.id, run_id, request_language(request))


@router.api_route("/videos/{job_id}", methods=["GET", "HEAD"], response_class=FileResponse)
def video(
    job_id: IdPath, user: CurrentUser, session: DbSession, storage: StorageDep
) -> FileResponse:
    """The MP4 (H.264); answers Range requests with 206 so players can seek."""
    job = service.get_job_for_user(session, user.id, job_id)
    return FileResponse(
        service.video_path(storage, job),
        media_type="video/mp4",
        filename=f"drill_{job.drill_id}_{job.id}.mp4",
        content_disposition_type="inline",
    )


@router.api_route(
    "/videos/{job_id}/thumbnail", methods=["GET", "HEAD"], response_class=FileResponse
)
def thumbnail(
    job_id: IdPath, user: CurrentUser, session: DbSession, storage: StorageDep
) -> FileResponse:
    """A still of the drill's working position (JPEG)."""
    job = service.get_job_for_user(session, user.id, job_id)
    return FileResponse(service.thumbnail_path(storage, job), media_type="image/jpeg")
