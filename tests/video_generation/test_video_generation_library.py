"""The whole drill library: every drill has its own motion, renders in every size and language,
and passes its self-check (formcoach's own pipeline judges the encoded demonstration's form).

Each drill is self-checked in one size and language and encoded in the other size and the
other language, so every drill is verified as a served video in both sizes and both languages.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from formcoach.advice_generation.schemas import Drill
from formcoach.advice_generation.service import list_drills
from formcoach.kit.settings import Settings
from formcoach.kit.video_io import is_playable_h264
from formcoach.testbed.selfcheck import CHECKS, self_check
from formcoach.video_generation.motions import MOTIONS, motion_for
from formcoach.video_generation.render import prepare_clip, render_drill_video
from tests.support.media import top_atoms

# Drills the library is growing to; each must have a real motion even before it is listed.
NEW_IDS = {
    "bird_dog": "quadruped",
    "butt_kicks": "standing",
    "single_leg_calf_raise": "standing",
    "single_leg_balance": "standing",
    "single_leg_squat": "standing",
    "split_squat": "standing",
    "band_side_walk": "standing",
    "knee_to_wall_ankle_mobilisation": "kneeling",
    "incline_push_up": "prone",
    "box_squat": "standing",
    "banded_squat": "standing",
}
HOLDS = {"single_leg_balance"}


def _new_drill(drill_id: str, posture: str) -> Drill:
    name = drill_id.replace("_", " ").capitalize()
    return Drill.model_validate(
        {
            "id": drill_id,
            "name": {"ja": f"ドリル {name}", "en": name},
            "aliases": {"ja": [], "en": []},
            "purpose": {"ja": "目的", "en": "Purpose"},
            "cues": {"ja": ["ゆっくり", "姿勢を保つ"], "en": ["Slowly", "Stay tall"]},
            "dose": {"ja": "10 回 × 2", "en": "2 × 10"},
            "posture": posture,
            "motion": drill_id,
            "kind": "hold" if drill_id in HOLDS else "reps",
        }
    )


def library() -> list[Drill]:
    drills = {d.id: d for d in list_drills()}
    for drill_id, posture in NEW_IDS.items():
        drills.setdefault(drill_id, _new_drill(drill_id, posture))
    return list(drills.values())


DRILLS = library()
COMBOS = [(s, lang) for s in ("1280x720", "720x1280") for lang in ("ja", "en")]
# The self-check's combination for drill i is COMBOS[i % 4]; COMBOS[3 - i % 4] is the other
# size and the other language.


def test_every_drill_has_its_own_motion() -> None:
    assert len(DRILLS) >= 25
    for drill in DRILLS:
        motion = motion_for(drill)
        assert drill.motion in MOTIONS or drill.id in MOTIONS, drill.id
        assert motion.id in (drill.motion, drill.id)
    assert {d.id for d in DRILLS} >= set(NEW_IDS)
    # A coach's check is declared for the drills whose form a side view shows.
    assert {"squat", "box_squat", "incline_push_up", "plank"} <= set(CHECKS)


@pytest.mark.parametrize("drill", DRILLS, ids=lambda d: d.id)
def test_every_drill_draws_in_both_sizes_and_languages(drill: Drill) -> None:
    frames = []
    for size, language in COMBOS:
        clip = prepare_clip(drill, language, size, "4")
        width, height = (int(v) for v in size.split("x"))
        for fig in clip.figures[clip.demo_start : clip.demo_end : 15]:
            px = clip.camera.to_px(np.array([fig.bounds()[:2], fig.bounds()[2:]]))
            assert px[:, 0].min() >= 0 and px[:, 0].max() <= width, (drill.id, size)
            assert px[:, 1].min() >= 0 and px[:, 1].max() <= height, (drill.id, size)
            # Nothing sinks into the floor, and something rests on it.
            assert abs(fig.bounds()[1]) < 1e-6 or fig.bounds()[1] > 0, drill.id
        frame = clip.draw(clip.demo_start + 30)
        assert frame.shape == (height, width, 3)
        frames.append(frame)
    # ja and en differ (captions), same size.
    assert not np.array_equal(frames[0], frames[1]) and not np.array_equal(frames[2], frames[3])


@pytest.mark.parametrize("index", range(len(DRILLS)), ids=[d.id for d in DRILLS])
def test_every_drill_encodes_to_a_playable_video(tmp_path: Path, index: int) -> None:
    drill = DRILLS[index]
    size, language = COMBOS[3 - index % len(COMBOS)]  # the combination not self-checked
    out = tmp_path / f"{drill.id}.mp4"
    result = render_drill_video(drill, language, size, "4", out)
    assert is_playable_h264(out) and result.thumbnail.stat().st_size > 0
    atoms = top_atoms(out)
    assert atoms.index(b"moov") < atoms.index(b"mdat"), atoms
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert f"{stream.codec_context.width}x{stream.codec_context.height}" == size
        assert sum(1 for _ in container.decode(stream)) == 120


@pytest.fixture(scope="module")
def pipeline_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # One person is on screen; the second tracker would only cost time.
    return Settings(data_dir=tmp_path_factory.mktemp("selfcheck"), pose_max_people=1)


@pytest.mark.parametrize("index", range(len(DRILLS)), ids=[d.id for d in DRILLS])
def test_every_drill_passes_its_self_check(index: int, pipeline_settings: Settings) -> None:
    drill = DRILLS[index]
    size, language = COMBOS[index % len(COMBOS)]
    result = self_check(drill, pipeline_settings, size, language)
    assert result.passed, (drill.id, result.problems, result.measured)
    # The encoded MP4 was decoded and the person found in the demonstration.
    assert result.playable and result.detection_rate >= 0.8
    check = CHECKS[result.motion]
    assert check.expects or check.profile is not None, drill.id  # a real form check
    if drill.kind == "reps":
        assert result.reps_rendered is not None, drill.id
    if result.reps_rendered is not None:
        assert result.reps_seen == result.reps_rendered >= 1
    if check.profile is not None:
        # The analysis exercise profile judged it, as it would an upload, with no fault.
        assert result.movement == check.profile.movement and not result.findings
        assert all(value is not None for value in result.measured.values()), result.measured
    for key, value in result.measured.items():
        assert value is not None and np.isfinite(value), (drill.id, key)


def test_every_motion_has_a_declared_self_check() -> None:
    assert set(MOTIONS) <= set(CHECKS)
    # Front-view and floor drills have form checks of their own, not just detection.
    for motion_id in ("side_plank", "clamshell", "side_lying_hip_abduction", "band_side_walk"):
        assert CHECKS[motion_id].expects or CHECKS[motion_id].profile, motion_id
