"""analysis: hand-made features judged against reference.yaml."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from formcoach.analysis.reference import DEFAULT_REFERENCE_FILE, load_reference
from formcoach.analysis.schemas import FINDING_CODES, Analysis
from formcoach.analysis.service import analyze

FPS = 30.0
VIDEO_INFO: dict[str, Any] = {"proxy": {"fps": FPS, "duration_s": 4.0}}
POSE_META: dict[str, Any] = {"fps": FPS, "detection_rate": 1.0}


def make_features(
    n: int = 120,
    cadence: float | None = 172.0,
    steps: int = 10,
    trunk: float | list[float | None] = 8.0,
    facing: str = "right",
    **series: list[float | None],
) -> dict[str, Any]:
    trunk_series: list[float | None] = list(trunk) if isinstance(trunk, list) else [trunk] * n
    base: dict[str, list[float | None]] = {
        "left_knee_flexion_deg": [20 + 80 * abs(math.sin(i / 6)) for i in range(n)],
        "right_knee_flexion_deg": [20 + 80 * abs(math.cos(i / 6)) for i in range(n)],
        "left_hip_flexion_deg": [10 + 40 * abs(math.sin(i / 6)) for i in range(n)],
        "right_hip_flexion_deg": [10 + 40 * abs(math.cos(i / 6)) for i in range(n)],
        "left_elbow_flexion_deg": [90.0] * n,
        "right_elbow_flexion_deg": [88.0] * n,
        "trunk_lean_deg": trunk_series,
        "body_line_deg": [165.0] * n,
        "hip_height_norm": [0.5 + 0.03 * math.sin(i / 3) for i in range(n)],
    }
    base.update(series)
    return {
        "schema": "formcoach.features/1",
        "fps": FPS,
        "times": [i / FPS for i in range(n)],
        "facing": facing,
        "series": base,
        "summary": {
            "cadence_spm": cadence,
            "step_count": steps,
            "step_events_s": [],
            "step_times_s": [],
            "stats": {},
        },
    }


def run(features: dict[str, Any], movement: str = "running", view: str = "side") -> dict[str, Any]:
    result = analyze(features, POSE_META, VIDEO_INFO, movement, view)
    Analysis.model_validate(result)  # the artifact keeps its documented shape
    assert result["schema"] == "formcoach.analysis/1"
    return result


def codes(result: dict[str, Any]) -> list[str]:
    return [f["code"] for f in result["findings"]]


def finding(result: dict[str, Any], code: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in result["findings"] if f["code"] == code)
    return found


def test_low_cadence_is_flagged_with_evidence_and_source() -> None:
    result = run(make_features(cadence=150.0))
    metric = result["metrics"]["cadence_spm"]
    assert metric["status"] == "low" and metric["value"] == 150.0
    assert metric["reference"]["low"] == 160 and metric["reference"]["high"] == 185
    assert "Heiderscheit" in metric["reference"]["source"]
    found = finding(result, "cadence_low")
    assert found["metric"] == "cadence_spm"
    assert found["severity"] in ("minor", "moderate", "major")
    # The whole analysed span is the evidence of a cadence.
    assert found["evidence"] == [{"start_s": 0.0, "end_s": pytest.approx(4.0)}]
    for lang in ("ja", "en"):
        text = found["message"][lang]
        assert "150" in text and "160" in text and "185" in text and "Heiderscheit" in text
    assert "180" in found["message"]["en"]  # the "never a fixed 180" caution travels with it


def test_cadence_severity_grows_with_distance() -> None:
    minor = finding(run(make_features(cadence=157.0)), "cadence_low")["severity"]
    major = finding(run(make_features(cadence=130.0)), "cadence_low")["severity"]
    assert (minor, major) == ("minor", "major")


def test_typical_cadence_gives_no_cadence_finding() -> None:
    result = run(make_features(cadence=172.0))
    assert result["metrics"]["cadence_spm"]["status"] == "ok"
    assert not {"cadence_low", "cadence_high"} & set(codes(result))
    assert result["findings"] == []


def test_excessive_trunk_lean_has_merged_evidence_ranges() -> None:
    n = 120
    trunk: list[float | None] = [20.0] * n
    trunk[40:50] = [5.0] * 10  # upright for a third of a second splits the evidence in two
    trunk[80] = None  # a missing frame inside a range is bridged
    result = run(make_features(n=n, trunk=trunk))
    assert result["metrics"]["trunk_lean_deg"]["value"] == 20.0
    assert result["metrics"]["trunk_lean_deg"]["status"] == "high"
    found = finding(result, "trunk_lean_excessive")
    assert found["metric"] == "trunk_lean_deg" and found["severity"] == "moderate"
    assert found["evidence"] == [
        {"start_s": 0.0, "end_s": pytest.approx(40 / FPS, abs=1e-3)},
        {"start_s": pytest.approx(50 / FPS, abs=1e-3), "end_s": pytest.approx(n / FPS, abs=1e-3)},
    ]
    assert "Teng & Powers" in found["message"]["ja"] and "15" in found["message"]["en"]


def test_backward_trunk_lean() -> None:
    result = run(make_features(trunk=-5.0))
    assert result["metrics"]["trunk_lean_deg"]["status"] == "low"
    found = finding(result, "trunk_lean_backward")
    assert found["evidence"] == [{"start_s": 0.0, "end_s": pytest.approx(4.0)}]
    assert "-5" in found["message"]["ja"] and "後ろ" in found["message"]["ja"]


def test_missing_cadence_is_not_measurable_and_raises_nothing() -> None:
    result = run(make_features(cadence=None, steps=2))
    metric = result["metrics"]["cadence_spm"]
    assert metric["status"] == "not_measurable" and metric["value"] is None
    assert metric["note"]["ja"] and metric["note"]["en"]
    assert not any(f["metric"] == "cadence_spm" for f in result["findings"])


def test_too_few_steps_make_a_cadence_unmeasurable() -> None:
    result = run(make_features(cadence=120.0, steps=2))
    assert result["metrics"]["cadence_spm"]["status"] == "not_measurable"
    assert "cadence_low" not in codes(result)


def test_trunk_lean_needs_a_side_view_and_a_known_facing() -> None:
    rear = run(make_features(trunk=30.0), view="rear")
    assert rear["metrics"]["trunk_lean_deg"]["status"] == "not_measurable"
    unknown = run(make_features(trunk=30.0, facing="unknown"))
    assert unknown["metrics"]["trunk_lean_deg"]["status"] == "not_measurable"
    for result in (rear, unknown):
        assert not any(f["code"].startswith("trunk_lean") for f in result["findings"])


def test_running_reports_angle_summaries_as_information() -> None:
    metrics = run(make_features())["metrics"]
    for key in (
        "knee_flexion_peak_left_deg",
        "knee_flexion_peak_right_deg",
        "hip_flexion_peak_left_deg",
        "elbow_flexion_median_right_deg",
        "step_count",
    ):
        assert metrics[key]["reference"] is None and metrics[key]["status"] == "ok", key
    assert metrics["knee_flexion_peak_left_deg"]["value"] == pytest.approx(100.0, abs=0.5)
    assert metrics["elbow_flexion_median_right_deg"]["value"] == 88.0
    assert all(m["label"]["ja"] and m["label"]["en"] for m in metrics.values())


def test_walking_uses_the_walking_cadence_range() -> None:
    result = run(make_features(cadence=110.0), movement="walking")
    metric = result["metrics"]["cadence_spm"]
    assert (metric["reference"]["low"], metric["reference"]["high"]) == (100, 130)
    assert metric["status"] == "ok"
    slow = run(make_features(cadence=80.0), movement="walking")
    assert finding(slow, "cadence_low")["severity"] == "moderate"


@pytest.mark.parametrize("movement", ["other", "swimming"])
def test_other_movements_get_summaries_and_an_unavailable_note(movement: str) -> None:
    result = run(make_features(cadence=None, trunk=10.0), movement)
    assert result["movement"] == movement and result["movement_requested"] == movement
    found = finding(result, "detailed_checks_unavailable")
    assert found["severity"] == "info" and found["message"]["ja"] and found["message"]["en"]
    assert "cadence_spm" not in result["metrics"]
    assert result["metrics"]["knee_flexion_peak_left_deg"]["status"] == "ok"
    assert "body_line_deg" not in result["metrics"]
    label = {"other": "特定の種目", "swimming": "この動き"}[movement]
    assert found["message"]["ja"].startswith(label)


def test_plank_body_line_is_the_median() -> None:
    body = [178.0] * 60 + [160.0] * 20 + [None] * 40
    result = run(make_features(cadence=None, body_line_deg=body), movement="plank")
    assert result["metrics"]["body_line_deg"]["value"] == 178.0


def plank_features() -> dict[str, Any]:
    n = 150
    return make_features(
        n=n,
        cadence=None,
        steps=0,
        trunk=[84.0 + (i % 5) for i in range(n)],
        body_line_deg=[174.0 + (i % 3) for i in range(n)],
        hip_height_norm=[0.25] * n,
        left_knee_flexion_deg=[5.0] * n,
        right_knee_flexion_deg=[6.0] * n,
    )


def test_auto_recognises_a_plank() -> None:
    result = run(plank_features(), movement="auto")
    assert result["movement"] == "plank" and result["movement_requested"] == "auto"
    auto = finding(result, "movement_auto_detected")
    assert auto["severity"] == "info" and "プランク" in auto["message"]["ja"]
    assert "plank" in auto["message"]["en"]
    assert "body_line_deg" in result["metrics"]
    assert result["metrics"]["plank_line_deviation_deg"]["status"] == "ok"
    assert "detailed_checks_unavailable" not in codes(result)


def test_auto_recognises_running_and_walking() -> None:
    running = run(make_features(cadence=168.0), movement="auto")
    assert running["movement"] == "running"
    assert "running" in finding(running, "movement_auto_detected")["message"]["en"]
    assert running["metrics"]["cadence_spm"]["reference"]["low"] == 160
    walking = run(make_features(cadence=112.0), movement="auto")
    assert walking["movement"] == "walking"


def test_auto_recognises_a_squat_and_falls_back_to_other() -> None:
    n = 150
    squat = make_features(
        n=n,
        cadence=None,
        steps=0,
        trunk=20.0,
        hip_height_norm=[0.55 - 0.2 * (1 - math.cos(i / 8)) for i in range(n)],
        left_knee_flexion_deg=[5 + 50 * (1 - math.cos(i / 8)) for i in range(n)],
        right_knee_flexion_deg=[5 + 50 * (1 - math.cos(i / 8)) for i in range(n)],
        left_hip_flexion_deg=[5 + 45 * (1 - math.cos(i / 8)) for i in range(n)],
        right_hip_flexion_deg=[5 + 45 * (1 - math.cos(i / 8)) for i in range(n)],
    )
    assert run(squat, movement="auto")["movement"] == "squat"
    still = make_features(cadence=None, steps=0, trunk=3.0)
    still["series"]["left_knee_flexion_deg"] = [5.0] * 120
    still["series"]["right_knee_flexion_deg"] = [5.0] * 120
    other = run(still, movement="auto")
    assert other["movement"] == "other"
    assert {"movement_auto_detected", "detailed_checks_unavailable"} <= set(codes(other))


def test_findings_use_known_codes_and_known_metrics() -> None:
    for features, movement in (
        (make_features(cadence=150.0, trunk=25.0), "running"),
        (plank_features(), "auto"),
    ):
        result = run(features, movement)
        for item in result["findings"]:
            assert item["code"] in FINDING_CODES
            assert item["metric"] is None or item["metric"] in result["metrics"]
            assert result["metrics"].get(item["metric"] or "", {}).get("status") != (
                "not_measurable"
            )


def _walk_thresholds(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every mapping in the file that holds a number, with its path."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        numbers = any(
            isinstance(v, int | float) and not isinstance(v, bool) and k != "version"
            for k, v in node.items()
        )
        if numbers:
            found.append((path, node))
        for key, value in node.items():
            found.extend(_walk_thresholds(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_walk_thresholds(value, f"{path}[{i}]"))
    return found


def test_every_threshold_in_reference_yaml_has_a_source() -> None:
    data = yaml.safe_load(DEFAULT_REFERENCE_FILE.read_text(encoding="utf-8"))
    blocks = _walk_thresholds(data)
    assert blocks
    for path, block in blocks:
        if "[" in path.rsplit(".", 1)[-1]:
            continue  # severity bands share the source of their scale
        assert isinstance(block.get("source"), str) and len(block["source"]) > 3, path
    reference = load_reference()
    running = reference.movements["running"].judged
    assert (running["cadence_spm"].low, running["cadence_spm"].high) == (160, 185)
    assert (running["trunk_lean_deg"].low, running["trunk_lean_deg"].high) == (0, 15)
    assert "180" in running["cadence_spm"].note.en if running["cadence_spm"].note else False


def test_reference_file_can_be_overridden(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_REFERENCE_FILE.read_text(encoding="utf-8"))
    data["movements"]["running"]["judged"]["cadence_spm"]["low"] = 140
    custom = tmp_path / "reference.yaml"
    custom.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = analyze(
        make_features(cadence=150.0),
        POSE_META,
        VIDEO_INFO,
        "running",
        "side",
        reference=load_reference(custom),
    )
    assert result["metrics"]["cadence_spm"]["status"] == "ok"
    del data["movements"]["running"]["judged"]["cadence_spm"]["source"]
    unsourced = tmp_path / "unsourced.yaml"
    unsourced.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError):
        load_reference(unsourced)


def test_cadence_says_how_many_steps_it_rests_on() -> None:
    few = run(make_features(cadence=150.0, steps=10))
    metric = few["metrics"]["cadence_spm"]
    assert metric["samples"] == 10 and metric["confidence"] == "low"
    assert "low confidence" in finding(few, "cadence_low")["message"]["en"]
    assert "信頼度" in finding(few, "cadence_low")["message"]["ja"]
    many = run(make_features(cadence=150.0, steps=20))["metrics"]["cadence_spm"]
    assert many["samples"] == 20 and many["confidence"] is None
    assert run(make_features())["scores"]["efficiency"]["value"] == 100
