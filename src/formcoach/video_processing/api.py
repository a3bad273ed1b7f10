"""HTTP API of the video_processing service (mounted at /api/video-processing)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from formcoach.accounts.deps import CurrentUser
from formcoach.kit.api import SettingsDep, service_info
from formcoach.kit.upload import receive_upload
from formcoach.video_processing.schemas import SourceInfo
from formcoach.video_processing.service import probe

router = APIRouter()

# The body is parsed by hand (streamed to disk with a size limit), so describe it for OpenAPI.
_VIDEO_UPLOAD: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["video"],
                    "properties": {"video": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.get("/", summary="Service information")
def info(user: CurrentUser) -> dict[str, str]:
    return service_info("video_processing")


@router.post(
    "/probe",
    response_model=SourceInfo,
    summary="Probe and validate a video without starting an analysis",
    description=(
        "Upload a video as the multipart field `video`. Answers what the analysis would see "
        "(size after rotation, frame rate, duration, codec) or the reason it would be refused: "
        "`empty_file`, `not_a_video`, `video_too_short`, `video_too_long`, `file_too_large`."
    ),
    openapi_extra=_VIDEO_UPLOAD,
)
async def probe_upload(request: Request, user: CurrentUser, settings: SettingsDep) -> SourceInfo:
    tmp_dir = settings.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="probe-", suffix=".bin")
    # mkstemp only reserves a private name; receive_file opens the file itself.
    os.close(fd)
    tmp = Path(name)
    try:
        await receive_upload(
            request.headers.get("content-type"),
            request.stream(),
            "video",
            tmp,
            settings.max_upload_bytes,
        )
        return await run_in_threadpool(probe, tmp, settings)
    finally:
        tmp.unlink(missing_ok=True)
