"""The public, read-only page a share link opens (/s/<token>): the report of that one run and
its videos, no sign-in, no navigation into the app. The token opens nothing else: every file
below /s/<token>/ is checked against the run the token belongs to."""

from __future__ import annotations

import mimetypes
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from formcoach.gateway import shares
from formcoach.gateway.report import SERVABLE, build_report
from formcoach.gateway.web_charts import chart_panels
from formcoach.gateway.web_common import page_lang, render
from formcoach.gateway.web_runs import features_of, metric_severity, ordered_metrics
from formcoach.kit.api import DbSession, SettingsDep, StorageDep
from formcoach.kit.errors import AppError
from formcoach.kit.i18n import Language, as_language
from formcoach.kit.pipeline import run_file
from formcoach.runs.models import Run
from formcoach.video_generation import service as videos

router = APIRouter(include_in_schema=False)


def shared_report(run: Run, storage: Any, lang: Language, prefix: str) -> dict[str, Any]:
    """The report with every URL moved below the share prefix (the app's own URLs need a
    sign-in the customer does not have)."""
    report = build_report(run, storage, lang)
    report["files"] = {
        k: f"{prefix}/files/{u.rsplit('/', 1)[1]}" for k, u in report["files"].items()
    }
    for drill in report["drills"]:
        if drill.get("video_job_id") and drill.get("video_url"):
            drill["video_url"] = f"{prefix}/drills/{drill['video_job_id']}"
    return report


def _gone(request: Request, exc: AppError) -> HTMLResponse:
    lang = page_lang(request, None)
    return render(
        request, "share_gone.html", None, status_code=exc.status, message=exc.message(lang)
    )


@router.get("/s/{token}", response_class=HTMLResponse, response_model=None)
def share_page(
    token: str, request: Request, session: DbSession, storage: StorageDep, settings: SettingsDep
) -> Response:
    try:
        run = shares.open_share(session, token)
    except AppError as exc:
        return _gone(request, exc)
    # The report's language unless the reader picks the other one (?lang=, as everywhere).
    lang = as_language(request.query_params.get("lang")) or run.language
    report = shared_report(run, storage, lang, f"/s/{token}")
    context: dict[str, Any] = {
        "report": report,
        "charts": chart_panels(features_of(storage, run.run_key), lang),
        "share": shares.share_url(settings, request, token),
        "lang_override": lang,
        "shared": True,
        "people": [],
        "metrics": ordered_metrics(report),
        "metric_severity": metric_severity(report),
    }
    page = render(request, "share.html", None, **context)
    # A private link: no caching by shared proxies, no referrer leaking the token.
    page.headers["Cache-Control"] = "private, no-store"
    page.headers["Referrer-Policy"] = "no-referrer"
    return page


def _file(path: Any, media_type: str) -> FileResponse:
    response = FileResponse(path, media_type=media_type, content_disposition_type="inline")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@router.api_route("/s/{token}/files/{name}", methods=["GET", "HEAD"], response_model=None)
def share_file(token: str, name: str, session: DbSession, storage: StorageDep) -> Response:
    run = shares.open_share(session, token)
    key = run_file(run.run_key, name)
    if name not in SERVABLE or not storage.exists(key):
        raise AppError("not_found")
    return _file(
        storage.local_path(key), mimetypes.guess_type(name)[0] or "application/octet-stream"
    )


def _job(session: DbSession, run: Run, job_id: int) -> Any:
    # Looked up as the run's owner, then pinned to this run: another run's job is not_found.
    job = videos.get_job_for_user(session, run.user_id, job_id)
    if job.run_id != run.id:
        raise AppError("not_found")
    return job


@router.api_route("/s/{token}/drills/{job_id}", methods=["GET", "HEAD"], response_model=None)
def share_drill(token: str, job_id: int, session: DbSession, storage: StorageDep) -> Response:
    job = _job(session, shares.open_share(session, token), job_id)
    return _file(videos.video_path(storage, job), "video/mp4")


@router.api_route(
    "/s/{token}/drills/{job_id}/thumbnail", methods=["GET", "HEAD"], response_model=None
)
def share_thumbnail(token: str, job_id: int, session: DbSession, storage: StorageDep) -> Response:
    job = _job(session, shares.open_share(session, token), job_id)
    return _file(videos.thumbnail_path(storage, job), "image/jpeg")
