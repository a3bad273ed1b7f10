"""Issue 18 item 9: the Pose2Sim lab clip against its external ground truth.

`pose2sim-single-person-cam01.mp4` is front-right oblique (~41° from side-on, README in
../shared/fixtures/groundtruth/). Through real MediaPipe, feature extraction and analysis,
every angle the report shows must lie within 12° of the reference peak (the two reference
IK solutions differ by 5-7° between themselves), or be withheld with a reason. Before issue
18 the report said "side", showed a 33° trunk lean (true 8°) and raised a major
trunk_lean_excessive finding with --movement running.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from formcoach.analysis.service import analyze
from formcoach.feature_extraction.service import compute_features
from formcoach.pose_estimation.service import estimate
from tests.conftest import SINGLE_PERSON, make_settings

GROUNDTRUTH = SINGLE_PERSON.parent.parent / "groundtruth"
TOLERANCE_DEG = 12.0


def _mot(path: Path) -> dict[str, np.ndarray]:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "endheader") + 1
    names = lines[start].split()
    rows = np.array([[float(v) for v in line.split()] for line in lines[start + 1 :] if line])
    return {name: rows[:, i] for i, name in enumerate(names)}


def _reference_peaks() -> dict[str, float]:
    ik = _mot(GROUNDTRUTH / "balancing-trial-ik.mot")
    peaks = {}
    for side, s in (("left", "l"), ("right", "r")):
        peaks[f"knee_flexion_peak_{side}_deg"] = float(ik[f"knee_angle_{s}"].max())
        peaks[f"hip_flexion_peak_{side}_deg"] = float(ik[f"hip_flexion_{s}"].max())
    return peaks


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    settings = make_settings(tmp_path_factory.mktemp("p2s"))
    pose = estimate(SINGLE_PERSON, settings, max_side=settings.pose_max_side)
    features = compute_features(pose, settings).to_json()
    info = {"proxy": {"fps": pose.fps}}
    return {
        movement: analyze(features, pose.meta, info, movement, "side")
        for movement in ("running", "squat", "walking")
    }


def test_reference_peaks_are_the_documented_ones() -> None:
    peaks = _reference_peaks()
    # README: IK knee peaks 56° left and right.
    assert peaks["knee_flexion_peak_left_deg"] == pytest.approx(56, abs=1.5)
    assert peaks["knee_flexion_peak_right_deg"] == pytest.approx(56, abs=1.5)


@pytest.mark.parametrize("movement", ["running", "squat", "walking"])
def test_every_angle_shown_is_within_12_deg_or_withheld(
    reports: dict[str, dict[str, Any]], movement: str
) -> None:
    report = reports[movement]
    peaks = _reference_peaks()
    assert report["view"] == "oblique" and report["view_requested"] == "side"
    assert any(f["code"] == "view_differs" for f in report["findings"])
    for key, metric in report["metrics"].items():
        if metric["unit"] != "deg":
            continue
        if metric["value"] is None:
            assert metric["status"] == "not_measurable", key
            note = metric["note"]
            assert note and note["ja"] and note["en"], key
            continue
        assert key in peaks, f"{key} = {metric['value']}° shown with no reference to support it"
        assert abs(metric["value"] - peaks[key]) <= TOLERANCE_DEG, (key, metric, peaks[key])


def test_oblique_running_raises_no_trunk_lean_fault(reports: dict[str, dict[str, Any]]) -> None:
    running = reports["running"]
    codes = {f["code"] for f in running["findings"]}
    assert "trunk_lean_excessive" not in codes and "trunk_lean_backward" not in codes
    lean = running["metrics"]["trunk_lean_deg"]
    assert lean["value"] is None and lean["status"] == "not_measurable"
    assert "side view" in lean["note"]["en"] and "oblique" in lean["note"]["en"]
    # Nothing judged could be measured: the report must not read as an all-clear.
    assert all(score["value"] is None for score in running["scores"].values())


def test_nothing_measurable_is_not_assessed_never_an_all_clear(
    reports: dict[str, dict[str, Any]],
) -> None:
    from formcoach.advice_generation.service import advise

    for movement in ("running", "squat"):
        report = reports[movement]
        finding = next(f for f in report["findings"] if f["code"] == "not_assessed")
        assert finding["severity"] == "info"
        # The real causes: an oblique view and 1.7 s of footage, each with a filming tip.
        assert finding["reasons"][:2] == ["view_unsuitable", "clip_too_short"], finding
        assert "side-on" in finding["message"]["en"] and "5-10 seconds" in finding["message"]["en"]
        assert "真横" in finding["message"]["ja"]
        assert all(score["value"] is None for score in report["scores"].values())
        advice = advise(report)
        text = " ".join(a["text"]["en"] for a in advice["advice"])
        assert "nothing that needs fixing" not in text and "found nothing" not in text
