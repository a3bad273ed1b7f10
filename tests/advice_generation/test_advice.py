"""advice_generation: the drill library, drill matching and rule-based advice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from formcoach.advice_generation.library import DEFAULT_DRILL_FILE, load_library, normalise
from formcoach.advice_generation.schemas import Advice, Drill
from formcoach.advice_generation.service import (
    advise,
    get_drill,
    list_drills,
    load_rules,
    match_drill,
)
from formcoach.analysis.schemas import FINDING_CODES

REQUIRED = (
    "plank",
    "side_plank",
    "glute_bridge",
    "a_skip",
    "high_knees",
    "dead_bug",
    "wall_lean",
    "strides",
    "kneeling_hip_flexor_stretch",
)
SEED_JA = "プランク: 体幹を鍛える基本エクササイズ..."
SEED_EN = "Plank: a basic exercise that strengthens the core..."


def test_drill_library_loads_with_every_field_in_both_languages() -> None:
    drills = list_drills()
    ids = [d.id for d in drills]
    assert set(REQUIRED) <= set(ids) and len(ids) == len(set(ids))
    for drill in drills:
        for text in (drill.name, drill.purpose, drill.dose):
            assert text.ja.strip() and text.en.strip(), drill.id
        assert drill.aliases.ja and drill.aliases.en, drill.id
        assert 2 <= len(drill.cues.ja) <= 4 and 2 <= len(drill.cues.en) <= 4, drill.id
        assert all(c.strip() for c in (*drill.cues.ja, *drill.cues.en)), drill.id
        assert drill.motion == drill.id
        for other in (*drill.regressions, *drill.progressions):
            assert other in ids


def test_drill_doses_and_postures_follow_the_reference() -> None:
    plank = get_drill("plank")
    assert "プランク" in plank.aliases.ja
    assert (plank.posture, plank.kind, plank.dose.en) == ("prone", "hold", "3 × 20–45 s")
    assert get_drill("side_plank").posture == "side_lying"
    assert get_drill("glute_bridge").posture == "supine"
    assert get_drill("glute_bridge").dose.en == "3 × 12"
    assert get_drill("a_skip").posture == "standing" and get_drill("a_skip").kind == "distance"
    assert get_drill("strides").dose.en == "4–6 × 80–100 m"
    assert get_drill("dead_bug").dose.en == "3 × 8–10 each side"
    assert get_drill("kneeling_hip_flexor_stretch").posture == "kneeling"


def test_get_drill_raises_key_error_for_unknown_ids() -> None:
    with pytest.raises(KeyError):
        get_drill("burpee")


@pytest.mark.parametrize(
    ("text", "drill_id"),
    [
        (SEED_JA, "plank"),
        (SEED_EN, "plank"),
        ("ＰＬＡＮＫ：腹筋", "plank"),  # full-width letters and colon
        ("フロントプランク 30秒", "plank"),
        ("forearm plank, 3 sets", "plank"),
        ("サイドプランク（左右各30秒）", "side_plank"),  # not the shorter プランク
        ("Side plank: hips up", "side_plank"),
        ("side bridge", "side_plank"),
        ("ヒップリフト", "glute_bridge"),
        ("hip bridge 3x12", "glute_bridge"),
        ("片脚ヒップリフト", "single_leg_bridge"),
        ("Aスキップ", "a_skip"),
        ("A-skip drill over 20 m", "a_skip"),
        ("もも上げを15m", "high_knees"),
        ("knee drive", "high_knees"),
        ("dead-bug", "dead_bug"),
        ("デッドバグ", "dead_bug"),
        ("falling start", "wall_lean"),
        ("ウォールドリル", "wall_lean"),
        ("流し 100m", "strides"),
        ("strideouts", "strides"),
        ("腸腰筋ストレッチ", "kneeling_hip_flexor_stretch"),
        ("half-kneeling hip flexor stretch", "kneeling_hip_flexor_stretch"),
        ("kneeling_hip_flexor_stretch", "kneeling_hip_flexor_stretch"),
        ("planck", "plank"),  # a typo
    ],
)
def test_match_drill(text: str, drill_id: str) -> None:
    found = match_drill(text)
    assert found.drill is not None, (text, found.suggestions)
    assert found.drill.id == drill_id


def test_match_drill_reports_how_it_matched() -> None:
    assert match_drill(SEED_EN).method == "exact"
    assert match_drill("Do some high knees, then strides").method == "contains"
    assert match_drill("planck").method == "fuzzy"


def test_unknown_text_gives_suggestions() -> None:
    found = match_drill("Jumping jacks")
    assert found.drill is None
    assert 1 <= len(found.suggestions) <= 3
    ids = {d.id for d in list_drills()}
    assert set(found.suggestions) <= ids
    near = match_drill("side plonk hold")
    assert near.drill is None or near.drill.id == "side_plank"
    assert match_drill("").drill is None and match_drill("").suggestions == []


def test_normalise() -> None:
    assert normalise("  Ａ－Skip!! ") == "a skip"
    assert normalise("プランク・ホールド") == "プランク ホールド"


def finding(code: str, severity: str = "moderate", metric: str | None = None) -> dict[str, Any]:
    return {
        "code": code,
        "severity": severity,
        "message": {"ja": "テスト", "en": "test"},
        "evidence": [],
        "metric": metric,
    }


def analysis(*findings: dict[str, Any], movement: str = "running") -> dict[str, Any]:
    return {
        "schema": "formcoach.analysis/1",
        "movement": movement,
        "movement_requested": movement,
        "view": "side",
        "metrics": {
            "cadence_spm": {
                "value": 150.0,
                "unit": "spm",
                "label": {"ja": "テスト", "en": "test"},
                "reference": {"low": 160, "high": 185, "source": "Heiderscheit 2011"},
                "status": "low",
                "note": None,
            },
            "trunk_lean_deg": {
                "value": 21.0,
                "unit": "deg",
                "label": {"ja": "テスト", "en": "test"},
                "reference": {"low": 0, "high": 15, "source": "Teng & Powers 2014/15"},
                "status": "high",
                "note": None,
            },
        },
        "findings": list(findings),
    }


def check_advice(result: dict[str, Any]) -> None:
    Advice.model_validate(result)
    assert result["schema"] == "formcoach.advice/1"
    assert 1 <= len(result["advice"]) <= 3
    prescribed = [d["drill_id"] for d in result["drills"]]
    assert len(prescribed) == len(set(prescribed))
    assert prescribed == list(dict.fromkeys(d for a in result["advice"] for d in a["drills"]))
    for item in result["advice"]:
        for field in ("title", "text"):
            assert item[field]["ja"].strip() and item[field]["en"].strip()
            assert "{" not in item[field]["ja"] and "nan" not in item[field]["en"]
    for drill in result["drills"]:
        assert drill["name"]["ja"] and drill["dose"]["en"] and drill["cues"]["ja"]
    unassessed = any(
        code in a["finding_codes"]
        for a in result["advice"]
        for code in ("movement_mismatch", "not_assessed")
    )
    # Every report has a drill, but one that assessed nothing (issue 19): a chosen movement
    # that is not the clip's, or none of its measures possible.
    assert bool(prescribed) != unassessed, "a drill exactly when something was assessed"


@pytest.mark.parametrize("movement", ["running", "walking", "squat"])
def test_every_rule_gives_complete_text_and_valid_drills(movement: str) -> None:
    rules = load_rules()
    ids = {d.id for d in list_drills()}
    for code, rule in rules.rules.items():
        for variant in (rule, *rule.movements.values()):
            assert set(variant.drills) <= ids, code
        metric = {"cadence_low": "cadence_spm", "cadence_high": "cadence_spm"}.get(
            code, "trunk_lean_deg" if code.startswith("trunk") else None
        )
        for severity in ("minor", "major", "info"):
            result = advise(analysis(finding(code, severity, metric), movement=movement))
            check_advice(result)
            assert any(code in a["finding_codes"] for a in result["advice"]), code
    assert set(rules.maintenance.drills) <= ids and "plank" in rules.maintenance.drills
    for variant in rules.maintenance_by_movement.values():
        assert variant.drills and set(variant.drills) <= ids
    assert rules.general is not None and "plank" in rules.general.drills


def test_every_analysis_code_has_a_rule_or_is_ignored() -> None:
    rules = load_rules()
    for code in FINDING_CODES:
        assert code in rules.rules or code in rules.ignored, code


def test_focus_points_are_ranked_and_capped_at_three() -> None:
    result = advise(
        analysis(
            finding("cadence_high", "minor", "cadence_spm"),
            finding("trunk_lean_excessive", "major", "trunk_lean_deg"),
            finding("cadence_low", "moderate", "cadence_spm"),
            finding("trunk_lean_backward", "minor", "trunk_lean_deg"),
            finding("movement_auto_detected", "info"),
        )
    )
    check_advice(result)
    order = [a["finding_codes"] for a in result["advice"]]
    assert order == [["trunk_lean_excessive"], ["cadence_low"], ["trunk_lean_backward"]]


def test_findings_give_personalised_targets_and_drills() -> None:
    result = advise(analysis(finding("cadence_low", "moderate", "cadence_spm")))
    check_advice(result)
    item = result["advice"][0]
    assert item["drills"] == ["a_skip", "high_knees", "strides"]
    assert "158" in item["text"]["ja"] and "165" in item["text"]["en"]  # +5 % and +10 % of 150
    a_skip = next(d for d in result["drills"] if d["drill_id"] == "a_skip")
    assert a_skip["dose"]["en"] == "2–3 × 20 m"


def test_an_asymmetry_names_the_side() -> None:
    for value, ja, en in ((9.0, "右脚", "right leg"), (-12.0, "左脚", "left leg")):
        result = analysis(finding("asymmetry", "minor", "step_time_asymmetry_pct"))
        result["metrics"]["step_time_asymmetry_pct"] = {
            "value": value,
            "unit": "%",
            "label": {"ja": "テスト", "en": "test"},
            "reference": {"low": -5, "high": 5, "source": "Malisoux 2024"},
            "status": "high" if value > 0 else "low",
            "note": None,
        }
        advice = advise(result)
        check_advice(advice)
        text = advice["advice"][0]["text"]
        assert ja in text["ja"] and en in text["en"] and f"{abs(value):.0f} %" in text["en"]
        assert "weaker" not in text["en"] and "弱い" not in text["ja"]


def test_walking_has_its_own_wording() -> None:
    running = advise(analysis(finding("cadence_low", "minor", "cadence_spm")))
    walking = advise(analysis(finding("cadence_low", "minor", "cadence_spm"), movement="walking"))
    assert running["advice"][0]["text"]["ja"] != walking["advice"][0]["text"]["ja"]
    assert "strides" not in walking["advice"][0]["drills"]


def test_nothing_wrong_gives_the_movements_maintenance_drill() -> None:
    # Issue 19: plank was the fallback of every movement; the drill now fits the movement.
    for result in (
        advise(analysis()),
        advise(analysis(finding("movement_auto_detected", "info"))),
        advise(analysis(finding("cadence_high", "info", "cadence_spm"))),
    ):
        check_advice(result)
        assert [d["drill_id"] for d in result["drills"]] == ["strides"]
        assert result["advice"][0]["finding_codes"] == []
        info_items = [a for a in result["advice"] if a["finding_codes"]]
        assert all(not a["drills"] for a in info_items)
    expected = {"walking": "single_leg_balance", "squat": "box_squat", "plank": "side_plank"}
    for movement, drill in expected.items():
        result = advise(analysis(movement=movement))
        assert [d["drill_id"] for d in result["drills"]] == [drill], movement
    unchecked = advise(analysis(finding("detailed_checks_unavailable", "info"), movement="squat"))
    assert [d["drill_id"] for d in unchecked["drills"]] == ["plank"]


def test_a_mismatched_movement_prescribes_nothing() -> None:
    result = advise(analysis(finding("movement_mismatch", "info"), finding("cadence_low", "info")))
    check_advice(result)
    assert result["drills"] == []
    assert all(not a["drills"] for a in result["advice"])
    assert any("movement_mismatch" in a["finding_codes"] for a in result["advice"])


def test_unchecked_movements_do_not_claim_that_nothing_is_wrong() -> None:
    rules = load_rules()
    squat = advise(analysis(finding("detailed_checks_unavailable", "info"), movement="squat"))
    running = advise(analysis())
    assert rules.general is not None
    assert squat["advice"][0]["title"] == rules.general.title.model_dump()
    assert running["advice"][0]["title"] == rules.maintenance.title.model_dump()


def test_unknown_finding_codes_are_skipped() -> None:
    result = advise(analysis(finding("made_up_code", "major")))
    check_advice(result)
    assert result["advice"][0]["drills"] == ["strides"]  # running's maintenance drill


def test_a_replacement_library_is_validated(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_DRILL_FILE.read_text(encoding="utf-8"))
    data["drills"][0]["regressions"] = ["no_such_drill"]
    broken = tmp_path / "drills.yaml"
    broken.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError):
        load_library(broken)
    data["drills"][0]["regressions"] = []
    data["drills"][0]["aliases"]["ja"] = []
    ok = tmp_path / "drills-ok.yaml"
    ok.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    library = load_library(ok)
    assert isinstance(library.by_id["plank"], Drill)
    assert library.match(SEED_JA).drill is not None  # the Japanese name still matches


# Drill names that are also the name of the movement a rule is about (a plank report speaks of
# "the plank"), or an everyday word of gait ("long strides"): not a drill being recommended.
MOVEMENT_WORDS = {"plank", "side_plank", "glute_bridge", "single_leg_squat", "strides"}


def test_every_drill_the_advice_names_is_prescribed() -> None:
    """Issue 19: the advice text named drills (high knees, glute bridges) that were not among
    the prescribed ones. Each drill named by its full name in a rule's text is in its drills."""
    rules = load_rules()
    drills = list_drills()
    variants = [(c, v) for c, r in rules.rules.items() for v in (r, *r.movements.values())]
    variants += [(f"maintenance:{m}", v) for m, v in rules.maintenance_by_movement.items()]
    variants.append(("maintenance", rules.maintenance))
    if rules.general is not None:
        variants.append(("general", rules.general))
    named = 0
    for code, variant in variants:
        for drill in drills:
            in_text = drill.name.ja in variant.text.ja or (
                drill.name.en.lower() in variant.text.en.lower()
            )
            if not in_text:
                continue
            named += 1
            assert drill.id in variant.drills or drill.id in MOVEMENT_WORDS, (code, drill.id)
    assert named >= 10  # the check does see the drills the texts name
