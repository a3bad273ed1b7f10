"""Lunge / split squat: which leg is in front, and that leg's shin at the bottom of each rep.

The stance does not change within a rep, so the front leg is chosen once per rep, at its
bottom, as the leg whose ankle is further ahead of the hips in the direction the person faces.
A per-frame "more tilted shin" would pick the rear shin, which lies almost flat at the bottom
of a split squat (knee near the floor, ankle behind it).

Everything here reads segment angles, which feature extraction expresses in the person's own
frame per facing segment (feature_extraction/ANGLES.md: x forward, y up; thigh + when the knee
is ahead of the hip, shank + when the ankle is ahead of the knee). Ankle ahead of the hip is
then thigh·sin(thigh angle) + leg·sin(shank angle), with Winter's segment lengths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from formcoach.analysis import series as s
from formcoach.analysis.judge import Clip, Measured
from formcoach.analysis.messages import FACING_UNKNOWN
from formcoach.analysis.reps import Rep
from formcoach.analysis.schemas import Evidence, LocalizedText

# Winter (2009) anthropometric table, share of stature: thigh 0.245, leg (knee-ankle) 0.246.
THIGH_LENGTH, SHANK_LENGTH = 0.245, 0.246
SIDES = ("left", "right")
Frames = NDArray[np.intp]
# The bottom of a rep: hips within this many body sizes (hip_height_norm, ≈2.7 cm at 175 cm)
# of their lowest; on the rendered split squat ≈0.8 s, its 0.3 s hold and the slow ends of the
# descent and the rise.
BOTTOM_BAND = 0.02
MIN_BOTTOM_FRAMES = 3


@dataclass(frozen=True)
class Bottom:
    """One rep's bottom: the front side, its shin's forward tilt and the rear knee's flexion."""

    rep: Rep
    front: str
    front_shin_deg: float | None
    rear_knee_deg: float | None


def has_segments(clip: Clip) -> bool:
    return all(
        clip.has(f"{side}_{segment}_segment_deg")
        for side in SIDES
        for segment in ("thigh", "shank")
    )


def _bottom_frames(clip: Clip, rep: Rep, hips: s.FloatArray) -> Frames:
    """Indices of the rep's frames with the hips near their lowest.

    The rep's turning point is the peak of the flexion signal, which one bad frame of 2D pose
    can move; the hips' height is steadier and the median over these frames outvotes a glitch.
    Without hip heights, the frames held at the turning point (the rep's pause).
    """
    t = clip.times
    with np.errstate(invalid="ignore"):
        inside = np.flatnonzero((t >= rep.start_s - 1e-6) & (t <= rep.end_s + 1e-6))
        inside = inside[inside < hips.size]
        height = hips[inside]
        if np.isfinite(height).sum() >= MIN_BOTTOM_FRAMES:
            low = float(np.nanpercentile(height, 5.0))
            idx = inside[height <= low + BOTTOM_BAND]
            if idx.size >= MIN_BOTTOM_FRAMES:
                return idx
        start = rep.start_s + rep.first_s
        idx = np.flatnonzero((t >= start - 1e-6) & (t <= start + rep.pause_s + 1e-6))
    if idx.size == 0:
        idx = np.array([int(np.nanargmin(np.abs(t - rep.turn_s)))])
    return idx


def _at(values: s.FloatArray, idx: Frames) -> float | None:
    inside = idx[idx < values.size]
    return s.median(values[inside]) if inside.size else None


def bottoms(clip: Clip, reps: list[Rep]) -> list[Bottom]:
    """Front leg and its measures at each rep's bottom; reps without the angles are skipped."""
    thigh = {side: s.series(clip.features, f"{side}_thigh_segment_deg") for side in SIDES}
    shank = {side: s.series(clip.features, f"{side}_shank_segment_deg") for side in SIDES}
    knee = {side: s.series(clip.features, f"{side}_knee_flexion_deg") for side in SIDES}
    hips = s.series(clip.features, "hip_height_norm")
    out: list[Bottom] = []
    for rep in reps:
        idx = _bottom_frames(clip, rep, hips)
        ahead: dict[str, float] = {}
        for side in SIDES:
            a, b = _at(thigh[side], idx), _at(shank[side], idx)
            if a is not None and b is not None:
                ahead[side] = THIGH_LENGTH * math.sin(math.radians(a)) + SHANK_LENGTH * math.sin(
                    math.radians(b)
                )
        if len(ahead) < 2:
            continue
        front = max(ahead, key=lambda side: ahead[side])
        rear = "right" if front == "left" else "left"
        shin = _at(shank[front], idx)
        # A shin leaning forward (knee ahead of the ankle) has a negative shank angle.
        out.append(Bottom(rep, front, None if shin is None else -shin, _at(knee[rear], idx)))
    return out


def front_shin(
    clip: Clip,
    found: list[Bottom],
    high: float | None,
    confident: int,
    missing: LocalizedText,
) -> Measured:
    """Median forward tilt of the front shin at the reps' bottoms, evidence at reps above high."""
    if clip.facing not in ("left", "right"):
        # Without the facing direction "ahead" and "forward tilt" have no sign.
        return Measured(None, note=FACING_UNKNOWN)
    values = [b.front_shin_deg for b in found if b.front_shin_deg is not None]
    if not values:
        return Measured(None, note=missing)
    flagged = [b.rep for b in found if high is not None and (b.front_shin_deg or -math.inf) > high]
    frame = clip.frame_s
    evidence = [
        Evidence(start_s=round(r.start_s, 3), end_s=round(r.end_s + frame, 3)) for r in flagged
    ]
    return Measured(
        float(np.median(values)),
        evidence=evidence,
        samples=len(values),
        low_confidence=len(values) < confident,
    )
