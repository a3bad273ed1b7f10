"""Signed segment and joint angles in the sagittal image plane, facing-aware.

Conventions (also in feature_extraction/ANGLES.md): angles are in degrees in (-180, 180].
Every frame is first put in the person's own frame, x forward (the way they face in that
frame) and y up, so the same movement gives the same numbers whether the person faces the
image's left or right.

Segment angles (``{side}_{segment}_segment_deg``, ``trunk_segment_deg``, ``pelvis_segment_deg``):
- trunk (mid-hip -> mid-shoulder): from the upward vertical, + when the shoulders are ahead.
- thigh (hip -> knee), shank (knee -> ankle), upper arm (shoulder -> elbow), forearm
  (elbow -> wrist): from the downward vertical, + when the distal end is ahead.
- foot (heel -> toe): from the forward horizontal, + when the toes are up.
- pelvis (right hip -> left hip): from the image horizontal, + when the left hip is higher in
  the image; independent of facing (it only means something in a front or rear view).

Joint angles (``{side}_{joint}_angle_deg``), 0 in upright standing, + in flexion:
- hip = thigh + trunk; shoulder = upper arm + trunk; knee = thigh - shank;
  elbow = forearm - upper arm; ankle (dorsiflexion +) = foot - shank.
Negative values are extension past neutral (hip extension at toe-off, knee hyperextension,
plantarflexion), which the unsigned ``*_flexion_deg`` series cannot show.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from formcoach.feature_extraction.filters import FloatArray
from formcoach.pose_estimation.schemas import LANDMARK_INDEX

SEGMENTS: tuple[tuple[str, str, str, Literal["up", "down", "forward"]], ...] = (
    # name, proximal landmark, distal landmark, reference direction
    ("thigh", "hip", "knee", "down"),
    ("shank", "knee", "ankle", "down"),
    ("foot", "heel", "foot_index", "forward"),
    ("upper_arm", "shoulder", "elbow", "down"),
    ("forearm", "elbow", "wrist", "down"),
)
JOINTS = ("ankle", "knee", "hip", "shoulder", "elbow")
SEGMENT_SERIES: tuple[str, ...] = (
    *(f"{side}_{name}_segment_deg" for side in ("left", "right") for name, *_ in SEGMENTS),
    "trunk_segment_deg",
    "pelvis_segment_deg",
)
JOINT_SERIES: tuple[str, ...] = tuple(
    f"{side}_{joint}_angle_deg" for side in ("left", "right") for joint in JOINTS
)


def wrap(deg: FloatArray) -> FloatArray:
    """Into (-180, 180]."""
    return np.asarray(180.0 - np.mod(180.0 - deg, 360.0), dtype=np.float64)


def _point(xy: FloatArray, name: str) -> FloatArray:
    return xy[:, LANDMARK_INDEX[name], :]


def _mid(xy: FloatArray, name: str) -> FloatArray:
    pair = np.stack([_point(xy, f"left_{name}"), _point(xy, f"right_{name}")])
    present = np.isfinite(pair)
    total = np.where(present, pair, 0.0).sum(axis=0)
    count = present.sum(axis=0)
    # One side alone stands in for the midpoint: in a side view the two nearly coincide.
    return np.asarray(np.where(count > 0, total / np.maximum(count, 1), np.nan), dtype=np.float64)


def _direction(vec: FloatArray, forward: FloatArray, reference: str) -> FloatArray:
    """Angle of image vectors in the person's frame (x forward, y up) from the reference."""
    fx = vec[:, 0] * forward
    uy = -vec[:, 1]  # image y grows downward
    if reference == "up":
        angle = np.arctan2(fx, uy)
    elif reference == "down":
        angle = np.arctan2(fx, -uy)
    else:
        angle = np.arctan2(uy, fx)
    return np.asarray(np.degrees(angle), dtype=np.float64)


def segment_angles(xy: FloatArray, forward: FloatArray) -> dict[str, FloatArray]:
    """Every segment series; ``forward`` is +1 (facing right) or -1 (facing left) per frame."""
    out: dict[str, FloatArray] = {}
    for side in ("left", "right"):
        for name, a, b, reference in SEGMENTS:
            vec = _point(xy, f"{side}_{b}") - _point(xy, f"{side}_{a}")
            out[f"{side}_{name}_segment_deg"] = _direction(vec, forward, reference)
    trunk = _mid(xy, "shoulder") - _mid(xy, "hip")
    out["trunk_segment_deg"] = _direction(trunk, forward, "up")
    pelvis = _point(xy, "left_hip") - _point(xy, "right_hip")
    out["pelvis_segment_deg"] = np.degrees(np.arctan2(-pelvis[:, 1], pelvis[:, 0]))
    return out


def joint_angles(segments: dict[str, FloatArray]) -> dict[str, FloatArray]:
    """Signed joint angles from the segment angles (see the module's conventions)."""
    trunk = segments["trunk_segment_deg"]
    out: dict[str, FloatArray] = {}
    for side in ("left", "right"):

        def seg(name: str, side: str = side) -> FloatArray:
            return segments[f"{side}_{name}_segment_deg"]

        out[f"{side}_ankle_angle_deg"] = wrap(seg("foot") - seg("shank"))
        out[f"{side}_knee_angle_deg"] = wrap(seg("thigh") - seg("shank"))
        out[f"{side}_hip_angle_deg"] = wrap(seg("thigh") + trunk)
        out[f"{side}_shoulder_angle_deg"] = wrap(seg("upper_arm") + trunk)
        out[f"{side}_elbow_angle_deg"] = wrap(seg("forearm") - seg("upper_arm"))
    return out
