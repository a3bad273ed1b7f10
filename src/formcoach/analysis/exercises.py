"""Repetition exercises: squat, push-up, glute bridge, lunge / split squat, single-leg squat.

Every profile counts reps on one flexion angle (reps.py, thresholds in reference.yaml) and
measures the rest at the reps' turning points. Metric keys start with the profile's prefix;
which of them are judged, against what and with which finding code is configuration.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from formcoach.analysis import lunge
from formcoach.analysis import series as s
from formcoach.analysis.judge import Clip, Measured
from formcoach.analysis.messages import FACING_UNKNOWN
from formcoach.analysis.reps import Rep, combine, detect_reps, value_at
from formcoach.analysis.schemas import Evidence, LocalizedText, RepRule

PREFIX: dict[str, str] = {
    "squat": "squat",
    "push_up": "pushup",
    "glute_bridge": "bridge",
    "lunge": "lunge",
    "single_leg_squat": "single_leg_squat",
}

# An informational value: (value, samples, the reason when the value is None).
Info = tuple[float | None, int | None, LocalizedText]

NO_REPS = LocalizedText(
    ja="反復動作を検出できなかったため測定できませんでした（動きが小さすぎるか、短すぎました）。",
    en="No repetition was found, so this could not be measured (the movement was too small or "
    "too short).",
)
NO_FULL_REPS = LocalizedText(
    ja="基準の深さに達した反復がなく、すべて浅い反復でした（深さの項目を参照）。",
    en="No repetition reached the depth threshold: all were partial (see depth).",
)
NEEDS_SEGMENTS = LocalizedText(
    ja="この値に必要な体節の傾き（すね・上体）が解析データにまだないため測定できません。",
    en="This needs segment angles (shin, trunk) that the features do not contain yet.",
)
NEEDS_SIGNED_HIP = LocalizedText(
    ja="腰が落ちているか上がっているかの判定には股関節の向き付き角度が必要ですが、"
    "解析データにまだないため測定できません。",
    en="Telling a sag from a pike needs the signed hip angle, which the features do not "
    "contain yet.",
)
NEEDS_FRONT_KNEE = LocalizedText(
    ja="膝が内側に入る角度（FPPA）は正面から撮影した動画でのみ測定できます。",
    en="The knee's frontal-plane projection angle can only be measured from a front view.",
)
NEEDS_HIP_KNEE = LocalizedText(
    ja="腰と膝の高さの比較に必要なデータが解析結果にないため測定できません。",
    en="The features do not carry the hip-above-knee height this needs.",
)
# Share of the clip's frames, the deepest by hip height, at which a front-view FPPA is read.
DEEPEST_PERCENTILE = 10.0


def spans(reps: list[Rep], frame_s: float) -> list[Evidence]:
    return [Evidence(start_s=round(r.start_s, 3), end_s=round(r.end_s + frame_s, 3)) for r in reps]


def _median(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.median(finite)) if finite else None


def flexion_signal(clip: Clip, joint: str, how: str) -> s.FloatArray:
    left = s.series(clip.features, f"left_{joint}_flexion_deg")
    right = s.series(clip.features, f"right_{joint}_flexion_deg")
    return combine(left, right, how)


def signed_hip_deviation(clip: Clip) -> s.FloatArray | None:
    """Shoulder-hip-ankle deviation from straight, negative when the hips sag (extension).

    The sign comes from the signed hip angle (feature_extraction/angles.py: + flexion,
    - extension); None when features.json does not carry it.
    """
    if not (clip.has("left_hip_angle_deg") or clip.has("right_hip_angle_deg")):
        return None
    hip = combine(
        s.series(clip.features, "left_hip_angle_deg"),
        s.series(clip.features, "right_hip_angle_deg"),
        "mean",
    )
    deviation = 180.0 - s.series(clip.features, "body_line_deg")
    n = min(hip.size, deviation.size)
    return np.asarray(np.sign(hip[:n]) * deviation[:n], dtype=np.float64)


def _tibia_forward(clip: Clip) -> s.FloatArray | None:
    """Forward tilt of the shin from vertical (knee ahead of ankle positive), both sides' mean."""
    if not (clip.has("left_shank_segment_deg") or clip.has("right_shank_segment_deg")):
        return None
    shank = combine(
        s.series(clip.features, "left_shank_segment_deg"),
        s.series(clip.features, "right_shank_segment_deg"),
        "mean",
    )
    # The shank segment points knee -> ankle from the downward vertical, + when the ankle is
    # ahead, so a shin leaning forward has a negative segment angle.
    return np.asarray(-shank, dtype=np.float64)


def _at_turns(clip: Clip, values: s.FloatArray, reps: list[Rep]) -> list[float]:
    found = (value_at(clip.times, values, r.turn_s) for r in reps)
    return [v for v in found if v is not None]


def _per_rep(
    clip: Clip, reps: list[Rep], values: s.FloatArray | None, note: LocalizedText, confident: int
) -> Measured:
    if values is None:
        return Measured(None, note=note)
    if not reps:
        return Measured(None, note=NO_REPS)
    at = _at_turns(clip, values, reps)
    value = _median(at)
    if value is None:
        return Measured(None, note=NO_REPS)
    return Measured(value, samples=len(at), low_confidence=len(at) < confident)


def measure_reps(
    movement: str, clip: Clip, rule: RepRule, limits: Callable[[str], tuple[float, float] | None]
) -> tuple[dict[str, Measured], dict[str, Info], list[Rep]]:
    """Judged measurements, informational values (value, samples) and the reps themselves.

    `limits(key)` gives a judged metric's (low, high) so the evidence can point at the reps
    that fall outside it.
    """
    prefix = PREFIX[movement]
    signal = flexion_signal(clip, rule.signal, rule.combine)
    reps = detect_reps(clip.times, signal, rule)
    full = [r for r in reps if r.full]
    partial = [r for r in reps if not r.full]
    few = len(reps) < rule.min_reps_confident
    measured: dict[str, Measured] = {}
    info: dict[str, Info] = {
        f"{prefix}_reps": (float(len(full)) if reps else None, len(reps) or None, NO_REPS),
    }
    # A bridge rises first: its first phase is the concentric one.
    eccentric_first = rule.first_phase == "eccentric"
    phases = {
        "eccentric": [r.first_s if eccentric_first else r.second_s for r in full],
        "pause": [r.pause_s for r in full],
        "concentric": [r.second_s if eccentric_first else r.first_s for r in full],
    }
    for phase, values in phases.items():
        info[f"{prefix}_tempo_{phase}_s"] = (_median(values), len(full) or None, NO_FULL_REPS)

    depth_key = "bridge_top_hip_angle_deg" if movement == "glute_bridge" else f"{prefix}_depth_deg"
    if reps:
        bridge = movement == "glute_bridge"
        extremes = [180.0 - r.extreme_deg if bridge else r.extreme_deg for r in reps]
        bounds = limits(depth_key)
        outside = [
            r
            for r, e in zip(reps, extremes, strict=True)
            if bounds is None or not bounds[0] <= e <= bounds[1]
        ]
        measured[depth_key] = Measured(
            _median(extremes),
            evidence=spans(outside, clip.frame_s),
            samples=len(reps),
            low_confidence=few,
        )
    else:
        measured[depth_key] = Measured(None, note=NO_REPS)

    partial_key = f"{prefix}_partial_reps"
    if full:
        measured[partial_key] = Measured(
            float(len(partial)), evidence=spans(partial, clip.frame_s), samples=len(reps)
        )
    else:
        measured[partial_key] = Measured(None, note=NO_FULL_REPS if reps else NO_REPS)

    turns = full or reps
    if movement == "squat":
        tibia = _tibia_forward(clip)
        trunk = s.series(clip.features, "trunk_lean_deg")
        diff = None
        if tibia is not None and clip.facing in ("left", "right"):
            n = min(trunk.size, tibia.size)
            diff = np.asarray(trunk[:n] - tibia[:n], dtype=np.float64)
        # The trunk lean's sign means forward only when the facing direction is known.
        why = NEEDS_SEGMENTS if tibia is None else FACING_UNKNOWN
        measured["squat_trunk_tibia_deg"] = _per_rep(
            clip, turns, diff, why, rule.min_reps_confident
        )
        measured["squat_fppa_deg"] = Measured(None, note=NEEDS_FRONT_KNEE)
        info.update(_parallel(clip, reps))
        # The lean that matters is the one at the bottom of each rep (issue 18 item 8: a squat
        # leaning ~40° at the bottom read 6° over the whole clip, mostly standing).
        if clip.facing in ("left", "right") and turns:
            bottoms = _at_turns(clip, trunk, turns)
            info["squat_trunk_lean_bottom_deg"] = (_median(bottoms), len(bottoms) or None, NO_REPS)
        else:
            info["squat_trunk_lean_bottom_deg"] = (None, None, NO_REPS if not turns else why)
    elif movement == "push_up":
        signed = signed_hip_deviation(clip)
        measured["pushup_hip_offset_deg"] = _per_rep(
            clip, turns, signed, NEEDS_SIGNED_HIP, rule.min_reps_confident
        )
        unsigned = 180.0 - s.series(clip.features, "body_line_deg")
        measured["pushup_line_deviation_deg"] = _per_rep(
            clip, turns, unsigned, NO_REPS, rule.min_reps_confident
        )
    elif movement == "lunge":
        trunk = np.abs(s.series(clip.features, "trunk_lean_deg"))
        measured["lunge_trunk_lean_deg"] = _per_rep(
            clip, turns, trunk, NO_REPS, rule.min_reps_confident
        )
        found = lunge.bottoms(clip, turns)
        if not lunge.has_segments(clip):
            shin = Measured(None, note=NEEDS_SEGMENTS)
        elif not turns:
            shin = Measured(None, note=NO_REPS)
        else:
            bounds = limits("lunge_front_shin_deg")
            high = bounds[1] if bounds else None
            shin = lunge.front_shin(clip, found, high, rule.min_reps_confident, NO_REPS)
        measured["lunge_front_shin_deg"] = shin
        rear = [b.rear_knee_deg for b in found if b.rear_knee_deg is not None]
        info["lunge_back_knee_deg"] = (_median(rear), len(rear) or None, NO_REPS)
    elif movement == "single_leg_squat":
        if clip.view == "front":
            fppa = front_fppa(clip, None)
            info["single_leg_squat_fppa_deg"] = (fppa.value, fppa.samples, NEEDS_FRONT_KNEE)
        else:
            info["single_leg_squat_fppa_deg"] = (None, None, NEEDS_FRONT_KNEE)
    return measured, info, reps


def _parallel(clip: Clip, reps: list[Rep]) -> dict[str, Info]:
    """How high the hips stay above the knees at each rep's bottom (cm), and how many reps
    reach parallel: the hip keypoint at or below the knee's (biomechanics.md, squat depth)."""
    if not clip.has("hip_above_knee_norm"):
        return {
            "squat_hip_above_knee_cm": (None, None, NEEDS_HIP_KNEE),
            "squat_parallel_reps": (None, None, NEEDS_HIP_KNEE),
        }
    if not reps:
        return {
            "squat_hip_above_knee_cm": (None, None, NO_REPS),
            "squat_parallel_reps": (None, None, NO_REPS),
        }
    at = _at_turns(clip, s.series(clip.features, "hip_above_knee_norm"), reps)
    scale = clip.features.scale or {}
    height = scale.get("height_cm") if isinstance(scale, dict) else None
    # hip_above_knee_norm is in body sizes (shoulder-hip-knee-ankle, 0.779 of stature).
    body_cm = 0.779 * float(height) if isinstance(height, int | float) else None
    bottom = _median(at)
    cm = bottom * body_cm if bottom is not None and body_cm is not None else None
    parallel = float(sum(1 for v in at if v <= 0.0)) if at else None
    return {
        "squat_hip_above_knee_cm": (cm, len(at) or None, NO_REPS),
        "squat_parallel_reps": (parallel, len(at) or None, NO_REPS),
    }


def front_fppa(clip: Clip, high: float | None) -> Measured:
    """Front view: each knee's FPPA (valgus +) over the deepest frames, the worse knee's median.

    Front-view knee flexion says little about depth, so the deepest frames are those where the
    hips are lowest (hip_height_norm), not rep turning points.
    """
    hips = s.series(clip.features, "hip_height_norm")
    deep = s.percentile(hips, DEEPEST_PERCENTILE)
    if deep is None:
        return Measured(None, note=NO_REPS)
    with np.errstate(invalid="ignore"):
        frames = hips <= deep
    medians: list[float] = []
    worst = np.full(hips.size, np.nan)
    for side in ("left", "right"):
        fppa = s.series(clip.features, f"{side}_fppa_deg")[: hips.size]
        if fppa.size < hips.size:
            continue
        value = s.median(fppa[frames])
        if value is not None:
            medians.append(value)
            worst = np.fmax(worst, fppa)
    if not medians:
        return Measured(None, note=NEEDS_FRONT_KNEE)
    evidence: list[Evidence] = []
    if high is not None:
        with np.errstate(invalid="ignore"):
            flagged = frames & (worst > high)
        evidence = [
            Evidence(start_s=round(a, 3), end_s=round(b, 3))
            for a, b in s.spans(clip.times[: flagged.size], flagged, clip.frame_s, 0.2)
        ]
    return Measured(max(medians), evidence=evidence, samples=int(frames.sum()))
