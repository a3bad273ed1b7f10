"""The pose model on a few still pictures (the record page's framing check, issue 21).

Each picture is looked at on its own (MediaPipe's still-image mode: the person detector runs
on every one), and only the most prominent person counts: a framing check asks whether the
customer in front of the camera is filmed well, not who else walks past.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mediapipe.python.solutions import pose as mp_pose

from formcoach.kit.settings import Settings
from formcoach.kit.video_io import RGB
from formcoach.pose_estimation.detect import _run
from formcoach.pose_estimation.schemas import N_LANDMARKS, PoseResult


def estimate_stills(
    images: Sequence[RGB], settings: Settings, times: Sequence[float] | None = None
) -> PoseResult:
    """Keypoints of the person in each picture (NaN where nobody, or a ghost, was found).

    All pictures must have one size; ``times`` (s) are their capture times, else 0, 1, 2...
    """
    if not images:
        raise ValueError("no pictures")
    height, width = images[0].shape[:2]
    keypoints = np.full((len(images), N_LANDMARKS, 4), np.nan, dtype=np.float32)
    detected = np.zeros(len(images), dtype=np.bool_)
    with mp_pose.Pose(
        static_image_mode=True,
        model_complexity=settings.pose_model_complexity,
        enable_segmentation=False,
        min_detection_confidence=settings.pose_min_detection_confidence,
    ) as graph:
        for i, image in enumerate(images):
            if image.shape[:2] != (height, width):
                raise ValueError("pictures of different sizes")
            found = _run(graph, np.ascontiguousarray(image))
            if found is not None and found.quality >= settings.pose_min_person_quality:
                keypoints[i] = found.keypoints
                detected[i] = True
    stamps = np.asarray(times if times is not None else range(len(images)), dtype=np.float64)
    fps = 1.0 / float(np.median(np.diff(stamps))) if len(images) > 1 else 1.0
    return PoseResult(stamps, keypoints, detected, width, height, fps if fps > 0 else 1.0)
