"""Issue 19: every real fixture clip against the truth counted by eye in its SOURCES.md.

Each clip goes through the real stages (probe, MediaPipe pose, features, analysis, advice)
once per movement asked; the assertions are the movement, the subject, the reps and the
absence of findings a coach would reject.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from formcoach.kit.pipeline import ADVICE, ANALYSIS, POSE_META, UPLOAD, RunOptions, StageContext
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage
from tests.conftest import FIXTURES
from tests.support.apputil import run_stages

pytestmark = pytest.mark.slow

SQUAT = FIXTURES / "rohan-squat-barbell-side-portrait.mp4"
DEMO4 = FIXTURES / "sports2d-demo4-walk-side.mp4"
TWO_PEOPLE = FIXTURES / "sports2d-demo-two-people.mp4"
SINGLE_PERSON = FIXTURES / "pose2sim-single-person-cam01.mp4"


def analyse(root: Path, clip: Path, movement: str) -> dict[str, Any]:
    """analysis.json, advice.json and pose.json of one clip taken through the stages."""
    assert clip.is_file(), f"missing fixture clip {clip}"
    settings = Settings(data_dir=root / "data")
    storage = LocalStorage(settings.files_dir)
    ctx = StageContext(1, RunOptions(movement=movement, view="side"), storage, settings)
    storage.put_file(ctx.key(UPLOAD), clip)
    run_stages(ctx, "probe", "pose", "features", "analysis", "advice")
    return {
        "analysis": ctx.read_json(ANALYSIS),
        "advice": ctx.read_json(ADVICE),
        "pose": ctx.read_json(POSE_META),
    }


def faults(analysis: dict[str, Any]) -> list[str]:
    return [f["code"] for f in analysis["findings"] if f["severity"] != "info"]


def codes(analysis: dict[str, Any]) -> list[str]:
    return [f["code"] for f in analysis["findings"]]


@pytest.fixture(scope="module")
def squat(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return analyse(tmp_path_factory.mktemp("squat"), SQUAT, "auto")


@pytest.fixture(scope="module")
def demo4(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return analyse(tmp_path_factory.mktemp("demo4"), DEMO4, "auto")


def test_the_barbell_squat_is_a_squat_of_two_reps(squat: dict[str, Any]) -> None:
    analysis = squat["analysis"]
    # Truth: back squat, 2 reps (≈9–11.5 s and 15.5–18 s); the bar press at the end is no rep.
    assert analysis["movement"] == "squat" and analysis["movement_requested"] == "auto"
    assert analysis["metrics"]["squat_reps"]["value"] == 2
    assert "movement_auto_detected" in codes(analysis)
    assert faults(analysis) == []
    # One subject: the reflection in the mirror is not analysed.
    assert squat["pose"]["subject"] is not None


def test_the_walk_with_a_turn_has_no_asymmetry(demo4: dict[str, Any]) -> None:
    analysis = demo4["analysis"]
    # Truth: walking, one person, side view, a 180° turn, no limp or asymmetry.
    assert analysis["movement"] == "walking"
    assert "asymmetry" not in codes(analysis)
    assert faults(analysis) == []
    index = analysis["metrics"]["step_time_asymmetry_pct"]
    assert index["value"] is not None and abs(index["value"]) < 5
    # Nothing to fix: the walking maintenance drill, not the plank every movement used to get.
    assert [d["drill_id"] for d in demo4["advice"]["drills"]] == ["single_leg_balance"]


def test_the_two_people_clip_asked_as_walking_analyses_the_walker(
    tmp_path: Path,
) -> None:
    result = analyse(tmp_path, TWO_PEOPLE, "walking")
    pose = result["pose"]
    tracks = {t["id"]: t for t in pose["tracks"]}
    assert len(tracks) >= 2
    walker = max(tracks.values(), key=lambda t: t["travel"])
    # Truth: the woman walks across the frame; the man on the roof raises his arms and jumps.
    assert pose["subject"] == walker["id"] and walker["travel"] >= 1.0
    man = next(t for t in tracks.values() if t["id"] != walker["id"])
    assert man["travel"] < walker["travel"]
    # Her steps are measured (the man on the roof gave no cadence at all).
    assert result["analysis"]["metrics"]["cadence_spm"]["value"] is not None


def test_the_two_people_clip_asked_as_auto_analyses_the_walker(tmp_path: Path) -> None:
    # Issue 19 item 6: with no movement asked, the subject is the performer. The man on the
    # roof is seen longer and moves on the spot before his jump; the woman walks across the
    # whole frame. Size x time seen picked him (187.8 against 172.3).
    result = analyse(tmp_path, TWO_PEOPLE, "auto")
    pose = result["pose"]
    tracks = {t["id"]: t for t in pose["tracks"]}
    walker = max(tracks.values(), key=lambda t: t["travel"])
    assert pose["subject"] == walker["id"] and walker["travel"] >= 3.0
    choice = pose["subject_choice"]
    assert choice["basis"] == "performer" and choice["chosen"] == walker["id"]
    man = next(t for t in tracks.values() if t["id"] != walker["id"])
    # The parts say why: she moves more and goes across the frame; he is seen longer.
    assert walker["parts"]["motion"] > man["parts"]["motion"]
    assert man["parts"]["seen"] > walker["parts"]["seen"]
    assert walker["prominence"] > man["prominence"]
    # Her walk is what the movement recognition then sees.
    assert result["analysis"]["movement"] == "walking"
    assert result["analysis"]["metrics"]["cadence_spm"]["value"] is not None


def test_the_balance_clip_is_other_and_walking_is_a_mismatch(tmp_path: Path) -> None:
    auto = analyse(tmp_path / "auto", SINGLE_PERSON, "auto")["analysis"]
    # Truth: one-leg balance with reaching, not one of the offered movements.
    assert auto["movement"] == "other" and faults(auto) == []
    assert "formcoach does not offer" in next(
        f["message"]["en"] for f in auto["findings"] if f["code"] == "movement_auto_detected"
    )
    walking = analyse(tmp_path / "walking", SINGLE_PERSON, "walking")
    assert codes(walking["analysis"])[0] == "movement_mismatch"
    assert faults(walking["analysis"]) == []
    assert walking["advice"]["drills"] == []
