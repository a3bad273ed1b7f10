"""The record page's framing check (issue 21): is the customer filmed so the analysis can
measure them? A couple of seconds into a recording the page sends one or two frames; the real
pose model looks at them and the analysis's own checks answer (analysis/filming.py): the
needed body parts in the frame (feature_extraction's seen landmarks), the person large enough,
and the camera view (feature_extraction/view.py) one the movement's measures can be read from.

A finished recording also gets a quick look for anyone in it (check_person) before it
becomes a run, so "nobody in the clip" is said while the customer is still there.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from formcoach.analysis import filming
from formcoach.analysis.schemas import LocalizedText
from formcoach.feature_extraction.scale import BODY_FRACTION_OF_HEIGHT
from formcoach.feature_extraction.service import body_parts_seen, body_scale, seen_mask
from formcoach.feature_extraction.view import detect_view, view_config
from formcoach.kit.errors import AppError
from formcoach.kit.settings import Settings
from formcoach.kit.video_io import RGB, rotate_image, to_rgb
from formcoach.pose_estimation.schemas import VISIBILITY
from formcoach.pose_estimation.service import PoseResult, estimate_stills

MAX_FRAMES = 3
MAX_FRAME_BYTES = 2 * 1024 * 1024
# check_person: pictures looked at, spread over at most this much of the clip's start.
PERSON_SAMPLES = 6
PERSON_SCAN_S = 60.0

VERDICTS: dict[str, LocalizedText] = {
    "no_person": LocalizedText(
        ja="人物が見つかりません。全身が画面に入るように、明るい場所で撮影してください。",
        en="No one found in the picture. Film the whole body, in good light.",
    ),
    "good": LocalizedText(
        ja="良好です。全身が入り、十分な大きさで、撮影方向もこの種目に合っています。",
        en="Good: the whole body is in the frame, large enough, from a view this movement needs.",
    ),
}


def decode_jpeg(data: bytes) -> RGB:
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.ndim != 3:
        raise AppError("validation_error", detail="a frame is not a JPEG or PNG picture")
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def _stature_share(pose: PoseResult, seen: np.ndarray[Any, Any]) -> float | None:
    xy = pose.keypoints[:, :, :2].astype(np.float64)
    xy[~seen] = np.nan
    body_px, _ = body_scale(xy)
    if not np.isfinite(body_px) or pose.height <= 0:
        return None
    # The analysis's subject share: stature (from the body's own ruler) over frame height.
    return float(body_px / BODY_FRACTION_OF_HEIGHT / pose.height)


def _view(pose: PoseResult, seen: np.ndarray[Any, Any]) -> tuple[str, int | None]:
    xy = pose.keypoints[:, :, :2].astype(np.float64)
    xy[~seen] = np.nan
    doc = detect_view(
        xy,
        pose.keypoints[:, :, VISIBILITY].astype(np.float64),
        pose.times,
        # A frame rate that makes one window of all the pictures: one verdict for them.
        pose.frames / view_config().window_s,
        np.zeros(pose.frames, dtype=np.int8),
        float("nan"),
        z=pose.keypoints[:, :, 2].astype(np.float64),
        width=float(pose.width),
    )
    angle = doc.get("angle_from_side_deg")
    return str(doc["view"]), int(angle) if isinstance(angle, int | float) else None


def framing_check(
    images: Sequence[RGB], movement: str, settings: Settings, times: Sequence[float] | None = None
) -> dict[str, Any]:
    """The verdict on a framing: `verdict` (no_person, step_back, move_closer, turn_sideways,
    film_front_or_rear, good), its message in ja and en, and each check (None = not known)."""
    pose = estimate_stills(images, settings, times)
    people = int(pose.detected.sum())
    checks: dict[str, bool | None] = {
        "person_found": people > 0,
        "whole_body_visible": None,
        "subject_large_enough": None,
        "view_suitable": None,
    }
    result: dict[str, Any] = {
        "movement": movement,
        "frames": pose.frames,
        "frames_with_person": people,
        "view": None,
        "subject_share": None,
        "checks": checks,
    }
    if people == 0:
        return {**result, "verdict": "no_person", "message": VERDICTS["no_person"].model_dump()}
    seen = seen_mask(pose, settings)
    parts = body_parts_seen(seen[pose.detected])
    shown = min(float(parts[p].mean()) for p in filming.needed_body_parts(movement))
    checks["whole_body_visible"] = filming.parts_seen_enough(shown)
    share = _stature_share(pose, seen)
    result["subject_share"] = None if share is None else round(share, 3)
    if share is not None:
        checks["subject_large_enough"] = filming.subject_large_enough(share)
    view, angle = _view(pose, seen)
    result["view"] = view
    checks["view_suitable"] = filming.view_suits(movement, view, angle)
    best = filming.best_view(movement)
    if not checks["whole_body_visible"]:
        verdict, message = "step_back", filming.out_of_frame_tip()
    elif checks["subject_large_enough"] is False:
        verdict, message = "move_closer", filming.too_small_tip()
    elif checks["view_suitable"] is False:
        verdict = "turn_sideways" if best == "side" else "film_front_or_rear"
        message = filming.view_tip(movement)
    else:
        verdict, message = "good", VERDICTS["good"]
    return {**result, "verdict": verdict, "message": message.model_dump()}


def check_person(path: Path, settings: Settings) -> None:
    """Refuse a clip in which no picture of its first minute shows anyone (no_person_detected):
    a few pictures spread over the clip, stopping at the first person found."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = (
            float(stream.duration * stream.time_base)
            if stream.duration and stream.time_base
            else (container.duration or 0) / av.time_base
        )
    # Browser recordings often carry no duration: then a picture every second.
    step = min(duration, PERSON_SCAN_S) / PERSON_SAMPLES if duration > 0 else 1.0
    pictures: list[RGB] = []
    next_t: float | None = None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            t = float(frame.time) if frame.time is not None else 0.0
            if next_t is None:
                next_t = t
            if t + 1e-6 < next_t:
                continue
            next_t = t + step
            pictures.append(rotate_image(to_rgb(frame), frame.rotation))
            if len(pictures) >= PERSON_SAMPLES or t > PERSON_SCAN_S:
                break
    sizes = {p.shape for p in pictures}
    if pictures and len(sizes) == 1 and not estimate_stills(pictures, settings).detected.any():
        raise AppError("no_person_detected", rate=0.0)
