"""Per-stride running and walking measures at the gait events (side view), and pelvic drop and
step width from a rear or front view.

Side view: at each initial contact (IC) the shank angle, how far the heel lands ahead of the
pelvis, and the knee angle; over the stance (IC to the same foot's toe-off, TO) the peak knee
flexion; at TO the hip extension; contact time and duty factor; the pelvis's vertical
oscillation per step and, when the runner travels across the image, the step length and the
vertical ratio. Every value is a median over the steps of one side, with the count behind it.

Frontal views: a foot is in stance while it is clearly the lower one; during each stance the
pelvic drop is the swing-side hip's drop below the stance-side hip, and the stance foot's
lateral offset from the pelvis midline gives step width and crossover.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from formcoach.feature_extraction.filters import FloatArray, segments
from formcoach.feature_extraction.gait import (
    SIDES,
    Contacts,
    ahead_of_pelvis,
    gait_config,
    pelvis_x,
)
from formcoach.feature_extraction.scale import Scale
from formcoach.pose_estimation.schemas import LANDMARK_INDEX

Side = dict[str, Any]


def _at(series: FloatArray, times: FloatArray, t: float) -> float:
    ok = np.isfinite(series)
    i = int(np.searchsorted(times, t))
    lo, hi = max(i - 1, 0), min(i, times.size - 1)
    if not (ok[lo] and ok[hi]):
        return math.nan
    return float(np.interp(t, times[ok], series[ok]))


def _window_max(series: FloatArray, times: FloatArray, a: float, b: float) -> float:
    inside = (times >= a) & (times <= b) & np.isfinite(series)
    return float(series[inside].max()) if inside.any() else math.nan


def _median(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.median(finite)) if finite else None


def _hip_height_m(xy: FloatArray, scale: Scale) -> FloatArray:
    hips = np.stack([xy[:, LANDMARK_INDEX[f"{s}_hip"], :] for s in SIDES])
    present = np.isfinite(hips).all(axis=2)
    total = np.where(present[..., None], hips, 0.0).sum(axis=0)
    count = present.sum(axis=0)[:, None]
    mid = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return np.asarray(scale.to_metres(mid)[:, 1], dtype=np.float64)


def side_view(
    xy: FloatArray,
    times: FloatArray,
    forward: NDArray[np.int8],
    series: dict[str, FloatArray],
    contacts: Contacts,
    toe_offs: dict[str, list[float]],
    leg_length: float,
    scale: Scale,
) -> dict[str, Any]:
    """The per-side medians and whole-clip values documented in ANGLES.md (Gait events)."""
    cfg = gait_config().stride
    m_per_px = scale.m_per_px
    all_strides = [b - a for v in contacts.by_side.values() for a, b in itertools.pairwise(v)]
    stride_median = float(np.median(all_strides)) if all_strides else math.nan
    labelled = sorted((t, s) for s, v in contacts.by_side.items() for t in v)
    step_pairs = list(itertools.pairwise(labelled))
    step_median = float(np.median([b[0] - a[0] for a, b in step_pairs])) if step_pairs else math.nan
    per_side: dict[str, Side] = {}
    for side in SIDES:
        ics = contacts.by_side.get(side, [])
        tos = toe_offs.get(side, [])
        heel = ahead_of_pelvis(xy, forward, f"{side}_heel")
        knee = series[f"{side}_knee_angle_deg"]
        rows: dict[str, list[float]] = {
            k: []
            for k in (
                "shank_at_contact_deg",
                "heel_ahead_cm",
                "heel_ahead_leg_pct",
                "knee_at_contact_deg",
                "knee_peak_stance_deg",
                "hip_extension_toe_off_deg",
                "contact_time_s",
                "duty_factor",
                "stride_time_s",
                "step_time_s",
            )
        }
        # The step that ends with each of this foot's contacts, after the other foot's.
        step_ending = {
            t1: t1 - t0
            for (t0, s0), (t1, s1) in step_pairs
            if s1 == side and s0 != side and abs((t1 - t0) - step_median) <= 0.5 * step_median
        }
        for i, ic in enumerate(ics):
            row = dict.fromkeys(rows, math.nan)
            row["shank_at_contact_deg"] = _at(series[f"{side}_shank_segment_deg"], times, ic)
            ahead = _at(heel, times, ic)
            row["heel_ahead_leg_pct"] = 100.0 * ahead / leg_length
            row["heel_ahead_cm"] = ahead * m_per_px * 100.0 if m_per_px else math.nan
            row["knee_at_contact_deg"] = _at(knee, times, ic)
            row["step_time_s"] = step_ending.get(ic, math.nan)
            stride = ics[i + 1] - ic if i + 1 < len(ics) else math.nan
            # A stride across a lost stretch of the clip is no stride.
            if math.isfinite(stride) and abs(stride - stride_median) > 0.5 * stride_median:
                stride = math.nan
            row["stride_time_s"] = stride
            limit = ic + cfg.max_stance_share * (stride if math.isfinite(stride) else stride_median)
            after = [t for t in tos if ic < t <= limit]
            if after:
                to = after[0]
                row["knee_peak_stance_deg"] = _window_max(knee, times, ic, to)
                row["hip_extension_toe_off_deg"] = -_at(series[f"{side}_hip_angle_deg"], times, to)
                row["contact_time_s"] = to - ic
                row["duty_factor"] = (to - ic) / stride if math.isfinite(stride) else math.nan
            for key, cell in row.items():
                rows[key].append(cell)
        summary: Side = {"contacts": len(ics), "toe_offs": len(tos)}
        for key, values in rows.items():
            value = _median(values)
            summary[key] = None if value is None else round(value, 4)
            summary[f"{key}_n"] = sum(1 for v in values if math.isfinite(v))
        # Per contact (aligned with gait.initial_contacts_s[side]), for evidence time ranges.
        summary["at_contacts"] = {
            key: [round(v, 4) if math.isfinite(v) else None for v in values]
            for key, values in rows.items()
        }
        per_side[side] = summary

    hip_m = _hip_height_m(xy, scale)
    pelvis_px = pelvis_x(xy)
    oscillations: list[float] = []
    travels: list[float] = []
    for (t0, _), (t1, _) in step_pairs:
        if not abs((t1 - t0) - step_median) <= 0.5 * step_median:
            continue
        inside = (times >= t0) & (times <= t1) & np.isfinite(hip_m)
        if inside.sum() >= 3:
            oscillations.append(float(hip_m[inside].max() - hip_m[inside].min()))
        a, b = _at(pelvis_px, times, t0), _at(pelvis_px, times, t1)
        travels.append(abs(b - a))
    oscillation = _median(oscillations)
    travel_px = _median(travels)
    step_length = None
    moving = travel_px is not None and travel_px >= cfg.min_travel_legs_per_step * leg_length
    if moving and travel_px is not None and m_per_px:
        step_length = travel_px * m_per_px
    ratio = (
        100.0 * oscillation / step_length
        if oscillation is not None and step_length is not None and step_length > 0
        else None
    )
    return {
        "per_side": per_side,
        "step_time_s": None if not math.isfinite(step_median) else round(step_median, 4),
        "steps": len(step_pairs),
        "vertical_oscillation_cm": None if oscillation is None else round(100 * oscillation, 2),
        "vertical_oscillation_n": len(oscillations),
        "travelling": bool(moving),
        "step_length_m": None if step_length is None else round(step_length, 4),
        "vertical_ratio_pct": None if ratio is None else round(ratio, 2),
    }


def frontal_view(
    xy: FloatArray, times: FloatArray, leg_length: float, scale: Scale
) -> dict[str, Any]:
    """Pelvic drop (deg, peak per stance) and lateral foot placement (cm) per stance side."""
    if not np.isfinite(leg_length) or leg_length <= 0:
        return {}
    clearance = gait_config().frontal.stance_clearance_legs * leg_length
    lm = LANDMARK_INDEX
    ankle_y = {s: xy[:, lm[f"{s}_ankle"], 1] for s in SIDES}
    hip = {s: xy[:, lm[f"{s}_hip"], :] for s in SIDES}
    mid_x = 0.5 * (hip["left"][:, 0] + hip["right"][:, 0])
    m_per_px = scale.m_per_px or math.nan
    out: dict[str, Any] = {}
    for side, other in (("left", "right"), ("right", "left")):
        with np.errstate(invalid="ignore"):
            stance = ankle_y[side] - ankle_y[other] >= clearance
        drops: list[float] = []
        offsets: list[float] = []
        starts: list[float] = []
        # The hip drop and the lateral offset point the same way whichever way the person
        # faces: "lateral" is from the midline toward this side's own hip.
        lateral = np.sign(hip[side][:, 0] - hip[other][:, 0])
        width = np.abs(hip[side][:, 0] - hip[other][:, 0])
        drop_px = hip[other][:, 1] - hip[side][:, 1]  # y down: + when the swing hip is lower
        drop_deg = np.degrees(np.arctan2(drop_px, width))
        offset_px = (xy[:, lm[f"{side}_ankle"], 0] - mid_x) * lateral
        for a, b in segments(stance):
            if b - a < 2:
                continue
            starts.append(float(times[a]))
            seg = drop_deg[a:b]
            if np.isfinite(seg).any():
                drops.append(float(np.nanmax(seg)))
            mid = (a + b) // 2
            offsets.append(float(offset_px[mid]) * m_per_px * 100.0)
        drop = _median(drops)
        offset = _median(offsets)
        finite = [o for o in offsets if math.isfinite(o)]
        out[side] = {
            "stances": len(starts),
            "stance_starts_s": [round(t, 4) for t in starts],
            "pelvic_drop_deg": None if drop is None else round(drop, 2),
            "foot_lateral_cm": None if offset is None else round(offset, 2),
            "crossover_share": round(sum(1 for o in finite if o < 0) / len(finite), 3)
            if finite
            else None,
        }
    left, right = out["left"]["foot_lateral_cm"], out["right"]["foot_lateral_cm"]
    out["step_width_cm"] = None if left is None or right is None else round(left + right, 2)
    return out
