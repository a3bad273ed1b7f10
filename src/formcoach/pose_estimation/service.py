"""MediaPipe Pose on every frame of a video -> PoseResult."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from mediapipe.python.solutions import pose as mp_pose
from numpy.typing import NDArray

from formcoach.kit.errors import AppError
from formcoach.kit.settings import Settings
from formcoach.kit.video_io import iter_frames
from formcoach.pose_estimation.schemas import N_LANDMARKS, PoseResult, fps_from_times

__all__ = ["PoseResult", "check_detection", "estimate", "load_pose"]

# Progress callbacks update a database row: every few frames is plenty.
_PROGRESS_EVERY = 10


def _expected_frames(video: Path) -> int:
    """Frame count for progress reporting only; containers may not record it exactly."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        if stream.frames:
            return int(stream.frames)
        if stream.duration is not None and stream.time_base is not None and stream.average_rate:
            return max(1, int(float(stream.duration * stream.time_base * stream.average_rate)))
        return 0


def _new_estimator(settings: Settings) -> mp_pose.Pose:
    # Tracking mode (static_image_mode=False) follows the person found first, so the
    # keypoints stay on one subject when a second person walks through the frame.
    return mp_pose.Pose(
        static_image_mode=False,
        model_complexity=settings.pose_model_complexity,
        smooth_landmarks=True,
        enable_segmentation=False,
        min_detection_confidence=settings.pose_min_detection_confidence,
        min_tracking_confidence=settings.pose_min_tracking_confidence,
    )


def estimate(
    video: Path,
    settings: Settings,
    progress: Callable[[float], None] = lambda _f: None,
) -> PoseResult:
    """Keypoints of the tracked person in every frame, frames streamed one at a time.

    Raises AppError("no_person_detected") when the person is found in fewer than
    ``settings.min_detection_rate`` of the frames.
    """
    expected = _expected_frames(video)
    times: list[float] = []
    rows: list[NDArray[np.float32]] = []
    detected: list[bool] = []
    width = height = 0
    missing = np.full((N_LANDMARKS, 4), np.nan, dtype=np.float32)
    with _new_estimator(settings) as estimator:
        for frame in iter_frames(video):
            height, width = frame.image.shape[:2]
            result = estimator.process(frame.image)
            landmarks = result.pose_landmarks
            if landmarks is None:
                rows.append(missing)
                detected.append(False)
            else:
                values = np.array(
                    [(lm.x, lm.y, lm.z, lm.visibility) for lm in landmarks.landmark],
                    dtype=np.float32,
                )
                # MediaPipe gives x, y as fractions of the image size.
                values[:, 0] *= width
                values[:, 1] *= height
                rows.append(values)
                detected.append(True)
            times.append(frame.time_s)
            if expected and len(times) % _PROGRESS_EVERY == 0:
                progress(min(len(times) / expected, 0.99))
    time_arr = np.asarray(times, dtype=np.float64)
    keypoints = (
        np.stack(rows).astype(np.float32)
        if rows
        else np.empty((0, N_LANDMARKS, 4), dtype=np.float32)
    )
    result_obj = PoseResult(
        times=time_arr,
        keypoints=keypoints,
        detected=np.asarray(detected, dtype=np.bool_),
        width=int(width),
        height=int(height),
        fps=fps_from_times(time_arr),
    )
    progress(1.0)
    check_detection(result_obj, settings)
    return result_obj


def check_detection(result: PoseResult, settings: Settings) -> None:
    if result.detection_rate < settings.min_detection_rate:
        raise AppError("no_person_detected", rate=result.detection_rate)


def load_pose(path: Path) -> PoseResult:
    """Read a pose.npz written by this service."""
    return PoseResult.load(path)
