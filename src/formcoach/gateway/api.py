"""The gateway's API routes: health, the runs resource and deleting a user (with their runs).
Routes stay thin; the account routes are accounts.api."""

from __future__ import annotations

import mimetypes
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from formcoach import __version__
from formcoach.accounts.deps import AdminUser, CurrentUser, request_principal
from formcoach.accounts.users import User
from formcoach.gateway import service
from formcoach.gateway.eta import estimated
from formcoach.gateway.events import run_events
from formcoach.gateway.intake import camera_roll, start_run
from formcoach.gateway.report import SERVABLE, build_report
from formcoach.gateway.report_schema import ReportOut
from formcoach.kit.api import DbSession, IdPath, SettingsDep, StorageDep, db_slot_held
from formcoach.kit.db import session_scope
from formcoach.kit.diskspace import require_free_space
from formcoach.kit.errors import AppError
from formcoach.kit.i18n import Language, as_language
from formcoach.kit.pipeline import MOVEMENTS, VIEWS, RunOptions, run_file
from formcoach.kit.schemas import ErrorResponse
from formcoach.kit.settings import Settings
from formcoach.kit.storage import get_storage
from formcoach.kit.upload import receive_upload
from formcoach.runs import service as runs_service
from formcoach.runs.models import PERSON_MAX
from formcoach.runs.schemas import Reanalyse, RunComparison, RunCreated, RunOut, RunPage, RunTracks

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 413, 415, 422)
}
router = APIRouter(responses=ERRORS)
public = APIRouter()


@public.get("/health", tags=["gateway"])
def health() -> dict[str, str]:
    return {"service": "gateway", "version": __version__, "status": "ok"}


@router.get("/gateway/", tags=["gateway"])
def gateway_info(user: CurrentUser) -> dict[str, str]:
    return {"service": "gateway", "version": __version__, "status": "ok"}


# --- compositions over several services ---------------------------------------------------


@router.delete("/users/{user_id}", status_code=204, tags=["accounts"])
def delete_user(
    user_id: IdPath,
    admin: AdminUser,
    session: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
) -> Response:
    if user_id == admin.id:
        raise AppError("validation_error", detail="an administrator cannot delete themselves")
    folders = service.delete_user(session, storage, user_id, settings)
    # Committed first, then the files once more: a job writing until the commit is caught.
    session.commit()
    runs_service.delete_folders(storage, folders)
    return Response(status_code=204)


# --- runs -----------------------------------------------------------------------------------

UPLOAD_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["video"],
                    "properties": {
                        "video": {"type": "string", "format": "binary"},
                        "movement": {"type": "string", "enum": list(MOVEMENTS), "default": "auto"},
                        "view": {"type": "string", "enum": list(VIEWS), "default": "auto"},
                        "height_cm": {"type": "number", "minimum": 50, "maximum": 250},
                        "language": {"type": "string", "enum": ["ja", "en"]},
                        "subject": {"type": "integer", "minimum": 1},
                        "person": {
                            "type": "string",
                            "maxLength": PERSON_MAX,
                            "description": "customer or athlete filmed (free text)",
                        },
                        "camera_roll_deg": {
                            "type": "number",
                            "minimum": -360,
                            "maximum": 360,
                            "description": "the recording device's tilt: the true vertical's "
                            "direction in the image, degrees from the image's up axis, "
                            "clockwise positive (as seen on screen)",
                        },
                    },
                }
            }
        },
    }
}


def _options(fields: dict[str, str], user: User) -> RunOptions:
    movement = fields.get("movement") or "auto"
    view = fields.get("view") or "auto"
    language = as_language(fields.get("language") or user.language)
    if movement not in MOVEMENTS:
        raise AppError("validation_error", detail=f"movement must be one of {', '.join(MOVEMENTS)}")
    if view not in VIEWS:
        raise AppError("validation_error", detail=f"view must be one of {', '.join(VIEWS)}")
    if language is None:
        raise AppError("validation_error", detail="language must be ja or en")
    height: float | None = None
    if fields.get("height_cm"):
        try:
            height = float(fields["height_cm"])
        except ValueError:
            raise AppError("validation_error", detail="height_cm must be a number") from None
        if not 50 <= height <= 250:
            raise AppError("validation_error", detail="height_cm must be between 50 and 250")
    subject: int | None = None
    if fields.get("subject"):
        try:
            subject = int(fields["subject"])
        except ValueError:
            raise AppError("validation_error", detail="subject must be a track id") from None
        if subject < 1:
            raise AppError("validation_error", detail="subject must be a track id (1 or more)")
    return RunOptions(
        movement=movement,
        view=view,
        height_cm=height,
        language=language,
        subject=subject,
        camera_roll_deg=camera_roll(fields.get("camera_roll_deg")),
    )


def _run_link(path: str, method: str) -> dict[str, Any]:
    ref = "#/paths/" + ("/api" + path).replace("~", "~0").replace("/", "~1") + "/" + method
    return {"operationRef": ref, "parameters": {"run_id": "$response.body#/id"}}


# OpenAPI links from a new run to what can be done with it: clients (and schemathesis'
# stateful phase) follow them from POST /api/runs and /reanalyse.
RUN_LINKS: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "The run was accepted",
        "links": {
            "GetRun": _run_link("/runs/{run_id}", "get"),
            "GetReport": _run_link("/runs/{run_id}/report", "get"),
            "GetTracks": _run_link("/runs/{run_id}/tracks", "get"),
            "DeleteRun": _run_link("/runs/{run_id}", "delete"),
        },
    }
}


@router.post(
    "/runs",
    status_code=202,
    response_model=RunCreated,
    tags=["runs"],
    openapi_extra=UPLOAD_SCHEMA,
    responses=RUN_LINKS,
)
async def create_run(
    request: Request,
    user: CurrentUser,
    settings: SettingsDep,
    session: DbSession,
    storage: StorageDep,
) -> RunCreated:
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    # Reject a declared oversize body before reading a byte of it (64 KiB for form overhead).
    if declared.isdigit() and int(declared) > limit + 65536:
        raise AppError("file_too_large", limit_mb=settings.max_upload_mb)
    # Before a byte of the body is read, and once more before the run is recorded (another
    # upload of the same user may have been recorded while this one streamed).
    runs_service.check_queue_room(session, user.id, settings)
    # Refused before a byte is written: the space left is for the runs already accepted.
    require_free_space(settings)
    tmp_dir = settings.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    dest = tmp_dir / f"upload-{uuid.uuid4().hex}"
    try:
        result = await receive_upload(
            request.headers.get("content-type"), request.stream(), "video", dest, limit
        )
        if result.fields.get("language") in ("ja", "en"):
            # The language the upload asks for is also the language of its errors.
            request.state.request_language = result.fields["language"]
        options = _options(result.fields, user)
        runs_service.clean_person(result.fields.get("person"))  # a bad label fails before probing
        if result.file_bytes == 0:
            raise AppError("empty_file")
        return await start_run(
            request,
            session,
            storage,
            settings,
            user,
            options,
            result.fields.get("person"),
            result.filename,
            dest,
        )
    finally:
        dest.unlink(missing_ok=True)


def DATE_QUERY(description: str) -> Any:
    # Only a calendar date, YYYY-MM-DD: FastAPI's date type also takes Unix timestamps
    # ("date_to=0" meant 1970-01-01), which the documented format does not.
    return Query(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        description=f"{description}, YYYY-MM-DD",
        json_schema_extra={"format": "date"},
    )


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise AppError("validation_error", detail=f"{name}: not a date (YYYY-MM-DD)") from None


@router.get("/runs", response_model=RunPage, tags=["runs"])
def list_runs(
    user: CurrentUser,
    session: DbSession,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    movement: Annotated[str | None, Query(description="requested movement")] = None,
    person: Annotated[
        str | None,
        Query(max_length=PERSON_MAX, description="part of the person label, any case"),
    ] = None,
    date_from: Annotated[str | None, DATE_QUERY("created on or after (UTC)")] = None,
    date_to: Annotated[str | None, DATE_QUERY("created on or before (UTC)")] = None,
) -> RunPage:
    runs, total = runs_service.list_runs_filtered(
        session,
        user,
        page,
        per_page,
        movement=movement or None,
        person=person or None,
        date_from=runs_service.day_start(_day(date_from, "date_from")),
        date_to=runs_service.day_start(_day(date_to, "date_to"), 1),
    )
    return RunPage(
        items=[runs_service.run_view(r) for r in runs], page=page, per_page=per_page, total=total
    )


@router.get("/runs/{run_id}", response_model=RunOut, tags=["runs"])
async def get_run(run_id: IdPath, request: Request, settings: SettingsDep) -> Response:
    # Every open progress page polls this once a second: one thread hop for the credentials
    # (token cached), two Core queries and the JSON, instead of a hop per dependency and
    # ORM objects; same checks and answer as current_user + get_run_for_user + run_view.
    async with db_slot_held(settings.db_url):
        body = await run_in_threadpool(_run_json, request, settings, run_id)
    return Response(body, media_type="application/json")


def _run_json(request: Request, settings: Settings, run_id: int) -> bytes:
    with session_scope(settings.db_url) as session:
        principal = request_principal(request, session)
        if principal is None:
            raise AppError("unauthorized")
        request.state.language = principal.language
        run, run_key = runs_service.run_status_and_key(session, principal.user_id, run_id)
    # The time remaining needs the clip's length (cached after the first read).
    return estimated(run, get_storage(settings), run_key, settings).model_dump_json().encode()


@router.delete("/runs/{run_id}", status_code=204, tags=["runs"])
def delete_run(
    run_id: IdPath,
    user: CurrentUser,
    session: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
) -> Response:
    run = runs_service.get_run_for_user(session, user.id, run_id)
    folders = service.delete_run(session, storage, run, settings)
    # Committed first, then the files once more: a job writing until the commit is caught.
    session.commit()
    runs_service.delete_folders(storage, folders)
    return Response(status_code=204)


@router.get(
    "/runs/{run_id}/report",
    response_model=ReportOut,
    # Exactly the keys build_report wrote: no nulls added for optional fields it left out.
    response_model_exclude_unset=True,
    tags=["runs"],
)
def get_report(
    run_id: IdPath,
    user: CurrentUser,
    session: DbSession,
    storage: StorageDep,
    lang: Annotated[Language | None, Query()] = None,
) -> dict[str, Any]:
    run = runs_service.get_run_for_user(session, user.id, run_id)
    return build_report(run, storage, lang)


@router.get("/runs/{run_id}/files/{name}", tags=["runs"], response_class=FileResponse)
def get_file(
    run_id: IdPath, name: str, user: CurrentUser, session: DbSession, storage: StorageDep
) -> FileResponse:
    run = runs_service.get_run_for_user(session, user.id, run_id)
    key = run_file(run.run_key, name)
    if name not in SERVABLE or not storage.exists(key):
        raise AppError("not_found")
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    # FileResponse answers Range requests (206) so browsers can seek in the videos.
    return FileResponse(
        storage.local_path(key),
        media_type=media_type,
        filename=name,
        content_disposition_type="inline",
    )


@router.get("/runs/{run_id}/compare/{other_id}", response_model=RunComparison, tags=["runs"])
def compare_runs(
    run_id: IdPath,
    other_id: IdPath,
    user: CurrentUser,
    session: DbSession,
    storage: StorageDep,
    lang: Annotated[Language | None, Query()] = None,
) -> RunComparison:
    """Per-metric change from run_id (before) to other_id (after), with the noise judgement."""
    return service.compare_runs(session, storage, user, run_id, other_id, lang or user.language)


# --- live progress and the subject picker ----------------------------------------------------


@router.get(
    "/runs/{run_id}/events",
    tags=["runs"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def run_events_stream(
    run_id: IdPath, request: Request, user: CurrentUser, session: DbSession, settings: SettingsDep
) -> StreamingResponse:
    """Server-sent events: `run` (the run as GET /api/runs/{id}) whenever its state or progress
    changes, heartbeat comments while nothing does, `gone` if it is deleted; the stream ends after
    the completed or failed event."""
    runs_service.get_run_for_user(session, user.id, run_id)
    return StreamingResponse(
        run_events(settings, run_id, request.is_disconnected),
        media_type="text/event-stream",
        # No caching and no proxy buffering: each event must reach the page as it is sent.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/runs/{run_id}/tracks", response_model=RunTracks, tags=["runs"])
def get_tracks(
    run_id: IdPath, user: CurrentUser, session: DbSession, storage: StorageDep
) -> RunTracks:
    """The people the pose stage tracked; `analysed` marks the run's subject."""
    from formcoach.gateway import tracks

    return tracks.run_tracks(storage, runs_service.get_run_for_user(session, user.id, run_id))


@router.get(
    "/runs/{run_id}/tracks/{track_id}/thumbnail.jpg", tags=["runs"], response_class=FileResponse
)
def get_track_thumbnail(
    run_id: IdPath,
    track_id: IdPath,
    user: CurrentUser,
    session: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
) -> FileResponse:
    from formcoach.gateway import tracks

    run = runs_service.get_run_for_user(session, user.id, run_id)
    path = tracks.thumbnail(storage, run, track_id, settings)
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private"})


@router.post(
    "/runs/{run_id}/reanalyse",
    status_code=202,
    response_model=RunCreated,
    tags=["runs"],
    responses=RUN_LINKS,
)
def reanalyse_run(
    run_id: IdPath,
    body: Reanalyse,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
) -> RunCreated:
    """A new run of the same upload and options, analysing the tracked person `subject`."""
    from formcoach.gateway import tracks

    run = runs_service.get_run_for_user(session, user.id, run_id)
    runs_service.check_queue_room(session, user.id, settings)
    new = tracks.reanalyse(session, storage, user, run, body.subject)
    try:
        session.commit()
    except Exception:
        storage.delete_prefix(new.folder)
        raise
    # Enqueued only after the commit, as for an upload.
    request.app.state.jobs.enqueue("run", new.id, new.run_key, user.id)
    return RunCreated(id=new.id, url=f"/api/runs/{new.id}", status=new.status)
