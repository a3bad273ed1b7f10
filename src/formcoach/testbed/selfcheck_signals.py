"""Per-frame signals the self-check judges a demonstration by, from 2D keypoints.

Each signal is one function of a (N, 33, 2) array of image points (x right, y down, in
MediaPipe's landmark order), so it is computed the same way from what formcoach measured in
the encoded video (the cleaned keypoints of feature extraction) and from what was rendered
(the figure's joints placed at the same landmarks): repetitions are counted on both with the
same counter and must agree.

Names: ``<side>_<joint>_flexion_deg`` (knee, hip, elbow; 0 = straight, as features.json),
``any_<joint>_flexion_deg`` (the larger side each frame), and the front-view and foot signals
documented in SIGNALS below. Distances are in leg lengths so that pixels and body heights
compare.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from formcoach.feature_extraction.service import flexion_deg
from formcoach.pose_estimation.schemas import LANDMARK_INDEX, N_LANDMARKS
from formcoach.video_generation.figure import Figure

FloatArray = NDArray[np.float64]

# Figure joint -> MediaPipe landmark (the figure's "r" side is the person's right).
_JOINTS = {
    "shoulder": "shoulder",
    "elbow": "elbow",
    "wrist": "wrist",
    "hip": "hip",
    "knee": "knee",
    "ankle": "ankle",
    "heel": "heel",
    "toe": "foot_index",
}
_FLEXION = {"knee": ("hip", "knee", "ankle"), "hip": ("shoulder", "hip", "knee")}
_FLEXION["elbow"] = ("shoulder", "elbow", "wrist")


def figure_points(figures: list[Figure]) -> FloatArray:
    """The rendered joints as landmark points (y down, like image rows); NaN elsewhere."""
    xy = np.full((len(figures), N_LANDMARKS, 2), np.nan)
    for i, fig in enumerate(figures):
        for joint, landmark in _JOINTS.items():
            for side, name in (("r", "right"), ("l", "left")):
                x, y = fig.joints[f"{joint}_{side}"]
                xy[i, LANDMARK_INDEX[f"{name}_{landmark}"]] = (x, -y)
    return xy


def _p(xy: FloatArray, name: str) -> FloatArray:
    return xy[:, LANDMARK_INDEX[name], :]


def _between_deg(u: FloatArray, v: FloatArray) -> FloatArray:
    """Unsigned angle between two vectors per frame (0..180)."""
    diff = np.degrees(np.arctan2(u[:, 1], u[:, 0]) - np.arctan2(v[:, 1], v[:, 0]))
    return np.asarray(np.abs((diff + 180.0) % 360.0 - 180.0), dtype=np.float64)


def leg_length(xy: FloatArray) -> float:
    """Median hip-knee-ankle length over both legs: the unit of distance signals."""
    lengths = []
    for side in ("left", "right"):
        hip, knee, ankle = (_p(xy, f"{side}_{j}") for j in ("hip", "knee", "ankle"))
        lengths.append(np.linalg.norm(knee - hip, axis=1) + np.linalg.norm(ankle - knee, axis=1))
    finite = np.concatenate(lengths)
    finite = finite[np.isfinite(finite)]
    return float(np.median(finite)) if finite.size else float("nan")


def _legs_apart(xy: FloatArray) -> FloatArray:
    # Front view: the angle between the two hip->ankle lines (abduction of one leg from the other).
    return _between_deg(
        _p(xy, "left_ankle") - _p(xy, "left_hip"), _p(xy, "right_ankle") - _p(xy, "right_hip")
    )


def _thighs_apart(xy: FloatArray) -> FloatArray:
    # Clamshell: the knees open while the feet stay together, so the thighs part.
    return _between_deg(
        _p(xy, "left_knee") - _p(xy, "left_hip"), _p(xy, "right_knee") - _p(xy, "right_hip")
    )


def _knees_apart(xy: FloatArray) -> FloatArray:
    # Clamshell repetitions: the distance between the knees, steadier than the angle between
    # thighs that overlap at rest (the angle of two nearly coincident short lines is noise).
    gap = np.linalg.norm(_p(xy, "left_knee") - _p(xy, "right_knee"), axis=1)
    return np.asarray(gap / leg_length(xy), dtype=np.float64)


def _ankle_gap(xy: FloatArray) -> FloatArray:
    # Stance width: horizontal distance between the ankles.
    gap = np.abs(_p(xy, "left_ankle")[:, 0] - _p(xy, "right_ankle")[:, 0])
    return np.asarray(gap / leg_length(xy), dtype=np.float64)


def _feet_spread(xy: FloatArray) -> FloatArray:
    # Stance width seen from the front, from all six foot points of both feet together: it
    # does not care which foot is labelled left, nor if one foot's points drift to the other.
    feet = np.stack(
        [
            _p(xy, f"{s}_{p}")[:, 0]
            for s in ("left", "right")
            for p in ("ankle", "heel", "foot_index")
        ]
    )
    return np.asarray((np.nanmax(feet, 0) - np.nanmin(feet, 0)) / leg_length(xy), dtype=np.float64)


def _hip_height(xy: FloatArray) -> FloatArray:
    # Height of the mid-hip above the lowest foot point of the clip (hops, squats).
    hip = (_p(xy, "left_hip")[:, 1] + _p(xy, "right_hip")[:, 1]) / 2.0
    feet = np.stack(
        [_p(xy, f"{s}_{p}")[:, 1] for s in ("left", "right") for p in ("heel", "foot_index")]
    )
    floor = float(np.nanmax(feet))
    return np.asarray((floor - hip) / leg_length(xy), dtype=np.float64)


def _grounded_heel_lift(xy: FloatArray) -> FloatArray:
    """Pitch of the foot nearer the floor, toes down positive (a calf raise lifts the heel).

    The lower foot is the standing one whichever side the labels give it, so a single-leg
    raise is judged on the working foot even if the left and right feet were swapped.
    """
    pitches = []
    lows = []
    for side in ("left", "right"):
        heel, toe = _p(xy, f"{side}_heel"), _p(xy, f"{side}_foot_index")
        d = toe - heel
        # y grows downward: a toe below the heel is a positive pitch.
        pitches.append(np.degrees(np.arctan2(d[:, 1], np.abs(d[:, 0]))))
        lows.append(np.fmax(heel[:, 1], toe[:, 1]))
    pitch, low = np.stack(pitches), np.stack(lows)
    lower = np.where(np.nan_to_num(low[0], nan=-np.inf) >= np.nan_to_num(low[1], nan=-np.inf), 0, 1)
    return np.asarray(np.take_along_axis(pitch, lower[None, :], axis=0)[0], dtype=np.float64)


SIGNALS: dict[str, Callable[[FloatArray], FloatArray]] = {
    "legs_apart_deg": _legs_apart,
    "thighs_apart_deg": _thighs_apart,
    "knees_apart_legs": _knees_apart,
    "ankle_gap_legs": _ankle_gap,
    "feet_spread_legs": _feet_spread,
    "hip_height_legs": _hip_height,
    "heel_lift_deg": _grounded_heel_lift,
}


def signal(xy: FloatArray, name: str) -> FloatArray:
    """The named per-frame signal of the points (NaN where a point is missing)."""
    if name in SIGNALS:
        with np.errstate(invalid="ignore", divide="ignore"):
            return SIGNALS[name](xy)
    if name.startswith("any_"):
        rest = name[4:]
        both = np.stack([signal(xy, f"left_{rest}"), signal(xy, f"right_{rest}")])
        out: FloatArray = np.where(
            np.isnan(both).all(axis=0), np.nan, np.nanmax(np.nan_to_num(both, nan=-1e9), axis=0)
        )
        return out
    parts = name.split("_")
    side, joint = parts[0], parts[1] if len(parts) == 4 else ""
    if parts[2:] != ["flexion", "deg"] or joint not in _FLEXION or side not in ("left", "right"):
        raise KeyError(f"unknown self-check signal {name}")
    a, b, c = (_p(xy, f"{side}_{j}") for j in _FLEXION[joint])
    return flexion_deg(a, b, c)
