"""Issue 19: recognising the movement from what the body does.

Walking vs running from the flight share, gait needing travel, arms overhead in rhythm
(jumping jacks) as a movement formcoach does not offer, symmetry from straight stretches,
and the user's choice checked against the clip. The clips are features.json structures built
step by step (contacts and toe-offs as feature extraction writes them), run through the real
analysis and advice code.
"""

from __future__ import annotations

from typing import Any

from formcoach.advice_generation.service import advise
from formcoach.analysis.classify import classify
from formcoach.analysis.gait_kind import stance_flight_share
from formcoach.analysis.service import analyze, get_reference, parse_features
from formcoach.analysis.straight import step_symmetry
from formcoach.feature_extraction.schemas import GaitEvents
from tests.analysis.test_analysis import make_features

STEP_S = 0.35  # 171 spm


def gait(stance_share: float, steps: int = 12, travelling: bool = True) -> dict[str, Any]:
    """Alternating contacts every STEP_S; each foot stays down stance_share of a stride."""
    stride = 2 * STEP_S
    contacts = {"left": [], "right": []}  # type: dict[str, list[float]]
    toe_offs = {"left": [], "right": []}  # type: dict[str, list[float]]
    for i in range(steps):
        side = "left" if i % 2 == 0 else "right"
        t = 0.2 + i * STEP_S
        contacts[side].append(round(t, 4))
        toe_offs[side].append(round(t + stance_share * stride, 4))
    return {
        "initial_contacts_s": contacts,
        "toe_offs_s": toe_offs,
        "periodic": True,
        "side_view": {"travelling": travelling, "per_side": {}},
    }


def gait_features(stance_share: float, cadence: float, **series: Any) -> dict[str, Any]:
    features = make_features(n=150, cadence=cadence, steps=12, **series)
    features["gait"] = gait(stance_share)
    return features


def test_flight_share_tells_a_slow_run_from_a_fast_walk() -> None:
    # Running: stance 35 % of a stride -> flight 30 % of each step; walking: stance 60 %.
    assert abs((stance_flight_share(GaitEvents.model_validate(gait(0.35))) or 0) - 0.30) < 0.01
    assert stance_flight_share(GaitEvents.model_validate(gait(0.60))) == 0.0
    ref = get_reference()
    # A front-view run under 140 spm used to be walking: its flight phases decide now.
    slow_run = classify(parse_features(gait_features(0.35, cadence=130.0)), ref)
    assert slow_run.movement == "running"
    assert "30 %" in slow_run.reason.en
    fast_walk = classify(parse_features(gait_features(0.60, cadence=150.0)), ref)
    assert fast_walk.movement == "walking"


def test_arms_overhead_in_rhythm_is_not_offered() -> None:
    # Jumping jacks: feet in rhythm, the arms going from hanging to overhead.
    arms = [10 + 170 * abs((i % 20) - 10) / 10 for i in range(150)]
    features = gait_features(
        0.35, cadence=160.0, left_upper_arm_segment_deg=arms, right_upper_arm_segment_deg=arms
    )
    result = analyze(features, {"fps": 30.0}, {}, "auto", "side")
    assert result["movement"] == "other"
    message = next(f for f in result["findings"] if f["code"] == "movement_auto_detected")
    assert "does not analyse" in message["message"]["en"]
    assert not [f for f in result["findings"] if f["severity"] != "info"]


def test_a_runner_who_stays_in_place_with_a_swaying_trunk_is_no_gait() -> None:
    sway = [25.0 * ((i % 10) - 5) / 5 for i in range(150)]
    features = gait_features(0.35, cadence=170.0, trunk=sway)
    features["gait"]["side_view"]["travelling"] = False
    assert classify(parse_features(features), get_reference()).movement != "running"
    # On a treadmill (steady trunk), it is running.
    steady = gait_features(0.35, cadence=170.0)
    steady["gait"]["side_view"]["travelling"] = False
    assert classify(parse_features(steady), get_reference()).movement == "running"


def test_a_turn_is_no_asymmetry_but_a_steady_limp_is() -> None:
    # Straight stretch one way (right steps longer), a turn, then the other way (left longer):
    # the sign flips with the direction, so it comes from the camera, not the body.
    contacts = {
        "left": [0.0, 1.0, 2.0, 4.5, 5.52, 6.52],
        "right": [0.52, 1.52, 2.52, 5.0, 6.0, 7.0],
    }
    steps = {
        "left": [None, 0.48, 0.48, 1.98, 0.52, 0.52],
        "right": [0.52, 0.52, 0.52, 0.5, 0.48, 0.48],
    }
    result = step_symmetry(contacts, steps, 1.5, 1)
    assert result is not None and result.stretches == 2
    assert abs(result.index_pct) < 5
    limp = {"left": [None, 0.45, 0.45, 0.45, 0.45], "right": [0.55] * 5}
    steady = {"left": [0.0, 1.0, 2.0, 3.0, 4.0], "right": [0.55, 1.55, 2.55, 3.55, 4.55]}
    limping = step_symmetry(steady, limp, 1.5, 1)
    assert limping is not None and limping.index_pct > 15


def test_a_chosen_movement_the_clip_contradicts_is_a_mismatch() -> None:
    # A clear run analysed as a squat: no squat faults as facts, and no drills.
    features = gait_features(0.35, cadence=172.0)
    result = analyze(features, {"fps": 30.0}, {}, "squat", "side")
    assert result["findings"][0]["code"] == "movement_mismatch"
    assert result["findings"][0]["severity"] == "info"
    assert not [f for f in result["findings"] if f["severity"] != "info"]
    advice = advise(result)
    assert advice["drills"] == []
    # The right choice is no mismatch.
    assert "movement_mismatch" not in [
        f["code"] for f in analyze(features, {"fps": 30.0}, {}, "running", "side")["findings"]
    ]


def test_slow_motion_from_the_metadata_is_not_timed() -> None:
    # A 240 fps phone clip played at 30 fps: the runner seems to step at 21 spm.
    features = gait_features(0.35, cadence=21.0)
    info = {"source": {"fps": 30.0, "capture_fps": 240.0}, "proxy": {"fps": 30.0}}
    result = analyze(features, {"fps": 30.0}, info, "running", "side")
    assert result["findings"][0]["code"] == "slow_motion_suspected"
    assert "8×" in result["findings"][0]["message"]["en"]
    assert result["metrics"]["cadence_spm"]["status"] == "not_measurable"
    assert "cadence_low" not in [f["code"] for f in result["findings"]]
    # A 60 fps clip stored at 59.94 is no slow motion.
    normal = {"source": {"fps": 59.94, "capture_fps": 60.0}}
    codes = [
        f["code"] for f in analyze(features, {"fps": 30.0}, normal, "running", "side")["findings"]
    ]
    assert "slow_motion_suspected" not in codes


def test_the_probe_reads_a_phones_capture_rate() -> None:
    from formcoach.video_processing.service import capture_rate

    assert capture_rate({"com.android.capture.fps": "240.000000"}) == 240.0
    assert capture_rate({"com.apple.quicktime.capture.fps": "120"}) == 120.0
    assert capture_rate({"encoder": "Lavf"}) is None


def test_a_close_second_person_is_reported_unless_the_user_chose() -> None:
    features = gait_features(0.35, cadence=172.0)
    close = {
        "fps": 30.0,
        "subject_choice": {
            "chosen": 1,
            "basis": "prominence",
            "score": 187.8,
            "alternatives": [{"id": 2, "score": 172.3}, {"id": 3, "score": 20.0}],
            "close": True,
        },
    }
    result = analyze(features, close, {}, "running", "side")
    found = [f for f in result["findings"] if f["code"] == "subject_candidates_close"]
    assert len(found) == 1 and found[0]["severity"] == "info", result["findings"]
    assert "person 2" in found[0]["message"]["en"] and "person 1" in found[0]["message"]["en"]
    assert "人物 2" in found[0]["message"]["ja"]
    assert "person 3" not in found[0]["message"]["en"]
    # It is information, not a fault: no advice or drill comes of it.
    assert not [
        a for a in advise(result)["advice"] if "subject_candidates_close" in a["finding_codes"]
    ]
    clear = {**close, "subject_choice": {**close["subject_choice"], "close": False}}
    chosen = {**close, "subject_choice": {**close["subject_choice"], "basis": "requested"}}
    for meta in (clear, chosen, {"fps": 30.0}):
        codes = [f["code"] for f in analyze(features, meta, {}, "running", "side")["findings"]]
        assert "subject_candidates_close" not in codes
