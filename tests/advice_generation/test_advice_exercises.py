"""advice_generation: advice for the exercise findings, from real analyses of synthetic clips."""

from __future__ import annotations

from typing import Any

import pytest

from formcoach.advice_generation.schemas import Advice
from formcoach.advice_generation.service import advise, get_drill, load_rules
from formcoach.analysis.schemas import FINDING_CODES
from tests.analysis.test_analysis_exercises import lunge_doc, plank, run, squat

NEW_DRILLS = (
    "bird_dog",
    "butt_kicks",
    "single_leg_calf_raise",
    "single_leg_balance",
    "single_leg_squat",
    "split_squat",
    "band_side_walk",
    "knee_to_wall_ankle_mobilisation",
    "incline_push_up",
    "box_squat",
    "banded_squat",
)
# Faults of biomechanics.md's table whose measurement waits for gait data.
TABLE_FAULTS = (
    "overstriding",
    "vertical_oscillation_excessive",
    "knee_straight_landing",
    "pelvic_drop",
    "crossover",
    "heel_whip",
    "arm_crossover",
    "asymmetry",
    "squat_valgus",
    "squat_heel_lift",
)


def test_new_drills_have_their_reference_doses() -> None:
    doses = {d: get_drill(d).dose.en for d in NEW_DRILLS}
    assert doses["banded_squat"] == "3 × 10–12"
    assert doses["knee_to_wall_ankle_mobilisation"] == "2 × 15 each side"
    assert doses["box_squat"] == "3 × 8–10"
    assert doses["incline_push_up"] == "3 × 8–12"
    assert doses["single_leg_balance"] == "3 × 30–60 s each side"
    assert doses["band_side_walk"] == "2–3 × 10–15 steps each way"
    assert get_drill("bird_dog").posture == "quadruped"
    assert all(get_drill(d).motion == d for d in NEW_DRILLS)


def test_every_fault_has_a_rule_with_drills() -> None:
    rules = load_rules()
    for code in (*FINDING_CODES, *TABLE_FAULTS):
        # Information, no fault: these never prescribe drills.
        if code in rules.ignored or code in (
            "detailed_checks_unavailable",
            "movement_mismatch",
            "not_assessed",
        ):
            continue
        assert code in rules.rules and rules.rules[code].drills, code


def check(advice: dict[str, Any], code: str) -> dict[str, Any]:
    Advice.model_validate(advice)
    item: dict[str, Any] = next(a for a in advice["advice"] if code in a["finding_codes"])
    for lang in ("ja", "en"):
        assert item["title"][lang].strip() and item["text"][lang].strip()
        assert "{" not in item["text"][lang]
    assert item["drills"]
    prescribed = {d["drill_id"]: d for d in advice["drills"]}
    for drill_id in item["drills"]:
        drill = prescribed[drill_id]
        assert drill["dose"]["ja"] and drill["dose"]["en"] and drill["cues"]["ja"]
    return item


@pytest.mark.parametrize(
    ("doc", "movement", "code", "number"),
    [
        (squat([55, 58, 60, 57]), "squat", "squat_shallow", "58"),
        (squat([110, 112, 60, 108, 111]), "squat", "squat_partial_reps", "1"),
        (squat([110, 112, 108], lean_extra=30.0), "squat", "squat_trunk_forward", None),
        (plank([176.0] * 60 + [160.0] * 240, hip_sign=-1.0), "plank", "plank_sag", "-20"),
        (plank([165.0] * 150, hip_sign=None), "plank", "plank_out_of_line", "15"),
        (lunge_doc(), "lunge", "lunge_trunk_lean", "25"),
    ],
)
def test_each_exercise_fault_gets_complete_advice(
    doc: dict[str, Any], movement: str, code: str, number: str | None
) -> None:
    analysis = run(doc, movement)
    advice = advise(analysis)
    item = check(advice, code)
    assert advice["advice"][0] is item  # the only fault comes first
    if number is not None:
        assert number in item["text"]["ja"] and number in item["text"]["en"]


def test_a_clean_squat_gets_maintenance_only() -> None:
    advice = advise(run(squat([110, 112, 108]), "squat"))
    assert [a["finding_codes"] for a in advice["advice"]] == [[]]


def test_one_fault_seen_twice_is_one_focus_point() -> None:
    analysis = run(squat([110, 60, 58, 62, 61]), "squat")
    assert faults_of(analysis) == ["squat_partial_reps", "squat_shallow"]
    advice = advise(analysis)
    assert advice["advice"][0]["finding_codes"] == ["squat_shallow", "squat_partial_reps"]
    assert len(advice["advice"]) == 1
    text = advice["advice"][0]["text"]
    assert "61" in text["en"] and "4" in text["en"] and "4" in text["ja"]  # depth, short reps


def faults_of(analysis: dict[str, Any]) -> list[str]:
    return sorted(f["code"] for f in analysis["findings"] if f["severity"] != "info")
