"""The subject picker: the people a run's pose stage tracked, their thumbnails, and a new run of
the same upload with another person chosen.

Reads the pose stage's artifact (pose.json "tracks") and the proxy video only: the gateway never
imports pose_estimation internals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sqlalchemy.orm import Session

from formcoach.accounts.users import User
from formcoach.kit.errors import AppError
from formcoach.kit.pipeline import POSE_META, PROXY, UPLOAD, RunOptions, run_file
from formcoach.kit.settings import Settings
from formcoach.kit.storage import Storage
from formcoach.kit.video_io import iter_frames
from formcoach.pipeline.stages import STAGES
from formcoach.runs import service as runs_service
from formcoach.runs.models import Run
from formcoach.runs.schemas import RunTracks, TrackOut


def thumbnail_name(track_id: int) -> str:
    """The cached thumbnail's artifact name in the run's folder (removed with the run's folder)."""
    return f"track_{track_id}.jpg"


def _pose_meta(storage: Storage, run: Run) -> dict[str, Any]:
    key = run_file(run.run_key, POSE_META)
    if not storage.exists(key):
        # The pose stage has not written it yet (or failed before it could).
        raise AppError("run_not_ready", status=run.status)
    meta: dict[str, Any] = json.loads(storage.get_bytes(key))
    return meta


def run_tracks(storage: Storage, run: Run) -> RunTracks:
    meta = _pose_meta(storage, run)
    subject = meta.get("subject")
    return RunTracks(
        run_id=run.id,
        subject=subject,
        tracks=[
            TrackOut(
                id=t["id"],
                start_s=t["start_s"],
                end_s=t["end_s"],
                frames=t["frames"],
                prominence=t["prominence"],
                parts=t.get("parts") or {},
                best_frame=t["best_frame"],
                box=t["box"],
                analysed=t["id"] == subject,
                thumbnail_url=f"/api/runs/{run.id}/tracks/{t['id']}/thumbnail.jpg",
            )
            for t in meta.get("tracks", [])
        ],
    )


def _crop(
    image: np.ndarray[Any, Any], box: list[float], settings: Settings
) -> np.ndarray[Any, Any]:
    """The person's box with a margin, clamped to the frame, scaled to the thumbnail height."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box
    mx = (x1 - x0) * settings.track_thumbnail_margin
    my = (y1 - y0) * settings.track_thumbnail_margin
    left, top = max(0, int(x0 - mx)), max(0, int(y0 - my))
    right, bottom = min(width, int(np.ceil(x1 + mx))), min(height, int(np.ceil(y1 + my)))
    if right <= left or bottom <= top:
        # A degenerate box (person at the very edge): fall back to the whole frame.
        left, top, right, bottom = 0, 0, width, height
    crop = image[top:bottom, left:right]
    scale = settings.track_thumbnail_px / crop.shape[0]
    size = (max(1, round(crop.shape[1] * scale)), settings.track_thumbnail_px)
    resized: np.ndarray[Any, Any] = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    return resized


def _frame(proxy: Path, index: int) -> np.ndarray[Any, Any]:
    for frame in iter_frames(proxy):
        if frame.index == index:
            return frame.image
    raise AppError("not_found")


def thumbnail(storage: Storage, run: Run, track_id: int, settings: Settings) -> Path:
    """JPEG crop of the person at their best frame, made once and kept as a run artifact."""
    key = run_file(run.run_key, thumbnail_name(track_id))
    if storage.exists(key):
        return storage.local_path(key)
    track = next(
        (t for t in _pose_meta(storage, run).get("tracks", []) if t["id"] == track_id), None
    )
    if track is None or not storage.exists(run_file(run.run_key, PROXY)):
        raise AppError("not_found")
    image = _crop(
        _frame(storage.local_path(run_file(run.run_key, PROXY)), track["best_frame"]),
        track["box"],
        settings,
    )
    ok, jpeg = cv2.imencode(
        ".jpg",
        cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
        [cv2.IMWRITE_JPEG_QUALITY, settings.track_thumbnail_quality],
    )
    if not ok:
        raise AppError("internal_error")
    storage.put_bytes(key, jpeg.tobytes())
    return storage.local_path(key)


def reanalyse(session: Session, storage: Storage, user: User, run: Run, subject: int) -> Run:
    """A new run of the same upload and options with the given person as the subject."""
    known = [t["id"] for t in _pose_meta(storage, run).get("tracks", [])]
    if subject not in known:
        raise AppError("subject_not_found", subject=subject, tracks=known)
    source = run_file(run.run_key, UPLOAD)
    if not storage.exists(source):
        # The original may have been removed (retention); the proxy is the same clip, upright.
        source = run_file(run.run_key, PROXY)
    if not storage.exists(source):
        raise AppError("not_found")
    options = RunOptions(
        run.movement, run.view, run.height_cm, run.language, subject, run.camera_roll_deg
    )
    new = runs_service.create_run(
        session,
        user,
        options,
        run.original_filename,
        run.upload_bytes,
        person=run.person,
        stages=STAGES,
    )
    storage.put_file(run_file(new.run_key, UPLOAD), storage.local_path(source))
    return new
