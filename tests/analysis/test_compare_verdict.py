"""The compare page's judgements as plain functions: verdicts against the measurement error and
the reference range, the same-person check, and the matching phases of the overlay."""

from __future__ import annotations

import math
from typing import Any

import pytest

from formcoach.analysis.compare import (
    compare_analyses,
    load_sdd,
    noise_threshold,
    subject_match,
    verdict,
)
from formcoach.analysis.phases import match_events, overlay_data, phase_events, phase_kind
from formcoach.analysis.reference import load_reference

RANGE = {"low": 10.0, "high": 20.0}


def test_a_change_within_the_uncertainty_is_no_change() -> None:
    # 2.9 < 3: inside the error, whichever way it goes and whatever the range says.
    assert verdict(30.0, 27.1, 3.0, RANGE) == "no_change"
    assert verdict(30.0, 32.9, 3.0, RANGE) == "no_change"
    assert verdict(30.0, 32.9, 3.0, None) == "no_change"
    # Equal values are no change even with no error figure at all.
    assert verdict(30.0, 30.0, None, None) == "no_change"


def test_beyond_the_uncertainty_towards_the_range_is_better_away_is_worse() -> None:
    # Above the range: down towards it is better, up away from it worse.
    assert verdict(30.0, 24.0, 3.0, RANGE) == "better"
    assert verdict(30.0, 36.0, 3.0, RANGE) == "worse"
    # Below the range: up towards it better; from inside to outside is worse.
    assert verdict(2.0, 9.0, 3.0, RANGE) == "better"
    assert verdict(15.0, 5.0, 3.0, RANGE) == "worse"
    # Overshooting to the other side but nearer: better (distance 10 -> 2).
    assert verdict(30.0, 8.0, 3.0, RANGE) == "better"


def test_without_a_reference_or_inside_it_only_the_direction_is_said() -> None:
    assert verdict(30.0, 40.0, 3.0, None) == "higher"
    assert verdict(30.0, 20.0, 3.0, None) == "lower"
    # Both inside the range: the range cannot say which is better.
    assert verdict(11.0, 19.0, 3.0, RANGE) == "higher"
    # A one-sided range counts only its side.
    assert verdict(30.0, 40.0, 3.0, {"low": 10.0, "high": None}) == "higher"


def test_a_missing_value_has_no_verdict() -> None:
    assert verdict(None, 3.0, 1.0, RANGE) is None and verdict(3.0, None, 1.0, None) is None


def test_the_noise_is_the_larger_of_the_sdd_and_the_uncertainty() -> None:
    assert noise_threshold(4.8, 3.0, 6.0) == 6.0
    assert noise_threshold(4.8, None, None) == 4.8
    assert noise_threshold(None, None, None) is None


def _analysis(value: float, uncertainty: float | None, unit: str = "deg") -> dict[str, Any]:
    metric = {
        "value": value,
        "unit": unit,
        "label": {"ja": "膝", "en": "knee"},
        "reference": {"low": 160.0, "high": 175.0, "source": "test"},
        "uncertainty": uncertainty,
    }
    return {"movement": "running", "metrics": {"knee_deg": metric}}


def test_compare_analyses_uses_the_metrics_uncertainty_over_a_smaller_sdd() -> None:
    sdd = load_sdd()  # degrees: 4.8
    # A change of 6 deg: beyond the SDD, within the metric's own uncertainty of 7 -> no change.
    row = compare_analyses(_analysis(150, 7.0), _analysis(156, 7.0), "en", sdd)[0]
    assert row["noise"] == 7.0 and row["verdict"] == "no_change"
    row = compare_analyses(_analysis(150, 2.0), _analysis(156, 2.0), "en", sdd)[0]
    assert row["noise"] == 4.8 and row["verdict"] == "better"
    row = compare_analyses(_analysis(150, 2.0), _analysis(140, 2.0), "en", sdd)[0]
    assert row["verdict"] == "worse" and row["reference"]["low"] == 160.0


def test_same_person_by_label_and_entered_height() -> None:
    entered = {"height_cm": 170.0, "height_source": "user"}
    default = {"height_cm": 170.0, "height_source": "default"}
    same = subject_match("Anna Sato", "ａｎｎａ sato", entered, {**entered, "height_cm": 172.0})
    assert same["by_label"] == "same" and same["by_height"] == "same" and not same["different"]
    other = subject_match("Anna", "Ken", entered, entered)
    assert other["by_label"] == "different" and other["different"]
    taller = subject_match("Anna", "Anna", entered, {**entered, "height_cm": 185.0})
    assert taller["by_height"] == "different" and taller["different"]
    # A default stature says nothing about the person; a missing label neither.
    unknown = subject_match(None, "Anna", default, entered)
    assert unknown["by_label"] == "unknown" and unknown["by_height"] == "unknown"
    assert not unknown["different"] and unknown["height_before_cm"] is None


def _knee_features(bottoms: list[float], fps: float = 30.0) -> dict[str, Any]:
    """Squat-like knee flexion: 5° standing, 100° at each bottom, 1.6 s per rep."""
    times = [i / fps for i in range(int(fps * (max(bottoms) + 2)))]
    knee = [
        5.0
        + 95.0
        * max([0.0, *(math.cos((t - b) / 0.8 * math.pi / 2) for b in bottoms if abs(t - b) < 0.8)])
        for t in times
    ]
    return {
        "times": times,
        "fps": fps,
        "facing": "right",
        "series": {"left_knee_flexion_deg": knee, "right_knee_flexion_deg": knee},
    }


def test_the_phase_is_the_contact_for_gait_and_the_turn_for_reps() -> None:
    ref = load_reference()
    assert phase_kind("running", ref) == "initial_contact"
    assert phase_kind("squat", ref) == "rep_bottom"
    assert phase_kind("glute_bridge", ref) == "rep_top"
    assert phase_kind("plank", ref) is None and phase_kind("other", ref) is None
    turns = [e["time_s"] for e in phase_events("squat", _knee_features([1.5, 4.0]), ref)]
    assert [round(t, 1) for t in turns] == [1.5, 4.0]


def test_contacts_pair_by_foot_in_order() -> None:
    before = [
        {"time_s": 0.2, "side": "left"},
        {"time_s": 0.5, "side": "right"},
        {"time_s": 0.9, "side": "left"},
    ]
    after = [{"time_s": 0.3, "side": "right"}, {"time_s": 0.4, "side": "left"}]
    pairs = match_events(before, after)
    assert [(b["time_s"], a["time_s"]) for b, a in pairs] == [(0.2, 0.4), (0.5, 0.3)]


def _frames(times: list[float], shift: float, facing_left: bool) -> list[dict[str, Any]]:
    sign = -1.0 if facing_left else 1.0
    pose = {
        "shoulder": (0.0, -50.0),
        "hip": (0.0, 0.0),
        "knee": (10 * sign, 40.0),
        "ankle": (0.0, 80.0),
    }
    points = {
        f"{side}_{j}": {"x_px": shift + x, "y_px": 200 + y}
        for side in ("left", "right")
        for j, (x, y) in pose.items()
    }
    return [{"time_s": t, "subject": True, "keypoints": points} for t in times]


@pytest.mark.parametrize("movement", ["squat", "walking", "plank"])
def test_overlay_normalises_and_mirrors_or_says_why_not(movement: str) -> None:
    ref = load_reference()
    feats = _knee_features([1.5, 4.0])
    feats["gait"] = {"initial_contacts_s": {"left": [1.5, 4.0]}}
    left = {**feats, "facing": "left"}
    kps = (
        {"frames": _frames(feats["times"], 100, False)},
        {"frames": _frames(feats["times"], 300, True)},
    )
    data = overlay_data(movement, movement, (feats, left), kps, ref)
    if movement == "plank":
        assert data["pairs"] == [] and data["reason"] == "no_phase"
        return
    assert data["reason"] is None and len(data["pairs"]) == 2
    before, after = data["pairs"][0]["skeletons"]
    body = 50 + 2 * math.hypot(10, 40)  # shoulder-hip + hip-knee + knee-ankle, px
    # Same body filmed 200 px apart, facing opposite ways: the same normalised skeleton.
    assert (
        before["left_knee"]
        == after["left_knee"]
        == [pytest.approx(10 / body, abs=1e-3), pytest.approx(40 / body, abs=1e-3)]
    )
    assert before["left_wrist"] is None
    assert (
        overlay_data("squat", "running", (feats, feats), kps, ref)["reason"]
        == "different_movements"
    )
