"""The record page's framing check: POST /api/framing-check with one to three frames of the
live picture (JPEG) and the movement; the verdict comes from gateway/framing.py."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from formcoach.accounts.deps import CurrentUser
from formcoach.gateway.framing import MAX_FRAME_BYTES, MAX_FRAMES, decode_jpeg, framing_check
from formcoach.kit.api import SettingsDep
from formcoach.kit.errors import AppError
from formcoach.kit.pipeline import MOVEMENTS
from formcoach.kit.schemas import ErrorResponse
from formcoach.kit.settings import Settings

router = APIRouter(tags=["uploads"])

FRAMING_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["frame"],
                    "properties": {
                        "frame": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "minItems": 1,
                            "maxItems": MAX_FRAMES,
                            "description": "JPEG pictures of the live view, all one size",
                        },
                        "time_s": {
                            "type": "array",
                            "items": {"type": "number"},
                            "description": "each frame's time in the recording (s)",
                        },
                        "movement": {"type": "string", "enum": list(MOVEMENTS)},
                        "language": {"type": "string", "enum": ["ja", "en"]},
                    },
                }
            }
        },
    }
}


async def _frames(request: Request, settings: Settings) -> tuple[list[Any], list[float], str, str]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FRAMES * MAX_FRAME_BYTES + 65536:
        raise AppError("file_too_large", limit_mb=MAX_FRAMES * MAX_FRAME_BYTES // 2**20)
    try:
        form = await request.form(
            max_files=MAX_FRAMES, max_fields=2 * MAX_FRAMES + 4, max_part_size=MAX_FRAME_BYTES
        )
    except Exception as exc:  # starlette's MultiPartException and malformed bodies
        raise AppError("validation_error", detail=f"expected multipart frames: {exc}") from exc
    language = str(form.get("language") or "")
    if language in ("ja", "en"):
        request.state.request_language = language
    movement = str(form.get("movement") or "auto")
    if movement not in MOVEMENTS:
        raise AppError("validation_error", detail=f"movement must be one of {', '.join(MOVEMENTS)}")
    files = [f for f in form.getlist("frame") if isinstance(f, UploadFile)]
    if not files:
        raise AppError("validation_error", detail="send one to three frames as 'frame'")
    images = []
    for upload in files:
        data = await upload.read(MAX_FRAME_BYTES + 1)
        if len(data) > MAX_FRAME_BYTES:
            raise AppError("file_too_large", limit_mb=MAX_FRAME_BYTES // 2**20)
        image = decode_jpeg(data)
        if image.shape[0] * image.shape[1] > settings.max_video_pixels:
            raise AppError(
                "frame_too_large",
                width=image.shape[1],
                height=image.shape[0],
                limit_mpx=settings.max_video_pixels / 1e6,
            )
        images.append(image)
    if len({i.shape for i in images}) > 1:
        raise AppError("validation_error", detail="the frames must all have one size")
    try:
        times = [float(str(t)) for t in form.getlist("time_s")]
    except ValueError:
        raise AppError("validation_error", detail="time_s must be numbers") from None
    if times and (len(times) != len(images) or any(b <= a for a, b in itertools.pairwise(times))):
        raise AppError("validation_error", detail="one increasing time_s per frame")
    return images, times or [float(i) for i in range(len(images))], movement, language


@router.post(
    "/framing-check",
    openapi_extra=FRAMING_SCHEMA,
    responses={code: {"model": ErrorResponse} for code in (413, 415, 422)},
)
async def check_framing(
    request: Request, user: CurrentUser, settings: SettingsDep
) -> dict[str, Any]:
    """Whole body visible, subject large enough, view suitable for the movement: `verdict`
    (no_person, step_back, move_closer, turn_sideways, film_front_or_rear, good) and its
    `message` in the request's language (`language`, else the user's), as the analysis would
    judge the clip."""
    images, times, movement, language = await _frames(request, settings)
    result = await run_in_threadpool(framing_check, images, movement, settings, times)
    lang = language or str(user.language or "ja")
    result["message"] = result["message"][lang if lang in ("ja", "en") else "ja"]
    return result
