"""Issue 18 item 2: a metric is only measured from the views it is valid for.

Synthetic renders (video_generation/groundtruth.py) turned away from side-on, with sagittal
faults dialled in, through real MediaPipe, feature extraction and analysis: the view comes
from the footage (the run claims "side"), and no sagittal fault is raised from a front or
oblique view. The same faults seen from the side are found (tests/analysis/test_fault_clips.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from formcoach.analysis.service import analyze
from formcoach.feature_extraction.service import compute_features
from formcoach.pose_estimation.service import estimate
from formcoach.testbed.groundtruth import Faults, Movement, render_clip
from tests.conftest import make_settings

pytestmark = pytest.mark.slow

SAGITTAL_FAULTS = {
    "squat_shallow",
    "squat_partial_reps",
    "squat_trunk_forward",
    "squat_knees_forward",
    "overstriding",
    "knee_straight_landing",
    "vertical_oscillation_excessive",
    "trunk_lean_excessive",
    "trunk_lean_backward",
}
SHALLOW = Faults(squat_depths_deg=(60.0,), squat_period_s=2.0)
RUNNER = Faults(running_curves="recreational", overstride_deg=14.0)


def _report(tmp: Path, movement: Movement, yaw: float, faults: Faults) -> dict[str, Any]:
    settings = make_settings(tmp / "data")
    clip = tmp / f"{movement}_{yaw:.0f}.mp4"
    seconds = 6.0 if movement == "squat" else 4.0
    render_clip(
        clip, movement, seconds=seconds, faults=faults, yaw_deg=yaw, trunk_deg=24.0, cadence_spm=150
    )
    pose = estimate(clip, settings, max_side=settings.pose_max_side)
    features = compute_features(pose, settings).to_json()
    return analyze(features, pose.meta, {"proxy": {"fps": pose.fps}}, movement, "side")


def _codes(report: dict[str, Any]) -> set[str]:
    return {f["code"] for f in report["findings"]}


def test_front_view_squat_gets_no_sagittal_findings(tmp_path: Path) -> None:
    report = _report(tmp_path, "squat", 90.0, SHALLOW)
    assert report["view"] == "front" and report["view_requested"] == "side"
    assert "view_differs" in _codes(report)
    assert not _codes(report) & SAGITTAL_FAULTS, report["findings"]
    depth = report["metrics"]["squat_depth_deg"]
    assert depth["status"] == "not_measurable" and depth["value"] is None
    assert "side view" in depth["note"]["en"] and depth["note"]["ja"]
    # Knee flexion seen from the front is no measurement: withheld, not "indicative".
    for key in ("knee_flexion_peak_left_deg", "hip_flexion_peak_right_deg", "trunk_lean_deg"):
        assert report["metrics"][key]["value"] is None, key
    # What the front does show is measured: the knees' frontal-plane angle.
    assert report["metrics"]["squat_fppa_deg"]["value"] is not None


def test_oblique_squat_gets_no_sagittal_findings(tmp_path: Path) -> None:
    report = _report(tmp_path, "squat", 45.0, SHALLOW)
    assert report["view"] == "oblique"
    assert not _codes(report) & SAGITTAL_FAULTS, report["findings"]
    assert report["metrics"]["squat_depth_deg"]["status"] == "not_measurable"


def test_side_view_checks_never_run_on_a_runner_facing_the_camera(tmp_path: Path) -> None:
    report = _report(tmp_path, "running", 90.0, RUNNER)
    assert report["view"] != "side"
    assert not _codes(report) & SAGITTAL_FAULTS, report["findings"]
    for key in ("overstride_shank_deg", "knee_flexion_at_contact_deg", "vertical_oscillation_cm"):
        assert report["metrics"][key]["status"] == "not_measurable", key


def test_side_view_render_is_side_and_keeps_its_faults(tmp_path: Path) -> None:
    report = _report(tmp_path, "squat", 0.0, SHALLOW)
    assert report["view"] == "side"
    assert "view_differs" not in _codes(report)
    assert "squat_shallow" in _codes(report)
