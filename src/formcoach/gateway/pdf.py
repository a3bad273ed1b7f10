"""The PDF report (`GET /api/runs/{id}/report.pdf`): A4, in the report's language, printed by
Debian's Chromium through Playwright (CJK text in Noto Sans CJK). It holds the summary, frames
of the annotated video at the evidence moments, the charts, the findings, each drill with a
frame of its video, and the share link's QR code. Everything is inlined (frames as data URIs,
CSS in the page), so Chromium loads nothing and needs no credentials."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import av
from fastapi import APIRouter, Query, Request, Response
from markupsafe import Markup
from PIL import Image

from formcoach.accounts.deps import CurrentUser
from formcoach.gateway import shares
from formcoach.gateway.report import build_report
from formcoach.gateway.web_charts import chart_panels
from formcoach.gateway.web_common import STATIC_DIR, templates
from formcoach.gateway.web_runs import features_of, ordered_metrics
from formcoach.gateway.web_text import labels, texts
from formcoach.kit.api import DbSession, IdPath, SettingsDep, StorageDep
from formcoach.kit.i18n import Language
from formcoach.kit.pipeline import ANNOTATED, run_file
from formcoach.kit.storage import Storage
from formcoach.runs import service as runs_service
from formcoach.video_generation import service as videos

router = APIRouter(tags=["runs"])

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Frames of the annotated video: the evidence moments of the most important findings.
MAX_FRAMES = 4
FRAME_WIDTH = 480


def _jpeg_uri(image: Any) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=82)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def video_frames(path: Path, times: list[float]) -> list[str | None]:
    """The first frame at or after each time (seconds), scaled to FRAME_WIDTH, as data URIs."""
    out: list[str | None] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        base = float(stream.time_base or 1)
        for t in times:
            container.seek(max(0, int(t / base)), stream=stream, backward=True)
            found = None
            for frame in container.decode(stream):
                if frame.pts is not None and frame.pts * base >= t - 1e-3:
                    found = Image.fromarray(frame.to_ndarray(format="rgb24"))
                    break
            if found is not None:
                height = round(found.height * FRAME_WIDTH / found.width)
                found = found.resize((FRAME_WIDTH, height))
            out.append(_jpeg_uri(found) if found is not None else None)
    return out


def _evidence_frames(
    storage: Storage, run_key: str, report: dict[str, Any]
) -> list[dict[str, Any]]:
    key = run_file(run_key, ANNOTATED)
    if not storage.exists(key):
        return []
    moments: list[tuple[float, str]] = []
    for point in report["summary"]["points"] + report["findings"]:
        for e in point.get("evidence", [])[:1]:
            t = round(float(e["start_s"]) + (float(e["end_s"]) - float(e["start_s"])) / 2, 2)
            text = point.get("text") or point.get("message") or ""
            if all(abs(t - m) > 0.2 for m, _ in moments):
                moments.append((t, text))
    moments = moments[:MAX_FRAMES]
    uris = video_frames(storage.local_path(key), [m for m, _ in moments])
    return [
        {"t": m, "text": text, "src": uri}
        for (m, text), uri in zip(moments, uris, strict=True)
        if uri
    ]


def _drill_frames(
    session: DbSession, storage: Storage, user_id: int, report: dict[str, Any]
) -> dict[str, str]:
    frames: dict[str, str] = {}
    for drill in report["drills"]:
        job_id = drill.get("video_job_id")
        if not job_id or not drill.get("video_url"):
            continue
        job = videos.get_job_for_user(session, user_id, int(job_id))
        data = storage.get_bytes(job.thumbnail_key) if job.thumbnail_key else None
        if data:
            frames[drill["drill_id"]] = "data:image/jpeg;base64," + base64.b64encode(data).decode()
    return frames


def print_pdf(html: str) -> bytes:
    """A4 PDF of a self-contained page, printed by Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_content(html, wait_until="load")
            return page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
        finally:
            browser.close()


@router.get("/runs/{run_id}/report.pdf", response_class=Response)
def report_pdf(
    run_id: IdPath,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
    lang: Language | None = Query(None, pattern="^(ja|en)$"),
) -> Response:
    run = runs_service.get_run_for_user(session, user.id, run_id)
    report = build_report(run, storage, lang)
    lang = report["language"]
    # The PDF goes home with the customer: it carries a share link of its own.
    _, token = shares.create_share(session, settings, run)
    session.commit()
    context = {
        "t": texts(lang),
        "L": labels(lang),
        "lang": lang,
        "run": runs_service.run_view(run),
        "report": report,
        "metrics": ordered_metrics(report),
        "charts": chart_panels(features_of(storage, run.run_key), lang),
        "frames": _evidence_frames(storage, run.run_key, report),
        "drill_frames": _drill_frames(session, storage, run.user_id, report),
        "share": shares.share_url(settings, request, token),
        "css": Markup((STATIC_DIR / "pdf.css").read_text()),
    }
    html = templates.get_template("pdf.html").render(context)
    pdf = print_pdf(html)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="formcoach-report-{run.id}.pdf"'},
    )
