"""The user's own proportions for the drill figure, from the segment lengths measured in a run.

The features stage writes every cleaned keypoint in metres (keypoints_m.csv) and the stature
the metres were scaled with (features.json ``scale.height_cm``). A segment is seen at its full
length only when it lies parallel to the image, so its length is a high percentile of the
per-frame lengths, not the mean (a thigh pointing at the camera looks short). Lengths are
taken as fractions of stature, corrected for where MediaPipe puts its landmarks
(proportions.yaml, measured by the same pipeline on the standard figure), then scaled so that
trunk, thigh and shank add up to the standard figure's: the figure keeps its height (an
assumed stature cannot inflate every segment) and takes the user's proportions. Each length
is kept within a band around Winter's values (Settings.drill_figure_max_deviation) so a bad
estimate cannot draw a deformed person or break the solved floor contacts.

A body is carried as a short code (``figure_code``) stored on the job and in its cache key:
the same proportions give the same video.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import fields
from functools import cache
from pathlib import Path

import numpy as np
import yaml
from numpy.typing import NDArray

from formcoach.kit.errors import AppError
from formcoach.kit.pipeline import FEATURES, KEYPOINTS_M_CSV, run_file
from formcoach.kit.settings import Settings
from formcoach.kit.storage import Storage
from formcoach.video_generation.figure import STANDARD_BODY, Body

FloatArray = NDArray[np.float64]
_PREFIX = "b"
CALIBRATION_FILE = Path(__file__).with_name("proportions.yaml")
_HEIGHT_CHAIN = ("trunk", "thigh", "shank")  # the segments stacked in standing height
# Segment -> the landmark pairs whose distance it is (both sides pooled; trunk uses midpoints).
_SEGMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "thigh": (("left_hip", "left_knee"), ("right_hip", "right_knee")),
    "shank": (("left_knee", "left_ankle"), ("right_knee", "right_ankle")),
    "upper_arm": (("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow")),
    "forearm": (("left_elbow", "left_wrist"), ("right_elbow", "right_wrist")),
}


def figure_code(body: Body) -> str:
    """``b`` + each segment in thousandths of stature: fits the job's 32-character figure column."""
    return _PREFIX + "-".join(f"{round(getattr(body, f.name) * 1000):03d}" for f in fields(Body))


def body_from_code(code: str) -> Body:
    """The body a figure code stands for; "standard" (or anything else) is the standard figure."""
    if not code.startswith(_PREFIX):
        return STANDARD_BODY
    values = [int(v) / 1000.0 for v in code[len(_PREFIX) :].split("-")]
    return Body(*values)


def _read_points(text: str) -> dict[str, FloatArray]:
    """(N, 2) metres per landmark from keypoints_m.csv (NaN where a cell is empty)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    points: dict[str, FloatArray] = {}
    names = {key[: -len("_x_m")] for key in (rows[0] if rows else {}) if key.endswith("_x_m")}
    for name in names:
        xy = np.full((len(rows), 2), np.nan)
        for i, row in enumerate(rows):
            x, y = row[f"{name}_x_m"], row[f"{name}_y_m"]
            if x and y:
                xy[i] = (float(x), float(y))
        points[name] = xy
    return points


def _length(points: dict[str, FloatArray], segment: str, percentile: float) -> float | None:
    if segment == "trunk":
        shoulders = (points["left_shoulder"] + points["right_shoulder"]) / 2.0
        hips = (points["left_hip"] + points["right_hip"]) / 2.0
        lengths = np.linalg.norm(shoulders - hips, axis=1)
    else:
        lengths = np.concatenate(
            [np.linalg.norm(points[b] - points[a], axis=1) for a, b in _SEGMENTS[segment]]
        )
    lengths = lengths[np.isfinite(lengths)]
    return float(np.percentile(lengths, percentile)) if lengths.size else None


@cache
def calibration() -> dict[str, float]:
    """Measured / true length per segment for the standard figure (proportions.yaml)."""
    raw = yaml.safe_load(CALIBRATION_FILE.read_text(encoding="utf-8"))["calibration"]
    return {name: float(value) for name, value in raw.items()}


def body_from_points(
    points: dict[str, FloatArray], stature_m: float, settings: Settings
) -> Body | None:
    """The figure's segment lengths from measured points; None if a segment is unmeasured."""
    band = settings.drill_figure_max_deviation
    corrected: dict[str, float] = {}
    for f in fields(Body):
        length = _length(points, f.name, settings.drill_figure_length_percentile)
        if length is None or not math.isfinite(length) or stature_m <= 0:
            return None
        corrected[f.name] = length / stature_m / calibration()[f.name]
    chain = sum(corrected[name] for name in _HEIGHT_CHAIN)
    k = sum(getattr(STANDARD_BODY, name) for name in _HEIGHT_CHAIN) / chain
    values: dict[str, float] = {}
    for name, value in corrected.items():
        standard = getattr(STANDARD_BODY, name)
        values[name] = min(max(value * k, standard * (1 - band)), standard * (1 + band))
    return Body(**values)


def body_for_run(storage: Storage, run_key: str, settings: Settings) -> Body:
    """The figure with the proportions measured in the run (its features stage must be done).

    Raises AppError("figure_unavailable") when the run has no measured keypoints.
    """
    keypoints, features = run_file(run_key, KEYPOINTS_M_CSV), run_file(run_key, FEATURES)
    if not (storage.exists(keypoints) and storage.exists(features)):
        raise AppError("figure_unavailable")
    scale = json.loads(storage.get_bytes(features)).get("scale") or {}
    height_cm = scale.get("height_cm")
    points = _read_points(storage.get_bytes(keypoints).decode("utf-8"))
    needed = {n for pairs in _SEGMENTS.values() for pair in pairs for n in pair}
    if not height_cm or not needed <= set(points):
        raise AppError("figure_unavailable")
    body = body_from_points(points, float(height_cm) / 100.0, settings)
    if body is None:
        raise AppError("figure_unavailable")
    # Rounded as the code stores it, so a job renders exactly the body its cache key names.
    return body_from_code(figure_code(body))
