"""Matching phases of two runs for the compare page's skeleton overlay.

Two skeletons mean something over each other only at the same moment of the movement: the
initial contact of a foot for gait (features.json `gait.initial_contacts_s`), the turning point
of each rep for rep exercises (the bottom of a squat, lunge or push-up, the top of a bridge),
found by the movement profile's own rep rule on features.json's flexion series so the overlay
shows the same reps the analysis measured. Holds and "other" have no repeating phase.

Skeletons are taken from keypoints.json (image pixels) and normalised so that two clips filmed
at different distances overlay: origin at the mid-hip, unit = the median shoulder-hip-knee-ankle
length of the clip, and mirrored to face right (a runner filmed going left is compared with one
going right).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from formcoach.analysis import series as s
from formcoach.analysis.reps import combine, detect_reps
from formcoach.analysis.schemas import Reference
from formcoach.feature_extraction.schemas import FeaturesDocument

GAIT_MOVEMENTS = ("walking", "running")
# The skeleton's bones, by MediaPipe landmark name (the overlay draws these).
BONES: tuple[tuple[str, str], ...] = (
    ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"),
    *(
        (f"{side}_{a}", f"{side}_{b}")
        for side in ("left", "right")
        for a, b in (
            ("shoulder", "elbow"),
            ("elbow", "wrist"),
            ("shoulder", "hip"),
            ("hip", "knee"),
            ("knee", "ankle"),
            ("ankle", "heel"),
            ("heel", "foot_index"),
        )
    ),
)
POINTS = tuple(dict.fromkeys(p for bone in BONES for p in bone))


def phase_kind(movement: str, ref: Reference) -> str | None:
    """The phase the overlay matches for a movement: initial_contact, rep_bottom, rep_top."""
    if movement in GAIT_MOVEMENTS:
        return "initial_contact"
    profile = ref.movements.get(movement)
    if profile is None or profile.reps is None:
        return None
    # A bridge rises first: its turning point is the top.
    return "rep_top" if profile.reps.first_phase == "concentric" else "rep_bottom"


def phase_events(
    movement: str, features: FeaturesDocument | Mapping[str, Any], ref: Reference
) -> list[dict[str, Any]]:
    """The phase instances of one run in time order: [{"time_s", "side"}] (side: the foot of a
    contact, None for a rep)."""
    if not isinstance(features, FeaturesDocument):
        features = FeaturesDocument.model_validate(features)
    kind = phase_kind(movement, ref)
    if kind == "initial_contact":
        contacts = features.gait.initial_contacts_s
        events = [
            {"time_s": float(t), "side": side} for side, ts in contacts.items() for t in ts or []
        ]
        return sorted(events, key=lambda e: e["time_s"])
    if kind is None:
        return []
    profile = ref.movements[movement]
    assert profile.reps is not None  # phase_kind said so
    rule = profile.reps
    times = s.times(features)
    left = s.series(features, f"left_{rule.signal}_flexion_deg")
    right = s.series(features, f"right_{rule.signal}_flexion_deg")
    if not times.size or left.size != times.size:
        return []
    reps = detect_reps(times, combine(left, right, rule.combine), rule)
    return [{"time_s": float(r.turn_s), "side": None} for r in reps]


def match_events(
    before: Sequence[dict[str, Any]], after: Sequence[dict[str, Any]]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pairs of matching instances: the n-th contact of the same foot, or the n-th rep."""
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for side in dict.fromkeys(e["side"] for e in before):
        b = [e for e in before if e["side"] == side]
        a = [e for e in after if e["side"] == side]
        pairs += list(zip(b, a, strict=False))
    return sorted(pairs, key=lambda p: p[0]["time_s"])


def _point(frame: Mapping[str, Any], name: str) -> tuple[float, float] | None:
    p = (frame.get("keypoints") or {}).get(name) or {}
    x, y = p.get("x_px"), p.get("y_px")
    if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
        return None
    return float(x), float(y)


def _mid(frame: Mapping[str, Any], joint: str) -> tuple[float, float] | None:
    left, right = _point(frame, f"left_{joint}"), _point(frame, f"right_{joint}")
    if left is None or right is None:
        return left or right
    return (left[0] + right[0]) / 2, (left[1] + right[1]) / 2


def body_length_px(frames: Sequence[Mapping[str, Any]]) -> float | None:
    """Median shoulder-hip-knee-ankle length over the clip (either side): the body as ruler,
    as feature_extraction/scale.py uses it, barely changing with posture."""
    lengths: list[float] = []
    for frame in frames:
        for side in ("left", "right"):
            chain = [_point(frame, f"{side}_{j}") for j in ("shoulder", "hip", "knee", "ankle")]
            if all(chain):
                pts = [c for c in chain if c is not None]
                lengths.append(sum(math.dist(p, q) for p, q in pairwise(pts)))
    return float(np.median(lengths)) if lengths else None


def skeleton_at(
    frames: Sequence[Mapping[str, Any]], time_s: float, body_px: float, facing: str
) -> dict[str, list[float] | None] | None:
    """The normalised skeleton of the frame nearest `time_s` (None when the subject is not
    seen there): {landmark: [x, y] or None}, x towards the facing direction, y down."""
    if not frames:
        return None
    frame = min(frames, key=lambda f: abs(float(f.get("time_s", 0.0)) - time_s))
    origin = _mid(frame, "hip")
    if not frame.get("subject") or origin is None or body_px <= 0:
        return None
    flip = -1.0 if facing == "left" else 1.0
    out: dict[str, list[float] | None] = {}
    for name in POINTS:
        p = _point(frame, name)
        out[name] = (
            None
            if p is None
            else [
                round(flip * (p[0] - origin[0]) / body_px, 4),
                round((p[1] - origin[1]) / body_px, 4),
            ]
        )
    return out


def overlay_data(
    movement_before: str,
    movement_after: str,
    features: tuple[Mapping[str, Any], Mapping[str, Any]],
    keypoints: tuple[Mapping[str, Any], Mapping[str, Any]],
    ref: Reference,
) -> dict[str, Any]:
    """What the page's overlay canvas draws: the phase kind (None: no matching phase, with the
    reason) and per matching instance both runs' times and normalised skeletons."""
    kind = phase_kind(movement_after, ref)
    if movement_before != movement_after:
        return {"kind": None, "reason": "different_movements", "pairs": [], "bones": BONES}
    if kind is None:
        return {"kind": None, "reason": "no_phase", "pairs": [], "bones": BONES}
    events = [phase_events(movement_after, f, ref) for f in features]
    frames = [list(k.get("frames") or []) for k in keypoints]
    sizes = [body_length_px(f) for f in frames]
    facings = [str(f.get("facing") or "unknown") for f in features]
    pairs = []
    for b, a in match_events(events[0], events[1]):
        skeletons = [
            skeleton_at(fr, e["time_s"], size, facing) if size else None
            for fr, e, size, facing in zip(frames, (b, a), sizes, facings, strict=True)
        ]
        if skeletons[0] is not None and skeletons[1] is not None:
            pairs.append(
                {
                    "side": b["side"],
                    "times_s": [round(b["time_s"], 4), round(a["time_s"], 4)],
                    "skeletons": skeletons,
                }
            )
    reason = None if pairs else "no_instances"
    return {"kind": kind, "reason": reason, "pairs": pairs, "bones": BONES}
