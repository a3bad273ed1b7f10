"""analysis: the lunge's front leg and front shin, and the bridge's rep thresholds, on
synthetic features (the rendered clips are in test_lunge_bridge_clips.py)."""

from __future__ import annotations

from typing import Any

import pytest

from formcoach.analysis.reference import load_reference
from tests.analysis.test_analysis_exercises import cycle, faults, features, run

# A split squat's bottom (features' person frame: + forward): the front thigh nearly level,
# its shin near vertical; the rear thigh vertical and its shin flat behind (knee near the
# floor), which is the more tilted shin of the two.
FRONT_THIGH, REAR_THIGH, REAR_SHANK = 80.0, -5.0, -95.0


def split_squat(front: str = "left", front_shin: float = 5.0, reps: int = 3) -> dict[str, Any]:
    depth = cycle([1.0] * reps, 0.0)  # 0 standing .. 1 at the bottom
    n = len(depth)
    rear = "right" if front == "left" else "left"

    def at(top: float, bottom: float) -> list[float | None]:
        return [top + (bottom - top) * d for d in depth]

    series: dict[str, list[float | None]] = {
        f"{front}_knee_flexion_deg": at(25.0, FRONT_THIGH + front_shin),
        f"{rear}_knee_flexion_deg": at(22.0, REAR_THIGH - REAR_SHANK),
        f"{front}_hip_flexion_deg": at(22.0, 82.0),
        f"{rear}_hip_flexion_deg": at(-25.0, -3.0),
        f"{front}_thigh_segment_deg": at(22.0, FRONT_THIGH),
        f"{front}_shank_segment_deg": at(-4.0, -front_shin),
        f"{rear}_thigh_segment_deg": at(-27.0, REAR_THIGH),
        f"{rear}_shank_segment_deg": at(-47.0, REAR_SHANK),
        "hip_height_norm": at(0.58, 0.35),
        "trunk_lean_deg": [4.0] * n,
    }
    return features(n, **series)


@pytest.mark.parametrize("front", ["left", "right"])
def test_the_flat_rear_shin_is_not_taken_for_the_front_one(front: str) -> None:
    result = run(split_squat(front), "lunge")
    shin = result["metrics"]["lunge_front_shin_deg"]
    assert result["metrics"]["lunge_reps"]["value"] == 3
    assert shin["value"] == pytest.approx(5.0, abs=0.5) and shin["status"] == "ok"
    assert shin["samples"] == 3
    assert faults(result) == []
    # The rear knee is the other leg's: 90° at the bottom.
    assert result["metrics"]["lunge_back_knee_deg"]["value"] == pytest.approx(90.0, abs=0.5)


@pytest.mark.parametrize("front", ["left", "right"])
def test_a_front_knee_far_past_the_toes_is_found_per_rep(front: str) -> None:
    result = run(split_squat(front, front_shin=32.0), "lunge")
    shin = result["metrics"]["lunge_front_shin_deg"]
    assert shin["value"] == pytest.approx(32.0, abs=0.5) and shin["status"] == "high"
    assert faults(result) == ["lunge_front_shin"]
    finding = next(f for f in result["findings"] if f["code"] == "lunge_front_shin")
    assert len(finding["evidence"]) == 3  # one span per rep


def test_a_glitch_at_the_turning_point_does_not_pick_the_bottom() -> None:
    doc = split_squat()
    series = doc["series"]
    knee = series["left_knee_flexion_deg"]
    peak = max(range(len(knee)), key=lambda i: knee[i])
    # One frame of swapped limbs: the flexion peak (the rep's turning point) and the shins.
    series["left_knee_flexion_deg"][peak] = 140.0
    series["left_shank_segment_deg"][peak] = -70.0
    series["right_shank_segment_deg"][peak] = -60.0
    shin = run(doc, "lunge")["metrics"]["lunge_front_shin_deg"]
    assert shin["value"] == pytest.approx(5.0, abs=0.5)


def test_no_facing_no_front_shin() -> None:
    doc = split_squat(front_shin=32.0)
    doc["facing"] = "unknown"
    result = run(doc, "lunge")
    shin = result["metrics"]["lunge_front_shin_deg"]
    assert shin["status"] == "not_measurable" and "faces" in shin["note"]["en"]
    assert "lunge_front_shin" not in faults(result)


def test_bridge_reps_end_short_of_the_floor() -> None:
    rule = load_reference().movements["glute_bridge"].reps
    assert rule is not None and rule.start_deg == 35 and rule.target_deg == 15
    # Hips resting at 48° (the figure's floor, measured) and lifted to 5°: every rep counts.
    hip = cycle([5.0] * 3, 48.0)
    n = len(hip)
    doc = features(
        n,
        left_hip_flexion_deg=list(hip),
        right_hip_flexion_deg=list(hip),
        left_knee_flexion_deg=[100.0] * n,
        right_knee_flexion_deg=[100.0] * n,
    )
    result = run(doc, "glute_bridge")
    assert result["metrics"]["bridge_reps"]["value"] == 3
    assert result["metrics"]["bridge_partial_reps"]["value"] == 0
