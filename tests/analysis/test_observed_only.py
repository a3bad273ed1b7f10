"""Issue 18 items 3-5: only what was seen is measured, plausible values only, uncertainty."""

from __future__ import annotations

from typing import Any

import numpy as np

from formcoach.analysis.judge import Measured, judge
from formcoach.analysis.reference import load_reference, measurement_for
from formcoach.feature_extraction.service import compute_features
from formcoach.kit.settings import Settings
from formcoach.pose_estimation.schemas import LANDMARK_INDEX
from tests.analysis.test_analysis import codes, make_features, run
from tests.feature_extraction.test_features import make_pose, standing


def _knee_features(knee: list[float | None], observed: list[list[int]] | None) -> dict[str, Any]:
    features = make_features(n=len(knee), left_knee_flexion_deg=knee)
    if observed is not None:
        features["observed"] = {"left_knee_flexion_deg": observed}
    return features


def test_legs_guessed_outside_the_frame_are_not_measured(settings: Settings) -> None:
    points = standing()
    pose = make_pose(points, 90)
    # Frames 30-59: MediaPipe "sees" the legs below the 1000 px frame with high visibility,
    # as it does when the legs are out of the picture.
    for name in ("left_knee", "right_knee", "left_ankle", "right_ankle"):
        j = LANDMARK_INDEX[name]
        pose.keypoints[30:60, j, 1] += 400.0
        pose.keypoints[30:60, j, 3] = 0.9
    result = compute_features(pose, settings)
    knee = result.series["left_knee_flexion_deg"]
    assert np.isnan(knee[30:60]).all()
    assert np.isfinite(knee[:30]).all() and np.isfinite(knee[60:]).all()
    doc = result.to_json()
    # Legs seen in 60 of 90 frames; the trunk in all of them.
    assert doc["body_parts_seen_rate"]["legs"] == round(60 / 90, 4)
    assert doc["body_parts_seen_rate"]["trunk"] == 1.0


def test_detection_rate_counts_the_parts_the_movement_needs() -> None:
    features = make_features()
    features["body_parts_seen_rate"] = {"trunk": 1.0, "legs": 0.25, "arms": 0.1}
    assert run(features)["detection_rate_needed"] == 0.25
    assert run(features, movement="push_up")["detection_rate_needed"] == 0.1


def test_peaks_come_from_observed_frames_only() -> None:
    knee: list[float | None] = [20.0 + 40.0 * abs(np.sin(i / 6)) for i in range(120)]
    knee[50:54] = [150.0] * 4  # a filled gap that overshoots
    features = _knee_features(knee, [[0, 50], [54, 120]])
    metric = run(features)["metrics"]["knee_flexion_peak_left_deg"]
    assert metric["status"] == "ok" and metric["value"] < 61.0
    # Without the observed mask (the old behaviour) the invented 150° was the peak.
    old = run(_knee_features(knee, None))["metrics"]["knee_flexion_peak_left_deg"]
    assert old["value"] == 150.0


def test_too_few_observed_frames_are_not_measurable() -> None:
    knee: list[float | None] = [None] * 120
    knee[10:13] = [40.0, 45.0, 42.0]
    metric = run(_knee_features(knee, [[10, 13]]))["metrics"]["knee_flexion_peak_left_deg"]
    assert metric["status"] == "not_measurable" and metric["value"] is None
    assert "Only 3 frames" in metric["note"]["en"] and "3" in metric["note"]["ja"]


def test_implausible_peak_is_withheld() -> None:
    knee: list[float | None] = [20.0] * 60 + [179.9] * 60  # the 12-s out-of-frame report
    metric = run(_knee_features(knee, [[0, 120]]))["metrics"]["knee_flexion_peak_left_deg"]
    assert metric["status"] == "not_measurable" and metric["value"] is None
    assert "likely a tracking error" in metric["note"]["en"]
    assert metric["note"]["ja"]


def test_implausible_judged_value_is_never_shown() -> None:
    result = run(make_features(cadence=420.0))
    cadence = result["metrics"]["cadence_spm"]
    assert cadence["status"] == "not_measurable" and cadence["value"] is None
    assert "Implausible" in cadence["note"]["en"]
    assert "cadence_high" not in codes(result)


def test_plank_pike_within_measurement_error_is_borderline_not_a_fault() -> None:
    spec = load_reference().movements["plank"].judged["plank_hip_offset_deg"]
    bounds = measurement_for("plank_hip_offset_deg")
    assert bounds is not None and bounds.uncertainty == 2
    metric, finding = judge("plank_hip_offset_deg", spec, Measured(value=10.4))
    assert metric.status == "borderline" and finding is None
    assert metric.uncertainty == 2 and metric.note is not None
    assert "within measurement error" in metric.note.en.lower()
    metric, finding = judge("plank_hip_offset_deg", spec, Measured(value=13.0))
    assert metric.status == "high" and finding is not None


def test_trunk_lean_just_past_the_limit_raises_nothing() -> None:
    borderline = run(make_features(trunk=16.5))
    lean = borderline["metrics"]["trunk_lean_deg"]
    assert lean["status"] == "borderline" and lean["uncertainty"] == 3
    assert "trunk_lean_excessive" not in codes(borderline)
    assert borderline["scores"]["load"]["value"] == 100.0
    clear = run(make_features(trunk=19.0))
    assert clear["metrics"]["trunk_lean_deg"]["status"] == "high"
    assert "trunk_lean_excessive" in codes(clear)


def test_every_judged_metric_has_a_plausible_range_and_uncertainty() -> None:
    for movement, profile in load_reference().movements.items():
        for key, spec in profile.judged.items():
            if spec.unit == "reps" or key.endswith("_in_tolerance_pct"):
                continue  # counts and shares of the clip: no tracking error makes them absurd
            bounds = measurement_for(key)
            assert bounds is not None, (movement, key)
            low, high = bounds.plausible
            assert low < high and bounds.uncertainty > 0 and bounds.source, key
