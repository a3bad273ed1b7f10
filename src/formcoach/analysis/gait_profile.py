"""Running and walking measures from features.json's gait events (feature_extraction/stride.py).

Side view: overstriding (shank angle and heel-ahead distance at initial contact), knee flexion
at contact and its peak in stance, hip extension at toe-off, vertical oscillation and ratio,
elbow angle, step-time symmetry, contact time and duty factor (only at the frame rate set in
reference.yaml). Rear or front view: pelvic drop and crossover / step width. Each per-contact
value is averaged over both feet; `samples` says over how many contacts, and fewer than
`gait.confident_steps` make it low-confidence. Nothing is measured unless feature extraction
found a real periodic, alternating gait.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from formcoach.analysis import series as s
from formcoach.analysis.judge import Clip, Measured, info_metric
from formcoach.analysis.schemas import Evidence, LocalizedText, Metric, Reference
from formcoach.analysis.straight import step_symmetry

SIDES = ("left", "right")
FRONTAL_VIEWS = ("rear", "front")
# Judged metric key -> the per-contact value of feature_extraction/stride.py it medians.
PER_CONTACT: dict[str, str] = {
    "overstride_shank_deg": "shank_at_contact_deg",
    "overstride_heel_ahead_pct": "heel_ahead_leg_pct",
    "knee_flexion_at_contact_deg": "knee_at_contact_deg",
    "knee_flexion_peak_stance_deg": "knee_peak_stance_deg",
    "contact_time_ms": "contact_time_s",
    "duty_factor_pct": "duty_factor",
}
# Shown in ms and % so that the one-decimal rounding of metric values keeps the precision.
FACTOR: dict[str, float] = {"contact_time_ms": 1000.0, "duty_factor_pct": 100.0}
NEEDS_FPS = frozenset({"contact_time_ms", "duty_factor_pct"})
SIDE_KEYS = frozenset(
    {*PER_CONTACT, "vertical_oscillation_cm", "vertical_ratio_pct", "elbow_angle_deg"}
    | {"step_time_asymmetry_pct"}
)
FRONTAL_KEYS = frozenset({"pelvic_drop_deg", "crossover_pct"})
KEYS = SIDE_KEYS | FRONTAL_KEYS

NOT_PERIODIC = LocalizedText(
    ja="左右の足が一定のリズムで交互に動く区間（走行・歩行）が見つからなかったため測定できません。",
    en="No stretch of steady, alternating steps (running or walking) was found, so this "
    "could not be measured.",
)
NEEDS_SIDE = LocalizedText(
    ja="この値は真横から撮影した動画でのみ測定できます。",
    en="This can only be measured from a side view.",
)
NEEDS_FRONTAL = LocalizedText(
    ja="この値は後ろ（または正面）から撮影した動画でのみ測定できます。",
    en="This can only be measured from a rear (or front) view.",
)
NO_EVENTS = LocalizedText(
    ja="接地や離地の瞬間を十分に検出できなかったため測定できませんでした。",
    en="Too few foot contacts or toe-offs were detected to measure this.",
)
STATIONARY = LocalizedText(
    ja="その場（トレッドミルなど）で走っていて体が画面を横切らないため、歩幅と上下動比は測定できません。",
    en="The runner stays in place (treadmill or on the spot), so step length and the "
    "vertical ratio cannot be measured from the video.",
)
LABELS: dict[str, tuple[str, str]] = {
    "step_time_ms": ("1歩の時間（中央値）", "step time (median)"),
    "heel_ahead_cm": ("接地時のかかとの位置（腰より前）", "heel ahead of the hips at contact"),
    "hip_extension_toe_off_deg": ("離地時の股関節伸展", "hip extension at toe-off"),
    "step_length_m": ("歩幅", "step length"),
    "knee_contact_asymmetry_deg": (
        "接地時の膝の角度の左右差（右−左）",
        "knee angle at contact, right minus left",
    ),
    "step_width_cm": ("歩隔（左右の足の横幅）", "step width"),
}


def _fps_note(fps: float, needed: float) -> LocalizedText:
    frame_ms = 1000.0 / fps if fps > 0 else math.inf
    return LocalizedText(
        ja=f"{fps:.0f} fps では1コマが約 {frame_ms:.0f} ms で、接地時間（約 0.2〜0.3 秒）の "
        f"1〜2 割にあたるため測定しません。{needed:.0f} fps 以上で撮影してください。",
        en=f"At {fps:.0f} fps one frame lasts ≈{frame_ms:.0f} ms, a large share of a "
        f"≈0.2–0.3 s contact, so this is not measured; film at {needed:.0f} fps or more.",
    )


def periodic(clip: Clip) -> bool:
    return clip.features.gait.periodic is not False


def _per_contact(clip: Clip, field: str) -> list[tuple[float, float]]:
    """(contact time, value) over both feet, skipping contacts without a value."""
    gait = clip.features.gait
    per_side = gait.side_view.get("per_side", {})
    contacts = gait.initial_contacts_s
    out: list[tuple[float, float]] = []
    for side in SIDES:
        values = per_side.get(side, {}).get("at_contacts", {}).get(field, [])
        for t, v in zip(contacts.get(side, []), values, strict=False):
            if isinstance(v, int | float) and math.isfinite(v):
                out.append((float(t), float(v)))
    return sorted(out)


def _confident(samples: int, ref: Reference, fewest_on_one_side: int | None = None) -> bool:
    """Enough steps in all, and (when known) about half of them on each foot: Dingenen 2018
    averages at least 7 steps a side."""
    if fewest_on_one_side is not None and 2 * fewest_on_one_side < ref.gait.confident_steps:
        return False
    return samples >= ref.gait.confident_steps


def few_steps(samples: int, ref: Reference) -> LocalizedText:
    needed = ref.gait.confident_steps
    return LocalizedText(
        ja=f"{samples} 歩分のデータしかないため（目安は左右あわせて {needed} 歩以上）、信頼度は低めです。",
        en=f"Based on only {samples} step{'' if samples == 1 else 's'} ({needed} or more, "
        "about half on each foot, are needed): low confidence.",
    )


def _averaged(
    value: float, samples: int, ref: Reference, fewest: int | None = None, **extra: Any
) -> Measured:
    """A value averaged over steps, low-confidence (and saying so) when they are too few."""
    few = not _confident(samples, ref, fewest)
    return Measured(
        value,
        samples=samples,
        low_confidence=few,
        confidence_note=few_steps(samples, ref) if few else None,
        **extra,
    )


def _contact_measure(
    clip: Clip, key: str, ref: Reference, limits: tuple[float, float] | None
) -> Measured:
    factor = FACTOR.get(key, 1.0)
    pairs = [(t, factor * v) for t, v in _per_contact(clip, PER_CONTACT[key])]
    if not pairs:
        return Measured(None, note=NO_EVENTS)
    value = float(np.median([v for _, v in pairs]))
    evidence: list[Evidence] = []
    if limits is not None:
        # A contact's evidence lasts one frame past it, enough to step to it in the player.
        evidence = [
            Evidence(start_s=round(t, 3), end_s=round(t + clip.frame_s, 3))
            for t, v in pairs
            if not limits[0] <= v <= limits[1]
        ]
    per_side = [len(_per_contact_side(clip, side, PER_CONTACT[key])) for side in SIDES]
    return _averaged(value, len(pairs), ref, min(per_side), evidence=evidence)


def _step_asymmetry(clip: Clip, ref: Reference) -> Measured:
    """Symmetry index 100·(R−L)/(½(R+L)) of the median step times ending on each foot, from
    the straight stretches only (analysis/straight.py: a turn is no asymmetry)."""
    gait = clip.features.gait
    per_side = gait.side_view.get("per_side", {})
    result = step_symmetry(
        gait.initial_contacts_s,
        {
            side: per_side.get(side, {}).get("at_contacts", {}).get("step_time_s", [])
            for side in SIDES
        },
        ref.gait.turn_break_factor,
        ref.gait.turn_edge_steps,
    )
    if result is None:
        return Measured(None, note=NO_EVENTS)
    whole = clip.span()
    return _averaged(
        result.index_pct, result.steps, ref, evidence=[whole] if whole is not None else []
    )


def _elbow(clip: Clip) -> Measured:
    """Median inner elbow angle (180 − flexion) over the clip, both arms."""
    values = np.concatenate(
        [180.0 - s.series(clip.features, f"{side}_elbow_flexion_deg") for side in SIDES]
    )
    value = s.median(values)
    return Measured(value, note=None if value is not None else NO_EVENTS)


def _frontal(clip: Clip, key: str, ref: Reference) -> Measured:
    frontal = clip.features.gait.frontal_view
    stances = [frontal.get(side, {}) for side in SIDES]
    count = sum(int(st.get("stances") or 0) for st in stances)
    if key == "pelvic_drop_deg":
        values = [st.get("pelvic_drop_deg") for st in stances]
    else:
        values = [
            100.0 * st["crossover_share"] if st.get("crossover_share") is not None else None
            for st in stances
        ]
    finite = [float(v) for v in values if isinstance(v, int | float)]
    if not finite:
        return Measured(None, note=NO_EVENTS)
    # The worse side: a drop or crossover on one side is the fault, not the average.
    return _averaged(max(finite), count, ref)


def measure(
    key: str, clip: Clip, ref: Reference, limits: tuple[float, float] | None = None
) -> Measured:
    """One gait metric of KEYS, or None with the reason it could not be measured."""
    frontal = key in FRONTAL_KEYS
    if frontal and clip.view not in FRONTAL_VIEWS:
        return Measured(None, note=NEEDS_FRONTAL)
    if not frontal and clip.view != "side":
        return Measured(None, note=NEEDS_SIDE)
    if frontal:
        return _frontal(clip, key, ref)
    if key == "elbow_angle_deg":
        return _elbow(clip)
    if not periodic(clip):
        return Measured(None, note=NOT_PERIODIC)
    fps = 1.0 / clip.frame_s if clip.frame_s > 0 else 0.0
    if key in NEEDS_FPS and fps + 0.5 < ref.gait.min_fps_contact_time:
        return Measured(None, note=_fps_note(fps, ref.gait.min_fps_contact_time))
    if key in PER_CONTACT:
        return _contact_measure(clip, key, ref, limits)
    if key == "step_time_asymmetry_pct":
        return _step_asymmetry(clip, ref)
    side_view = clip.features.gait.side_view
    if key == "vertical_oscillation_cm":
        value = side_view.get("vertical_oscillation_cm")
        n = int(side_view.get("vertical_oscillation_n") or 0)
        if not isinstance(value, int | float):
            return Measured(None, note=NO_EVENTS)
        return _averaged(float(value), n, ref)
    # vertical_ratio_pct
    if not side_view.get("travelling"):
        return Measured(None, note=STATIONARY)
    value = side_view.get("vertical_ratio_pct")
    if not isinstance(value, int | float):
        return Measured(None, note=NO_EVENTS)
    return Measured(float(value))


def _label(key: str) -> LocalizedText:
    ja, en = LABELS[key]
    return LocalizedText(ja=ja, en=en)


def summaries(clip: Clip, movement: str) -> dict[str, Metric]:
    """Informational gait values (no reference range) for running and walking."""
    out: dict[str, Metric] = {}
    if clip.view in FRONTAL_VIEWS:
        frontal = clip.features.gait.frontal_view
        width = frontal.get("step_width_cm")
        out["step_width_cm"] = info_metric(
            _label("step_width_cm"),
            float(width) if isinstance(width, int | float) else None,
            "cm",
            NO_EVENTS if width is None else None,
        )
        return out
    if clip.view != "side":
        return out
    ok = periodic(clip)
    side_view = clip.features.gait.side_view
    why = NO_EVENTS if ok else NOT_PERIODIC
    step = side_view.get("step_time_s") if ok else None
    # In ms: metric values keep one decimal.
    out["step_time_ms"] = info_metric(
        _label("step_time_ms"),
        1000.0 * float(step) if isinstance(step, int | float) else None,
        "ms",
        None if isinstance(step, int | float) else why,
        int(side_view.get("steps") or 0) or None,
    )
    if movement != "running":
        return out
    for key, field, unit in (
        ("heel_ahead_cm", "heel_ahead_cm", "cm"),
        ("hip_extension_toe_off_deg", "hip_extension_toe_off_deg", "deg"),
    ):
        pairs = _per_contact(clip, field) if ok else []
        value = float(np.median([v for _, v in pairs])) if pairs else None
        out[key] = info_metric(
            _label(key), value, unit, None if value is not None else why, len(pairs) or None
        )
    length = side_view.get("step_length_m") if ok else None
    out["step_length_m"] = info_metric(
        _label("step_length_m"),
        float(length) if isinstance(length, int | float) else None,
        "m",
        None if isinstance(length, int | float) else (STATIONARY if ok else why),
    )
    knees = {side: [v for t, v in _per_contact_side(clip, side)] for side in SIDES} if ok else {}
    diff = (
        float(np.median(knees["right"]) - np.median(knees["left"]))
        if knees and knees["left"] and knees["right"]
        else None
    )
    out["knee_contact_asymmetry_deg"] = info_metric(
        _label("knee_contact_asymmetry_deg"), diff, "deg", None if diff is not None else why
    )
    return out


def _per_contact_side(
    clip: Clip, side: str, field: str = "knee_at_contact_deg"
) -> list[tuple[float, float]]:
    gait = clip.features.gait
    values = (gait.side_view.get("per_side", {}).get(side, {}).get("at_contacts", {})).get(
        field, []
    )
    contacts = gait.initial_contacts_s.get(side, [])
    return [
        (float(t), float(v))
        for t, v in zip(contacts, values, strict=False)
        if isinstance(v, int | float) and math.isfinite(v)
    ]
