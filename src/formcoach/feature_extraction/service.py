"""Keypoints -> cleaned coordinates -> joint angles, trunk lean, facing and cadence.

Everything is 2D in image pixels (y down). Coordinates are cleaned and filtered first, angles
computed after, so that the filter never has to cope with angle wrap-around or with the
nonlinearity of atan2 on noisy points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.signal import find_peaks

from formcoach.feature_extraction.angles import joint_angles, segment_angles
from formcoach.feature_extraction.facing import facing_per_frame, facing_segments
from formcoach.feature_extraction.filters import BoolArray, FloatArray, clean_observed, segments
from formcoach.feature_extraction.gait import (
    Contacts,
    initial_contacts,
    periodic_gait,
    toe_offs,
    value_at,
)
from formcoach.feature_extraction.scale import Scale, estimate_scale
from formcoach.feature_extraction.schemas import Facing, FeatureResult
from formcoach.feature_extraction.stride import frontal_view, side_view
from formcoach.feature_extraction.upright import to_upright, vertical
from formcoach.feature_extraction.view import detect_view
from formcoach.kit.settings import Settings
from formcoach.pose_estimation.schemas import LANDMARK_INDEX, VISIBILITY, PoseResult

__all__ = [
    "CleanPose",
    "clean_keypoints",
    "compute_all",
    "compute_features",
    "detect_facing",
    "detect_steps",
    "flexion_deg",
    "inner_angle_deg",
]

# The nose must sit this far (fraction of body size) ahead of the head/shoulder line to vote
# for a facing direction; ~4 cm on an adult, well inside the ~10 cm nose-to-ear offset.
_FACING_MIN_OFFSET = 0.03
# Share of the frames with a usable head that must agree on one side.
_FACING_MAJORITY = 0.5
# Fastest plausible step rhythm (~240 steps/min): closer extremes are noise.
_MIN_STEP_INTERVAL_S = 0.25
# A step moves one ankle past the other by most of a leg length; a quarter rejects jitter
# and the small ankle sway of squats and planks.
_STEP_PROMINENCE_LEGS = 0.25
_MIN_STEPS_FOR_CADENCE = 4
_HAMPEL_FLOOR = 0.03


@dataclass(frozen=True)
class CleanPose:
    xy: FloatArray  # (N, 33, 2) cleaned px, turned upright when the camera's roll is known
    scale: Scale
    image_xy: FloatArray  # the same in the image's own pixels (for overlays and px exports)


def _lm(xy: FloatArray, name: str) -> FloatArray:
    return xy[:, LANDMARK_INDEX[name], :]


def _mid(xy: FloatArray, name: str) -> FloatArray:
    """Midpoint of a left/right pair, or the one side that is present.

    In a side view the far limb is often hidden; the near one alone is a good proxy because
    the two nearly coincide in the image.
    """
    pair = np.stack([_lm(xy, f"left_{name}"), _lm(xy, f"right_{name}")])
    present = np.isfinite(pair).all(axis=2)
    total = np.where(present[..., None], pair, 0.0).sum(axis=0)
    count = present.sum(axis=0)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _length(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.asarray(np.hypot(*(a - b).T), dtype=np.float64)


def clean_keypoints(pose: PoseResult, settings: Settings, fps: float | None = None) -> FloatArray:
    """(N, 33, 2) x, y px: unreliable points removed, short gaps filled, low-pass filtered."""
    return clean_keypoints_observed(pose, settings, fps)[0]


def seen_mask(pose: PoseResult, settings: Settings) -> BoolArray:
    """(N, 33) landmarks the model saw: visible enough and inside the frame.

    MediaPipe always returns all 33 landmarks, guessing the ones out of the frame (a knee at
    179.9° with the legs out of view for 12 s): those are never measurements.
    """
    kp = pose.keypoints
    seen = np.asarray(kp[:, :, VISIBILITY] >= settings.keypoint_min_visibility, dtype=np.bool_)
    if pose.width > 0 and pose.height > 0:
        margin = settings.landmark_frame_margin
        x, y = kp[:, :, 0], kp[:, :, 1]
        with np.errstate(invalid="ignore"):
            seen &= (x >= -margin * pose.width) & (x <= (1.0 + margin) * pose.width)
            seen &= (y >= -margin * pose.height) & (y <= (1.0 + margin) * pose.height)
    return seen


def clean_keypoints_observed(
    pose: PoseResult, settings: Settings, fps: float | None = None
) -> tuple[FloatArray, BoolArray]:
    """Cleaned (N, 33, 2) px and the (N, 33) mask of samples seen (not filled, not outliers)."""
    fps = pose.fps if fps is None else fps
    xy = pose.keypoints[:, :, :2].astype(np.float64)
    xy[~seen_mask(pose, settings)] = np.nan
    observed = np.zeros(xy.shape[:2], dtype=np.bool_)
    size, _ = body_scale(xy)
    half_window = round(settings.hampel_half_window_s * fps) if fps > 0 else 0
    for j in range(xy.shape[1]):
        xy[:, j, :], observed[:, j] = clean_observed(
            xy[:, j, :],
            pose.times,
            fps,
            max_gap_s=settings.max_gap_s,
            cutoff_hz=settings.filter_cutoff_hz,
            order=settings.filter_order,
            hampel_half_window=max(half_window, 1 if fps > 0 else 0),
            hampel_n_sigma=settings.hampel_n_sigma,
            # Deviations under a few % of body size are ordinary jitter, whatever the MAD says.
            hampel_floor=_HAMPEL_FLOOR * size if np.isfinite(size) else 0.0,
        )
    return xy, observed


def inner_angle_deg(a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    """Angle a-b-c at vertex b in degrees (180 = straight), NaN where any point is missing."""
    u, v = a - b, c - b
    norms = np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.einsum("ij,ij->i", u, v) / norms
    cos = np.where(norms > 0, cos, np.nan)
    return np.asarray(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))), dtype=np.float64)


def flexion_deg(a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    """Flexion at b: 0 when a-b-c is straight, growing as the joint bends."""
    return 180.0 - inner_angle_deg(a, b, c)


def body_scale(xy: FloatArray) -> tuple[float, float]:
    """(body size, leg length) in px: medians of shoulder-hip-knee-ankle and hip-knee-ankle.

    Summed segment lengths barely change with posture, unlike the straight shoulder-to-ankle
    distance that halves at the bottom of a squat.
    """
    legs, bodies = [], []
    for side in ("left", "right"):
        thigh = _length(_lm(xy, f"{side}_hip"), _lm(xy, f"{side}_knee"))
        shank = _length(_lm(xy, f"{side}_knee"), _lm(xy, f"{side}_ankle"))
        torso = _length(_lm(xy, f"{side}_shoulder"), _lm(xy, f"{side}_hip"))
        legs.append(thigh + shank)
        bodies.append(torso + thigh + shank)

    def median(values: list[FloatArray]) -> float:
        joined = np.concatenate(values)
        joined = joined[np.isfinite(joined) & (joined > 0)]
        return float(np.median(joined)) if joined.size else float("nan")

    return median(bodies), median(legs)


def detect_facing(xy: FloatArray, scale: float) -> Facing:
    """Which way the person faces in the image: the side of the nose, by majority of frames."""
    head = np.stack([_mid(xy, "shoulder")[:, 0], _mid(xy, "ear")[:, 0]])
    present = np.isfinite(head)
    reference = np.where(present, head, 0.0).sum(axis=0) / np.maximum(present.sum(axis=0), 1)
    reference = np.where(present.any(axis=0), reference, np.nan)
    offset = _lm(xy, "nose")[:, 0] - reference
    usable = np.isfinite(offset)
    if not usable.any() or not np.isfinite(scale):
        return "unknown"
    threshold = _FACING_MIN_OFFSET * scale
    right = int(np.count_nonzero(offset[usable] > threshold))
    left = int(np.count_nonzero(offset[usable] < -threshold))
    needed = _FACING_MAJORITY * int(usable.sum())
    if right > left and right >= needed:
        return "right"
    if left > right and left >= needed:
        return "left"
    return "unknown"


def trunk_lean_deg(xy: FloatArray, facing: Facing) -> FloatArray:
    """Mid-hip -> mid-shoulder angle from vertical, positive toward the facing direction.

    With no known facing the sign follows the image: positive toward the right edge.
    """
    v = _mid(xy, "shoulder") - _mid(xy, "hip")
    # y grows downward, so an upright trunk has v = (0, -L).
    toward_right = np.degrees(np.arctan2(v[:, 0], -v[:, 1]))
    return np.asarray(-toward_right if facing == "left" else toward_right, dtype=np.float64)


def hip_height_norm(xy: FloatArray, scale: float) -> FloatArray:
    """Mid-hip height above the lower ankle, in body sizes (standing ≈0.6, deep squat ≈0.2)."""
    ankles_y = np.stack([_lm(xy, "left_ankle")[:, 1], _lm(xy, "right_ankle")[:, 1]])
    lowest = np.where(np.isfinite(ankles_y), ankles_y, -np.inf).max(axis=0)
    lowest = np.where(np.isfinite(lowest), lowest, np.nan)
    return np.asarray((lowest - _mid(xy, "hip")[:, 1]) / scale, dtype=np.float64)


def hip_above_knee_norm(xy: FloatArray, scale: float) -> FloatArray:
    """Mid-hip height above mid-knee in body sizes: at or below 0 is a squat to parallel."""
    return np.asarray((_mid(xy, "knee")[:, 1] - _mid(xy, "hip")[:, 1]) / scale, dtype=np.float64)


def foot_lift_norm(xy: FloatArray, scale: float) -> FloatArray:
    """How much higher one ankle is than the other, in body sizes (single-leg stance)."""
    diff = _lm(xy, "left_ankle")[:, 1] - _lm(xy, "right_ankle")[:, 1]
    return np.asarray(np.abs(diff) / scale, dtype=np.float64)


def fppa_deg(xy: FloatArray, side: str) -> FloatArray:
    """Frontal-plane projection angle of one knee (front or rear view), + when the knee sits
    medial of the hip-ankle line (valgus), - lateral (varus); 0 when the leg is straight.

    Medial is toward the other hip, so the sign holds whichever way the person faces. In a
    side view the hips overlap and the value means nothing (analysis only reads it in front
    or rear views).
    """
    other = "right" if side == "left" else "left"
    hip, knee, ankle = (_lm(xy, f"{side}_{p}") for p in ("hip", "knee", "ankle"))
    bend = flexion_deg(hip, knee, ankle)
    with np.errstate(invalid="ignore", divide="ignore"):
        along = (knee[:, 1] - hip[:, 1]) / (ankle[:, 1] - hip[:, 1])
    line_x = hip[:, 0] + (ankle[:, 0] - hip[:, 0]) * along
    medial = np.sign(_lm(xy, f"{other}_hip")[:, 0] - hip[:, 0])
    sign = np.sign((knee[:, 0] - line_x) * medial)
    return np.asarray(np.where(sign < 0, -bend, bend), dtype=np.float64)


@dataclass(frozen=True)
class Steps:
    events_s: list[float]
    step_times_s: list[float]
    cadence_spm: float | None


def _refine(signal: FloatArray, i: int) -> float:
    """Sub-sample position of an extremum from the parabola through it and its neighbours.

    At 30 fps a step lasts ~10 frames: whole-frame peak times would put cadence in ±6 spm steps.
    """
    if i <= 0 or i >= signal.size - 1:
        return float(i)
    y0, y1, y2 = signal[i - 1], signal[i], signal[i + 1]
    curvature = y0 - 2.0 * y1 + y2
    return float(i) if curvature == 0 else float(i + 0.5 * (y0 - y2) / curvature)


def detect_steps(xy: FloatArray, times: FloatArray, fps: float, leg_length: float) -> Steps:
    """Steps from the alternation of which ankle is ahead along the image's horizontal.

    Each maximum and each minimum of (left ankle x - right ankle x) is one foot at its most
    forward point, i.e. one step; the sign of travel does not matter. Gaps split the signal
    and step times are only taken within a segment.
    """
    if fps <= 0 or not np.isfinite(leg_length) or leg_length <= 0:
        return Steps([], [], None)
    diff = _lm(xy, "left_ankle")[:, 0] - _lm(xy, "right_ankle")[:, 0]
    distance = max(1, round(_MIN_STEP_INTERVAL_S * fps))
    prominence = _STEP_PROMINENCE_LEGS * leg_length
    events: list[float] = []
    step_times: list[float] = []
    strides: list[float] = []
    frame_index = np.arange(times.size, dtype=np.float64)
    for start, stop in segments(np.isfinite(diff)):
        seg = diff[start:stop]
        found: list[tuple[int, int]] = []  # (index, +1 for a maximum / -1 for a minimum)
        for sign in (1, -1):
            peaks, _ = find_peaks(sign * seg, distance=distance, prominence=prominence)
            found += [(int(p), sign) for p in peaks]
        found.sort()
        # Two maxima in a row mean a missed minimum or a wobble: keep the more extreme one.
        kept: list[tuple[int, int]] = []
        for index, sign in found:
            if kept and kept[-1][1] == sign:
                if sign * seg[index] > sign * seg[kept[-1][0]]:
                    kept[-1] = (index, sign)
                continue
            kept.append((index, sign))
        seg_times = [
            float(np.interp(start + _refine(seg, index), frame_index, times)) for index, _ in kept
        ]
        events += seg_times
        step_times += np.diff(seg_times).tolist()
        strides += [b - a for a, b in zip(seg_times, seg_times[2:], strict=False)]
    cadence = None
    # From strides (every second event), not single steps: the maxima and minima of the
    # ankle difference are not evenly spaced when the near and far foot swing differently
    # (perspective, occlusion, an uneven gait), and the median of alternating short and long
    # steps picks one of them: 8 % of the stride's shape gave 177 for 190 spm.
    if len(events) >= _MIN_STEPS_FOR_CADENCE and strides:
        cadence = 120.0 / float(np.median(strides))
    elif len(events) >= _MIN_STEPS_FOR_CADENCE and step_times:
        cadence = 60.0 / float(np.median(step_times))
    return Steps(events, step_times, cadence)


def _forward(per_frame: NDArray[np.int8], facing: Facing) -> FloatArray:
    # Unknown frames fall back to the clip's facing, then to "right" (the image's +x).
    clip = -1.0 if facing == "left" else 1.0
    return np.where(per_frame == 0, clip, per_frame.astype(np.float64))


def _distances_cm(xy: FloatArray, scale: Scale) -> dict[str, float | None]:
    """Report distances in cm: hip bounce (p90 - p10 of mid-hip height) and stature used."""
    out: dict[str, float | None] = {"stature_cm": scale.height_cm}
    hip = scale.to_metres(_mid(xy, "hip")[:, None, :])[:, 0, 1]
    hip = hip[np.isfinite(hip)]
    out["hip_vertical_range_cm"] = (
        float(np.percentile(hip, 90) - np.percentile(hip, 10)) * 100.0 if hip.size else None
    )
    out["hip_height_median_cm"] = float(np.median(hip)) * 100.0 if hip.size else None
    return out


def _frame_series(
    xy: FloatArray, facing: Facing, forward: FloatArray, scale: float
) -> dict[str, FloatArray]:
    series: dict[str, FloatArray] = {}
    for side in ("left", "right"):
        shoulder, elbow, wrist = (_lm(xy, f"{side}_{p}") for p in ("shoulder", "elbow", "wrist"))
        hip, knee, ankle = (_lm(xy, f"{side}_{p}") for p in ("hip", "knee", "ankle"))
        series[f"{side}_knee_flexion_deg"] = flexion_deg(hip, knee, ankle)
        series[f"{side}_hip_flexion_deg"] = flexion_deg(shoulder, hip, knee)
        series[f"{side}_elbow_flexion_deg"] = flexion_deg(shoulder, elbow, wrist)
    series["trunk_lean_deg"] = trunk_lean_deg(xy, facing)
    series["body_line_deg"] = inner_angle_deg(
        _mid(xy, "shoulder"), _mid(xy, "hip"), _mid(xy, "ankle")
    )
    series["hip_height_norm"] = hip_height_norm(xy, scale)
    series["hip_above_knee_norm"] = hip_above_knee_norm(xy, scale)
    series["foot_lift_norm"] = foot_lift_norm(xy, scale)
    for side in ("left", "right"):
        series[f"{side}_fppa_deg"] = fppa_deg(xy, side)
    segment_series = segment_angles(xy, forward)
    series.update(joint_angles(segment_series))
    series.update(segment_series)
    return series


# Landmarks a movement's measures need, by body part: a part counts as seen in a frame when
# one whole side of it was (in a side view the far limb is often hidden).
BODY_PARTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "trunk": (("left_shoulder", "left_hip"), ("right_shoulder", "right_hip")),
    "legs": (("left_hip", "left_knee", "left_ankle"), ("right_hip", "right_knee", "right_ankle")),
    "arms": (
        ("left_shoulder", "left_elbow", "left_wrist"),
        ("right_shoulder", "right_elbow", "right_wrist"),
    ),
}


def body_parts_seen(seen: BoolArray) -> dict[str, BoolArray]:
    """Per body part, the frames where one side of it was seen whole."""
    out: dict[str, BoolArray] = {}
    for part, sides in BODY_PARTS.items():
        any_side = np.zeros(seen.shape[0], dtype=np.bool_)
        for names in sides:
            any_side |= seen[:, [LANDMARK_INDEX[n] for n in names]].all(axis=1)
        out[part] = any_side
    return out


def compute_features(
    pose: PoseResult,
    settings: Settings,
    fps: float | None = None,
    height_cm: float | None = None,
    camera_roll_deg: float | None = None,
) -> FeatureResult:
    """All series of features.json from the keypoints of one video."""
    fps = pose.fps if fps is None else fps
    result, _ = compute_all(pose, settings, fps, height_cm, camera_roll_deg)
    return result


def compute_all(
    pose: PoseResult,
    settings: Settings,
    fps: float,
    height_cm: float | None = None,
    camera_roll_deg: float | None = None,
) -> tuple[FeatureResult, CleanPose]:
    """Features plus the cleaned coordinates and scale the exports are written from.

    With the camera's roll known (the recording device's sensor), every measure is taken in
    the gravity frame (feature_extraction/upright.py)."""
    image_xy, seen = clean_keypoints_observed(pose, settings, fps)
    up = vertical(camera_roll_deg)
    xy = (
        image_xy
        if up.camera_roll_deg is None
        else to_upright(image_xy, pose.width, pose.height, up.camera_roll_deg)
    )
    scale, leg_length = body_scale(xy)
    facing = detect_facing(xy, scale)
    per_frame = facing_per_frame(xy, scale, fps)
    forward = _forward(per_frame, facing)
    series = _frame_series(xy, facing, forward, scale)
    # The same series from the seen landmarks only: where it has a value, the frame's value
    # rests on no filled sample.
    only_seen = np.where(seen[..., None], xy, np.nan)
    observed = {
        name: np.isfinite(values) & np.isfinite(series[name])
        for name, values in _frame_series(only_seen, facing, forward, scale).items()
    }
    # The view from the seen landmarks only: a filled or guessed shoulder is no evidence.
    visibility = np.asarray(pose.keypoints[:, :, VISIBILITY], dtype=np.float64)
    depth = np.where(seen, pose.keypoints[:, :, 2], np.nan).astype(np.float64)
    view = detect_view(
        only_seen, visibility, pose.times, fps, per_frame, leg_length, depth, float(pose.width)
    )
    steps = detect_steps(xy, pose.times, fps, leg_length)
    contacts = initial_contacts(xy, pose.times, per_frame, fps, leg_length)
    # A cadence only where the steps form a real periodic, alternating gait: arm raises, jumps
    # and turns also move one ankle past the other.
    not_periodic = periodic_gait(steps.step_times_s, steps.cadence_spm, contacts)
    if not_periodic is not None:
        steps = Steps(steps.events_s, steps.step_times_s, None)
        contacts = Contacts(contacts.by_side, None)
    knee_at: dict[str, float | None] = {}
    for side, at in contacts.by_side.items():
        values = [v for v in value_at(series[f"{side}_knee_angle_deg"], pose.times, at)]
        finite = [v for v in values if np.isfinite(v)]
        knee_at[side] = float(np.median(finite)) if finite else None
    metric = estimate_scale(xy, scale, height_cm, settings.default_height_cm)
    knees = {side: series[f"{side}_knee_angle_deg"] for side in ("left", "right")}
    toes = toe_offs(knees, pose.times, contacts) if not_periodic is None else {}
    stride = (
        side_view(xy, pose.times, per_frame, series, contacts, toes, leg_length, metric)
        if not_periodic is None
        else {}
    )
    result = FeatureResult(
        times=pose.times.astype(np.float64),
        fps=fps,
        facing=facing,
        series=series,
        step_events_s=steps.events_s,
        step_times_s=steps.step_times_s,
        cadence_spm=steps.cadence_spm,
        facing_segments=facing_segments(per_frame, pose.times),
        contacts_s=contacts.by_side,
        cadence_from_contacts_spm=contacts.cadence_spm,
        knee_at_contact_deg=knee_at,
        toe_offs_s=toes,
        periodic=not_periodic is None,
        not_periodic_reason=not_periodic,
        side_view=stride,
        frontal_view=frontal_view(xy, pose.times, leg_length, metric),
        distances_cm=_distances_cm(xy, metric),
        scale=metric.document(),
        subject_frames=pose.frames_with_subject,
        observed=observed,
        body_parts_seen=body_parts_seen(seen),
        view=view,
        vertical=up.model_dump(),
    )
    return result, CleanPose(xy=xy, scale=metric, image_xy=image_xy)
