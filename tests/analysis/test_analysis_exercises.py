"""analysis: exercise profiles, rep counting and auto recognition on synthetic features."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from formcoach.analysis import jobs
from formcoach.analysis.reference import load_reference
from formcoach.analysis.reps import detect_reps
from formcoach.analysis.schemas import FINDING_CODES, Analysis
from formcoach.analysis.series import as_array
from formcoach.analysis.service import analyze
from formcoach.kit.errors import AppError
from formcoach.kit.pipeline import (
    ANALYSIS,
    FEATURES,
    POSE_META,
    VIDEO_INFO,
    RunOptions,
    StageContext,
)
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage

FPS = 30.0
VIDEO_INFO_DOC: dict[str, Any] = {"proxy": {"fps": FPS}}
POSE_DOC: dict[str, Any] = {"fps": FPS}


def cycle(
    depths: list[float], rest: float, down_s: float = 1.0, pause_s: float = 0.3
) -> list[float]:
    """A flexion curve: rest, then for each depth a smooth descent, pause and ascent."""
    out: list[float] = [rest] * int(0.5 * FPS)
    for depth in depths:
        steps = int(down_s * FPS)
        out += [
            rest + (depth - rest) * (1 - math.cos(math.pi * i / steps)) / 2 for i in range(steps)
        ]
        out += [depth] * int(pause_s * FPS)
        out += [
            depth + (rest - depth) * (1 - math.cos(math.pi * i / steps)) / 2 for i in range(steps)
        ]
        out += [rest] * int(0.5 * FPS)
    return out


def features(n: int, **series: list[float | None]) -> dict[str, Any]:
    base: dict[str, list[float | None]] = {
        "left_knee_flexion_deg": [5.0] * n,
        "right_knee_flexion_deg": [5.0] * n,
        "left_hip_flexion_deg": [5.0] * n,
        "right_hip_flexion_deg": [5.0] * n,
        "left_elbow_flexion_deg": [10.0] * n,
        "right_elbow_flexion_deg": [10.0] * n,
        "trunk_lean_deg": [3.0] * n,
        "body_line_deg": [175.0] * n,
        "hip_height_norm": [0.6] * n,
    }
    base.update(series)
    return {
        "schema": "formcoach.features/1",
        "fps": FPS,
        "times": [i / FPS for i in range(n)],
        "facing": "right",
        "series": base,
        "summary": {"cadence_spm": None, "step_count": 0, "stats": {}},
    }


def squat(depths: list[float], lean_extra: float = 0.0, shank: bool = True) -> dict[str, Any]:
    knee = cycle(depths, 8.0)
    n = len(knee)
    tibia = [0.4 * (k - 8.0) for k in knee]  # shin leans forward as the knee bends
    extra: dict[str, list[float | None]] = {
        "left_knee_flexion_deg": list(knee),
        "right_knee_flexion_deg": [k - 2 for k in knee],
        "left_hip_flexion_deg": [0.9 * k for k in knee],
        "right_hip_flexion_deg": [0.9 * k for k in knee],
        "trunk_lean_deg": [
            t + lean_extra * (k - 8.0) / 100 for t, k in zip(tibia, knee, strict=True)
        ],
        "hip_height_norm": [0.6 - 0.004 * (k - 8.0) for k in knee],
    }
    if shank:
        extra["left_shank_segment_deg"] = [-t for t in tibia]
        extra["right_shank_segment_deg"] = [-t for t in tibia]
    return features(n, **extra)


def run(doc: dict[str, Any], movement: str, view: str = "side") -> dict[str, Any]:
    result = analyze(doc, POSE_DOC, VIDEO_INFO_DOC, movement, view)
    Analysis.model_validate(result)
    for item in result["findings"]:
        assert item["code"] in FINDING_CODES
        assert item["message"]["ja"] and item["message"]["en"]
        if item["metric"] is not None:
            assert result["metrics"][item["metric"]]["status"] not in ("ok", "not_measurable")
    return result


def faults(result: dict[str, Any]) -> list[str]:
    return sorted(f["code"] for f in result["findings"] if f["severity"] != "info")


def test_rep_state_machine_counts_full_and_partial_reps() -> None:
    rule = load_reference().movements["squat"].reps
    assert rule is not None
    knee = cycle([110, 110, 60, 110, 110], 8.0)
    t = as_array([i / FPS for i in range(len(knee))])
    reps = detect_reps(t, as_array(list(knee)), rule)
    assert [r.full for r in reps] == [True, True, False, True, True]
    assert reps[0].extreme_deg == pytest.approx(110)
    # The last 5° before the turn count as the pause (pause_band_deg).
    assert reps[0].eccentric_s == pytest.approx(1.0, abs=0.15)
    assert reps[0].concentric_s == pytest.approx(1.0, abs=0.15)
    assert reps[0].pause_s == pytest.approx(0.3, abs=0.3)
    # Jitter around one threshold never makes a rep, nor does a dip under 30° of swing.
    jitter = [18.0, 22.0] * 30 + [8.0] * 10 + [30.0] * 30 + [8.0] * 10
    assert (
        detect_reps(as_array([i / FPS for i in range(len(jitter))]), as_array(jitter), rule) == []
    )


def test_squat_reps_with_one_partial() -> None:
    result = run(squat([110, 112, 60, 108, 111]), "squat")
    metrics = result["metrics"]
    assert metrics["squat_reps"]["value"] == 4 and metrics["squat_reps"]["samples"] == 5
    assert metrics["squat_partial_reps"]["value"] == 1
    assert metrics["squat_depth_deg"]["status"] == "ok"
    assert metrics["squat_depth_deg"]["samples"] == 5
    assert faults(result) == ["squat_partial_reps"]
    partial = next(f for f in result["findings"] if f["code"] == "squat_partial_reps")
    assert partial["severity"] == "minor" and len(partial["evidence"]) == 1
    start = partial["evidence"][0]["start_s"]
    assert 2 * 2.8 < start < 3 * 2.8  # the third rep (each rep lasts ≈2.8 s)
    assert metrics["squat_tempo_eccentric_s"]["value"] == pytest.approx(1.0, abs=0.15)
    assert metrics["squat_tempo_eccentric_s"]["samples"] == 4
    assert metrics["squat_trunk_tibia_deg"]["status"] == "ok"
    assert set(result["scores"]) == {"depth", "control", "alignment"}
    assert result["scores"]["depth"]["value"] == 100
    assert result["scores"]["control"]["value"] == 75


def test_shallow_squat_is_one_depth_finding() -> None:
    result = run(squat([55, 58, 60, 57]), "squat")
    assert faults(result) == ["squat_shallow"]
    shallow = next(f for f in result["findings"] if f["code"] == "squat_shallow")
    assert shallow["metric"] == "squat_depth_deg" and shallow["severity"] == "major"
    assert len(shallow["evidence"]) == 4
    assert "Hartmann" in shallow["message"]["en"] and "80" in shallow["message"]["ja"]
    assert result["metrics"]["squat_partial_reps"]["status"] == "not_measurable"
    assert result["metrics"]["squat_depth_deg"]["value"] == pytest.approx(57.5, abs=0.5)


def test_clean_squat_has_no_faults_and_trunk_lean_is_flagged() -> None:
    assert faults(run(squat([110, 112, 108]), "squat")) == []
    leaning = run(squat([110, 112, 108], lean_extra=30.0), "squat")
    assert faults(leaning) == ["squat_trunk_forward"]


def test_missing_segment_angles_are_not_measurable_with_a_note() -> None:
    result = run(squat([110, 112, 108], shank=False), "squat")
    metric = result["metrics"]["squat_trunk_tibia_deg"]
    assert metric["status"] == "not_measurable" and metric["note"]["en"]
    assert faults(result) == []


def test_few_reps_are_low_confidence() -> None:
    metric = run(squat([110]), "squat")["metrics"]["squat_depth_deg"]
    assert metric["confidence"] == "low" and "only 1 repetition:" in metric["note"]["en"]


def plank(body: list[float], hip_sign: float | None) -> dict[str, Any]:
    n = len(body)
    extra: dict[str, list[float | None]] = {
        "body_line_deg": list(body),
        "trunk_lean_deg": [80.0] * n,
        "hip_height_norm": [0.25] * n,
    }
    if hip_sign is not None:
        extra["left_hip_angle_deg"] = [hip_sign * (180 - b) for b in body]
        extra["right_hip_angle_deg"] = [hip_sign * (180 - b) for b in body]
    return features(n, **extra)


def test_sagging_plank() -> None:
    body = [176.0] * 60 + [160.0] * 240
    result = run(plank(body, hip_sign=-1.0), "plank")
    assert faults(result) == ["plank_sag"]
    metrics = result["metrics"]
    assert metrics["plank_hip_offset_deg"]["value"] == -20
    assert metrics["plank_hold_s"]["value"] == 10.0
    assert metrics["plank_hold_in_tolerance_s"]["value"] == 2.0
    sag = next(f for f in result["findings"] if f["code"] == "plank_sag")
    assert sag["evidence"] == [{"start_s": 2.0, "end_s": 10.0}]
    assert "-20°" in sag["message"]["en"] and "at least -10°" in sag["message"]["en"]
    # One fault is scored once: the unsigned deviation and the time in tolerance repeat it.
    assert result["scores"]["alignment"] == {
        "label": {"ja": "姿勢・アライメント", "en": "alignment"},
        "value": 50.0,
        "metrics": ["plank_hip_offset_deg"],
    }
    assert result["scores"]["control"]["value"] is None


def test_piked_plank_and_a_plank_without_direction() -> None:
    assert faults(run(plank([165.0] * 150, hip_sign=1.0), "plank")) == ["plank_pike"]
    unsigned = run(plank([165.0] * 150, hip_sign=None), "plank")
    assert faults(unsigned) == ["plank_out_of_line"]
    assert unsigned["metrics"]["plank_hip_offset_deg"]["status"] == "not_measurable"


def test_clean_plank_and_an_unsteady_one() -> None:
    assert faults(run(plank([176.0] * 150, hip_sign=-1.0), "plank")) == []
    wobbly = run(plank([176.0] * 100 + [160.0] * 50, hip_sign=-1.0), "plank")
    assert faults(wobbly) == ["plank_unsteady"]
    assert wobbly["metrics"]["plank_in_tolerance_pct"]["value"] == pytest.approx(66.7, abs=0.1)


def test_side_plank_needs_a_front_view() -> None:
    doc = plank([160.0] * 150, hip_sign=None)
    assert faults(run(doc, "side_plank", view="front")) == ["side_plank_out_of_line"]
    side = run(doc, "side_plank", view="side")
    assert side["metrics"]["side_plank_line_deviation_deg"]["status"] == "not_measurable"
    assert faults(side) == []


def test_push_up_partial_and_sag() -> None:
    elbow = cycle([95, 95, 50, 95], 10.0)
    n = len(elbow)
    doc = features(
        n,
        left_elbow_flexion_deg=list(elbow),
        right_elbow_flexion_deg=list(elbow),
        trunk_lean_deg=[75.0] * n,
        body_line_deg=[158.0] * n,
        left_hip_angle_deg=[-22.0] * n,
        right_hip_angle_deg=[-22.0] * n,
    )
    result = run(doc, "push_up")
    assert result["metrics"]["pushup_reps"]["value"] == 3
    assert faults(result) == ["pushup_partial_reps", "pushup_sag"]


def test_glute_bridge_incomplete() -> None:
    hip = cycle([30, 30, 30], 80.0)  # hip flexion 80 -> 30: top only 150° shoulder-hip-knee
    full = cycle([5, 5, 5], 80.0)
    for doc_hip, expected in ((hip, ["bridge_incomplete"]), (full, [])):
        n = len(doc_hip)
        doc = features(
            n,
            left_hip_flexion_deg=list(doc_hip),
            right_hip_flexion_deg=list(doc_hip),
            left_knee_flexion_deg=[90.0] * n,
            right_knee_flexion_deg=[90.0] * n,
        )
        result = run(doc, "glute_bridge")
        assert faults(result) == expected
    assert result["metrics"]["bridge_top_hip_angle_deg"]["value"] == 175


def test_no_reps_says_so_without_faults() -> None:
    result = run(features(120), "squat")
    assert faults(result) == []
    assert "reps_not_found" in [f["code"] for f in result["findings"]]
    assert result["metrics"]["squat_depth_deg"]["status"] == "not_measurable"
    assert result["scores"]["depth"]["value"] is None


def lunge_doc() -> dict[str, Any]:
    front = cycle([95, 95, 95], 15.0)
    n = len(front)
    return features(
        n,
        left_knee_flexion_deg=list(front),
        right_knee_flexion_deg=[f * 0.9 for f in front],
        left_hip_flexion_deg=[f * 0.9 for f in front],
        right_hip_flexion_deg=[5.0] * n,
        hip_height_norm=[0.6 - 0.004 * f for f in front],
        trunk_lean_deg=[25.0] * n,
    )


def test_lunge_trunk_lean() -> None:
    result = run(lunge_doc(), "lunge")
    assert result["metrics"]["lunge_reps"]["value"] == 3
    assert faults(result) == ["lunge_trunk_lean"]
    assert result["metrics"]["lunge_front_shin_deg"]["status"] == "not_measurable"


def test_auto_recognises_exercises_and_refuses_to_guess() -> None:
    assert run(squat([110, 112, 108, 110]), "auto")["movement"] == "squat"
    assert run(lunge_doc(), "auto")["movement"] == "lunge"
    elbow = cycle([95, 95, 95], 10.0)
    n = len(elbow)
    push = features(
        n,
        left_elbow_flexion_deg=list(elbow),
        right_elbow_flexion_deg=list(elbow),
        trunk_lean_deg=[75.0] * n,
        body_line_deg=[175.0] * n,
    )
    assert run(push, "auto")["movement"] == "push_up"
    # Hips 33° apart at the bottom: too close to the squat/lunge boundary (35°) to decide.
    between = lunge_doc()
    between["series"]["right_hip_flexion_deg"] = [
        max(5.0, h - 33.0) for h in between["series"]["left_hip_flexion_deg"]
    ]
    with pytest.raises(AppError) as caught:
        analyze(between, POSE_DOC, VIDEO_INFO_DOC, "auto", "side")
    assert caught.value.code == "movement_uncertain" and caught.value.status == 422
    assert "lunge" in caught.value.message("en") and "種目" in caught.value.message("ja")


def test_the_stage_fails_with_movement_uncertain(tmp_path: Path) -> None:
    between = lunge_doc()
    between["series"]["right_hip_flexion_deg"] = [
        max(5.0, h - 33.0) for h in between["series"]["left_hip_flexion_deg"]
    ]
    storage = LocalStorage(tmp_path / "files")
    settings = Settings(data_dir=tmp_path)
    ctx = StageContext(
        run_id=1, options=RunOptions(movement="auto"), storage=storage, settings=settings
    )
    ctx.write_json(FEATURES, between)
    ctx.write_json(POSE_META, POSE_DOC)
    ctx.write_json(VIDEO_INFO, VIDEO_INFO_DOC)
    with pytest.raises(AppError) as caught:
        jobs.run(ctx)
    assert caught.value.code == "movement_uncertain"
    assert not storage.exists(ctx.key(ANALYSIS))
    ctx = StageContext(
        run_id=1, options=RunOptions(movement="lunge"), storage=storage, settings=settings
    )
    jobs.run(ctx)
    assert ctx.read_json(ANALYSIS)["movement"] == "lunge"


def test_auto_recognises_a_side_plank_and_a_single_leg_squat() -> None:
    # The same straight, near-horizontal body: a plank from the side, a side plank from the
    # front (the run's view).
    body = plank([176.0] * 150, hip_sign=-1.0)
    assert run(body, "auto")["movement"] == "plank"
    front = run(body, "auto", view="front")
    assert front["movement"] == "side_plank"
    assert front["findings"][0]["code"] == "movement_auto_detected"
    # Knee to 55° three times with the free foot held 0.2 body sizes up.
    knee = cycle([55, 55, 55], 8.0)
    n = len(knee)
    single = features(
        n,
        left_knee_flexion_deg=list(knee),
        right_knee_flexion_deg=[30.0] * n,
        left_hip_flexion_deg=[0.9 * k for k in knee],
        right_hip_flexion_deg=[40.0] * n,
        hip_height_norm=[0.6 - 0.003 * (k - 8.0) for k in knee],
        foot_lift_norm=[0.2] * n,
    )
    result = run(single, "auto")
    assert result["movement"] == "single_leg_squat"
    assert result["metrics"]["single_leg_squat_reps"]["value"] == 3
    # A squat keeps both feet down: the same doc with the feet level is no single-leg squat.
    level = squat([110, 112, 108, 110])
    level["series"]["foot_lift_norm"] = [0.01] * len(level["times"])
    assert run(level, "auto")["movement"] == "squat"


def test_front_view_squat_judges_knee_valgus_only() -> None:
    # From the front the knees cave in by 22° at the bottom of each rep (hips lowest).
    doc = squat([110, 112, 108, 110])
    knee = doc["series"]["left_knee_flexion_deg"]
    doc["series"]["left_fppa_deg"] = [22.0 * k / 110.0 for k in knee]
    doc["series"]["right_fppa_deg"] = [5.0] * len(knee)
    front = run(doc, "squat", view="front")
    assert faults(front) == ["squat_valgus"]
    metric = front["metrics"]["squat_fppa_deg"]
    assert metric["value"] == pytest.approx(21.6, abs=0.5) and metric["status"] == "high"
    valgus = next(f for f in front["findings"] if f["code"] == "squat_valgus")
    # Evidence: the deepest frames (lowest 10 % of hip height) where the knee caves in.
    assert len(valgus["evidence"]) >= 3
    # Depth cannot be told from the front; the FPPA cannot be told from the side.
    assert front["metrics"]["squat_depth_deg"]["status"] == "not_measurable"
    side = run(doc, "squat")
    assert side["metrics"]["squat_fppa_deg"]["status"] == "not_measurable"
    assert "front view" in side["metrics"]["squat_fppa_deg"]["note"]["en"]
    assert "squat_valgus" not in faults(side)
    doc["series"]["left_fppa_deg"] = [5.0] * len(knee)
    assert faults(run(doc, "squat", view="front")) == []


def test_squat_parallel_reps_from_hip_and_knee_heights() -> None:
    doc = squat([110, 112, 108, 110])
    knee = doc["series"]["left_knee_flexion_deg"]
    # Hips 0.1 body sizes above the knees standing, level with them at 109° of knee flexion.
    doc["series"]["hip_above_knee_norm"] = [0.1 - 0.1 * k / 109.0 for k in knee]
    doc["scale"] = {"height_cm": 170.0}
    metrics = run(doc, "squat")["metrics"]
    assert metrics["squat_parallel_reps"]["value"] == 3  # the 108° rep stays just above
    # Median bottom: -0.0009 body sizes of 0.779 x 170 cm.
    assert metrics["squat_hip_above_knee_cm"]["value"] == pytest.approx(-0.1, abs=0.15)
