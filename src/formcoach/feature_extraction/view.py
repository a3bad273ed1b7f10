"""Which view of the body the camera has, per ~1 s window: side, oblique, front or back.

The user's choice of view is a claim about the footage; this reads it from the footage. In a
side view the shoulders and hips overlap in the image, facing the camera (or turned away)
they are as wide as the torso is long: r = (shoulder width + hip width) / (2 x torso
length) separates the two, with oblique views in between (thresholds in view.yaml). A walker
who turns round changes view, hence windows and segments; the clip's view is the one that
covers the most frames.

Overhead views are not detected yet (the ratio cannot tell them from a side view).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from formcoach.feature_extraction.filters import FloatArray
from formcoach.pose_estimation.schemas import LANDMARK_INDEX

VIEW_FILE = Path(__file__).with_name("view.yaml")
View = Literal["side", "oblique", "front", "back", "unknown"]
# Views in which the camera looks at the body's frontal plane.
FRONTAL_VIEWS: tuple[str, ...] = ("front", "back", "rear")
_FACE = ("nose", "left_eye", "right_eye")
# Share of the dominant view's windows that must agree for the clip to have one facing.
_FACING_AGREEMENT = 0.75


class ViewConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    window_s: float = Field(gt=0)
    min_window_share: float = Field(ge=0, le=1)
    side_max_ratio: float = Field(gt=0)
    oblique_max_ratio: float = Field(gt=0)
    frontal_ratio: float = Field(gt=0)
    front_max_turn_deg: float = Field(ge=0, le=90)
    face_min_visibility: float = Field(ge=0, le=1)
    min_travel_legs_per_s: float = Field(ge=0)
    lying_min_tilt_deg: float = Field(ge=0, le=90)
    source: str = Field(min_length=3)


@cache
def view_config(path: Path = VIEW_FILE) -> ViewConfig:
    with path.open(encoding="utf-8") as handle:
        return ViewConfig.model_validate(yaml.safe_load(handle))


def _lm(xy: FloatArray, name: str) -> FloatArray:
    return xy[:, LANDMARK_INDEX[name], :]


def width_ratio(xy: FloatArray) -> FloatArray:
    """Per frame (shoulder width + hip width) / (2 x torso length); NaN where any is missing."""
    ls, rs = _lm(xy, "left_shoulder"), _lm(xy, "right_shoulder")
    lh, rh = _lm(xy, "left_hip"), _lm(xy, "right_hip")
    shoulders = np.linalg.norm(ls - rs, axis=1)
    hips = np.linalg.norm(lh - rh, axis=1)
    torso = np.linalg.norm((ls + rs) / 2 - (lh + rh) / 2, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (shoulders + hips) / (2.0 * torso)
    return np.asarray(np.where(torso > 0, ratio, np.nan), dtype=np.float64)


def torso_tilt_deg(xy: FloatArray) -> FloatArray:
    """Per frame, the mid-hip -> mid-shoulder line's angle from the image's upward vertical
    (0 upright, 90 lying, 180 upside down); NaN where a shoulder or hip is missing."""
    shoulders = (_lm(xy, "left_shoulder") + _lm(xy, "right_shoulder")) / 2
    hips = (_lm(xy, "left_hip") + _lm(xy, "right_hip")) / 2
    up = shoulders - hips
    length = np.linalg.norm(up, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.clip(-up[:, 1] / length, -1.0, 1.0)
    return np.asarray(np.where(length > 0, np.degrees(np.arccos(cos)), np.nan), np.float64)


def axis_turn_deg(xy: FloatArray, z: FloatArray, width: float) -> FloatArray:
    """Per frame, how far the shoulder and hip axes turn out of the image plane, in degrees
    (0 square to the camera, 90 side-on), from MediaPipe's relative depth z.

    z is in normalised image units, roughly on the scale of x (MediaPipe's docs), hence the
    frame width. Measured [F]: side clips 84-89°, the Pose2Sim oblique clip 72°, a 45° render
    67°, a render facing the camera 6-15°: it compresses obliques but tells front from side.
    """
    out = []
    for a, b in (("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")):
        ia, ib = LANDMARK_INDEX[a], LANDMARK_INDEX[b]
        dx = np.abs(xy[:, ia, 0] - xy[:, ib, 0])
        dz = np.abs(z[:, ia] - z[:, ib]) * width
        out.append(np.degrees(np.arctan2(dz, dx)))
    both = np.stack(out)
    known = np.isfinite(both)
    count = known.sum(axis=0)
    total = np.where(known, both, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(count > 0, total / count, np.nan), dtype=np.float64)


def _toward_camera(xy: FloatArray, visibility: FloatArray, config: ViewConfig) -> FloatArray:
    """Per frame +1 facing the camera, -1 turned away, 0 undecided.

    Sides are the person's own: facing the camera their left lies to the image's right. The
    face must be visible too, or the frame votes "away".
    """
    order = (_lm(xy, "left_shoulder")[:, 0] - _lm(xy, "right_shoulder")[:, 0]) + (
        _lm(xy, "left_hip")[:, 0] - _lm(xy, "right_hip")[:, 0]
    )
    face = np.nan_to_num(visibility[:, [LANDMARK_INDEX[n] for n in _FACE]], nan=0.0).max(axis=1)
    vote = np.where(order > 0, 1.0, np.where(order < 0, -1.0, 0.0))
    vote = np.where(face < config.face_min_visibility, -1.0, vote)
    return np.asarray(np.where(np.isfinite(order), vote, 0.0), dtype=np.float64)


def _square(turn: FloatArray, config: ViewConfig) -> bool:
    """Whether the depth cue says the body is square to the camera (front or back)."""
    known = turn[np.isfinite(turn)]
    return bool(known.size) and float(np.median(known)) <= config.front_max_turn_deg


def _facing(
    xy: FloatArray,
    times: FloatArray,
    nose_facing: NDArray[np.int8],
    leg_length: float,
    config: ViewConfig,
) -> str:
    """left/right in the image for one window of a side or oblique view: travel, else nose."""
    hip_x = (_lm(xy, "left_hip")[:, 0] + _lm(xy, "right_hip")[:, 0]) / 2
    known = np.isfinite(hip_x)
    if known.sum() >= 2 and np.isfinite(leg_length) and leg_length > 0:
        t, x = times[known], hip_x[known]
        span = float(t[-1] - t[0])
        if span > 0:
            speed = float(np.polyfit(t, x, 1)[0]) / leg_length
            if abs(speed) >= config.min_travel_legs_per_s:
                return "right" if speed > 0 else "left"
    votes = int(np.sum(nose_facing))
    return "right" if votes > 0 else "left" if votes < 0 else "unknown"


def detect_view(
    xy: FloatArray,
    visibility: FloatArray,
    times: FloatArray,
    fps: float,
    nose_facing: NDArray[np.int8],
    leg_length: float,
    z: FloatArray | None = None,
    width: float = 0.0,
    config: ViewConfig | None = None,
) -> dict[str, Any]:
    """features.json `view`: the clip's dominant view, its windows and merged segments.

    ``xy`` is the cleaned (N, 33, 2) px with NaN where a landmark was not seen, ``visibility``
    the model's (N, 33) visibility, ``nose_facing`` +1/-1/0 per frame (facing.py).
    """
    config = config or view_config()
    ratio = width_ratio(xy)
    turn = (
        axis_turn_deg(xy, z, width)
        if z is not None and width > 0
        else np.full(times.size, np.nan, dtype=np.float64)
    )
    toward = _toward_camera(xy, visibility, config)
    tilt = torso_tilt_deg(xy)
    n = times.size
    size = max(1, round(config.window_s * fps)) if fps > 0 else max(n, 1)
    windows: list[dict[str, Any]] = []
    for start in range(0, n, size):
        stop = min(n, start + size)
        part = ratio[start:stop]
        seen = np.isfinite(part)
        view: View = "unknown"
        facing = "unknown"
        median: float | None = None
        tilts = tilt[start:stop]
        lying = bool(np.isfinite(tilts).any()) and (
            abs(float(np.nanmedian(tilts)) - 90.0) < 90.0 - config.lying_min_tilt_deg
        )
        # The width/torso ratio reads how square an upright body is to the camera; a body
        # lying down (a plank, a side plank facing the camera, a bridge) shows its width along
        # the image's vertical, and a rendered side plank read "oblique". Such a window stays
        # unknown: the user's choice stands.
        enough = seen.sum() >= config.min_window_share * (stop - start) and seen.any()
        if enough and not lying:
            median = float(np.median(part[seen]))
            if median < config.side_max_ratio:
                view = "side"
            elif median < config.oblique_max_ratio and not _square(turn[start:stop], config):
                view = "oblique"
            else:
                view = "front" if float(np.sum(toward[start:stop])) > 0 else "back"
            if view in ("side", "oblique"):
                facing = _facing(
                    xy[start:stop], times[start:stop], nose_facing[start:stop], leg_length, config
                )
            else:
                facing = "toward_camera" if view == "front" else "away_from_camera"
        windows.append(
            {
                "start_s": round(float(times[start]), 3),
                "end_s": round(float(times[stop - 1]) + (1.0 / fps if fps > 0 else 0.0), 3),
                "view": view,
                "facing": facing,
                "ratio": None if median is None else round(median, 4),
                "frames": stop - start,
            }
        )
    return _summarise(windows, ratio, config)


def _summarise(
    windows: list[dict[str, Any]], ratio: FloatArray, config: ViewConfig
) -> dict[str, Any]:
    frames: dict[str, int] = {}
    for w in windows:
        if w["view"] != "unknown":
            frames[w["view"]] = frames.get(w["view"], 0) + int(w["frames"])
    dominant = max(frames, key=lambda v: frames[v]) if frames else "unknown"
    segments: list[dict[str, Any]] = []
    for w in windows:
        if segments and segments[-1]["view"] == w["view"]:
            segments[-1]["end_s"] = w["end_s"]
            continue
        segments.append({k: w[k] for k in ("start_s", "end_s", "view")})
    finite = ratio[np.isfinite(ratio)]
    median = float(np.median(finite)) if finite.size else None
    in_dominant = [w["ratio"] for w in windows if w["view"] == dominant and w["ratio"] is not None]
    angle = None
    if dominant == "oblique" and in_dominant:
        # Rough: the body's width grows with the sine of its turn away from a side view.
        share = min(1.0, float(np.median(in_dominant)) / config.frontal_ratio)
        angle = round(float(np.degrees(np.arcsin(share))))
    facings = [w["facing"] for w in windows if w["view"] == dominant]
    facing = max(set(facings), key=facings.count) if facings else "unknown"
    # A walker who turns round faces both ways: no one facing stands for the clip.
    if facings and facings.count(facing) < _FACING_AGREEMENT * len(facings):
        facing = "unknown"
    return {
        "view": dominant,
        "facing": facing,
        "ratio_median": None if median is None else round(median, 4),
        "angle_from_side_deg": angle,
        "frames_by_view": frames,
        "segments": segments,
        "windows": windows,
    }


def view_at(view_doc: dict[str, Any], t: float) -> str:
    """The detected view at time ``t`` (s), "unknown" outside every window."""
    for w in view_doc.get("windows", []):
        if w["start_s"] <= t < w["end_s"]:
            return str(w["view"])
    return "unknown"


__all__ = ["FRONTAL_VIEWS", "detect_view", "view_at", "view_config", "width_ratio"]
