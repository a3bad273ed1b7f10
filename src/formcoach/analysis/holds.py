"""Static holds: plank and side plank, judged by shoulder-hip-ankle alignment.

Hold time only counts while the body line is within tolerance (biomechanics.md). Sag and pike
are told apart by the signed hip angle when features.json carries it; without it only the
size of the deviation is judged, under its own finding code.
"""

from __future__ import annotations

import numpy as np

from formcoach.analysis import series as s
from formcoach.analysis.exercises import NEEDS_SIGNED_HIP, Info, signed_hip_deviation
from formcoach.analysis.judge import Clip, Measured
from formcoach.analysis.schemas import Evidence, HoldRule, LocalizedText

NO_HOLD = LocalizedText(
    ja="体のライン（肩・腰・足首）を測れた時間が短すぎるため測定できませんでした。",
    en="The body line (shoulder-hip-ankle) was measured for too short a time.",
)
TYPICAL_POSITION_OFF = LocalizedText(
    ja="ふだんの姿勢そのものが許容範囲の外にあるため、保持の安定性は判定していません。",
    en="The usual position itself is outside the tolerance, so steadiness is not judged.",
)


def _evidence(clip: Clip, flagged: s.FloatArray, merge_gap_s: float) -> list[Evidence]:
    mask = np.asarray(flagged, dtype=bool)
    ranges = s.spans(clip.times[: mask.size], mask, clip.frame_s, merge_gap_s)
    return [Evidence(start_s=round(a, 3), end_s=round(b, 3)) for a, b in ranges]


def measure_hold(
    movement: str, clip: Clip, rule: HoldRule, merge_gap_s: float
) -> tuple[dict[str, Measured], dict[str, Info]]:
    prefix = movement
    line = s.series(clip.features, "body_line_deg")
    n = min(line.size, clip.times.size)
    deviation = 180.0 - line[:n]
    measured_frames = np.isfinite(deviation)
    held_s = float(measured_frames.sum()) * clip.frame_s
    measured: dict[str, Measured] = {}
    info: dict[str, Info] = {}
    if held_s < rule.min_hold_s:
        for key in ("line_deviation_deg", "hip_offset_deg", "in_tolerance_pct"):
            measured[f"{prefix}_{key}"] = Measured(None, note=NO_HOLD)
        info[f"{prefix}_hold_s"] = (held_s or None, None, NO_HOLD)
        info[f"{prefix}_hold_in_tolerance_s"] = (None, None, NO_HOLD)
        return measured, info

    with np.errstate(invalid="ignore"):
        inside = measured_frames & (deviation <= rule.tolerance_deg)
        outside = measured_frames & (deviation > rule.tolerance_deg)
    typical = s.median(deviation)
    assert typical is not None  # held_s > 0 means at least one finite frame
    info[f"{prefix}_hold_s"] = (held_s, None, NO_HOLD)
    info[f"{prefix}_hold_in_tolerance_s"] = (float(inside.sum()) * clip.frame_s, None, NO_HOLD)

    signed = signed_hip_deviation(clip) if movement == "plank" else None
    signed_value = s.median(signed) if signed is not None else None
    if movement == "plank":
        if signed is None or signed_value is None:
            measured[f"{prefix}_hip_offset_deg"] = Measured(None, note=NEEDS_SIGNED_HIP)
        else:
            with np.errstate(invalid="ignore"):
                off = np.abs(signed[:n]) > rule.tolerance_deg
                wrong_way = signed[:n] < 0 if signed_value < 0 else signed[:n] > 0
            measured[f"{prefix}_hip_offset_deg"] = Measured(
                signed_value, evidence=_evidence(clip, off & wrong_way, merge_gap_s)
            )
    # With a direction measured, the unsigned size would repeat the same fault: it is then
    # reported without a finding (service.judge_all drops judged keys listed as info-only).
    measured[f"{prefix}_line_deviation_deg"] = Measured(
        typical, evidence=_evidence(clip, outside, merge_gap_s)
    )
    if typical > rule.tolerance_deg:
        measured[f"{prefix}_in_tolerance_pct"] = Measured(
            100.0 * float(inside.sum()) / float(measured_frames.sum()),
            note=TYPICAL_POSITION_OFF,
        )
    else:
        measured[f"{prefix}_in_tolerance_pct"] = Measured(
            100.0 * float(inside.sum()) / float(measured_frames.sum()),
            evidence=_evidence(clip, outside, merge_gap_s),
        )
    return measured, info


def info_only(movement: str, measured: dict[str, Measured], tolerance_deg: float) -> set[str]:
    """Judged keys whose finding would repeat another finding of the same fault."""
    keys: set[str] = set()
    offset = measured.get(f"{movement}_hip_offset_deg")
    if offset is not None and offset.value is not None:
        keys.add(f"{movement}_line_deviation_deg")
    line = measured.get(f"{movement}_line_deviation_deg")
    if line is not None and line.value is not None and line.value > tolerance_deg:
        keys.add(f"{movement}_in_tolerance_pct")
    return keys
