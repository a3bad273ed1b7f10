"""The articulated figure: proportions, floor contact, motions, and MediaPipe finding it."""

from __future__ import annotations

import numpy as np
import pytest

from formcoach.advice_generation.schemas import Drill
from formcoach.advice_generation.service import list_drills
from formcoach.video_generation.figure import HIP_HEIGHT, SHOULDER_HEIGHT, Pose, build_figure
from formcoach.video_generation.keyframes import lowest, min_jerk
from formcoach.video_generation.motions import MOTIONS, get_motion, motion_for
from formcoach.video_generation.render import prepare_clip
from formcoach.video_generation.scene import Box, draw_figure, fit_camera

ALL_PARTS = ("pelvis", "neck", "shirt", "head", "leg_r", "leg_l", "arm_r", "arm_l")


def test_standing_figure_has_adult_proportions() -> None:
    fig = build_figure(Pose())
    x0, y0, x1, y1 = fig.bounds()
    assert y0 == pytest.approx(0.0, abs=1e-9)
    assert y1 == pytest.approx(1.0, abs=0.02)  # body height is the unit
    assert fig.joints["shoulder_r"][1] == pytest.approx(SHOULDER_HEIGHT, abs=0.03)
    assert fig.joints["hip_r"][1] == pytest.approx(HIP_HEIGHT, abs=0.03)
    assert 0.2 < x1 - x0 < 0.4  # a side view: depth of the foot and chest, not the arm span


@pytest.mark.parametrize(
    ("motion_id", "key", "groups"),
    [
        ("plank", 0, [("arm_r", "arm_l"), ("leg_r", "leg_l")]),  # prone: forearms and toes
        ("knee_plank", 0, [("arm_r", "arm_l"), ("leg_r", "leg_l")]),
        # Supine: shoulder blades, buttocks, head and feet; at the top, all but the buttocks.
        ("glute_bridge", 0, [("shirt",), ("pelvis",), ("head",), ("leg_r", "leg_l")]),
        ("glute_bridge", 1, [("shirt",), ("head",), ("leg_r", "leg_l")]),
        ("dead_bug", 0, [("shirt",), ("pelvis",), ("head",)]),
        ("side_plank", 0, [("arm_l",), ("leg_l",)]),  # side-lying: forearm and the lower foot
        ("side_lying_hip_abduction", 0, [("shirt", "pelvis", "leg_l")]),
        ("kneeling_hip_flexor_stretch", 0, [("leg_r",), ("leg_l",)]),  # rear knee, front foot
        ("bird_dog", 0, [("arm_r", "arm_l"), ("leg_r", "leg_l")]),
        ("stand", 0, [("leg_r", "leg_l")]),
    ],
)
def test_contacts_rest_on_the_floor(
    motion_id: str, key: int, groups: list[tuple[str, ...]]
) -> None:
    fig = build_figure(get_motion(motion_id).keys[key].pose)
    assert lowest(fig, ALL_PARTS) == pytest.approx(0.0, abs=1e-9)
    for group in groups:
        # Every intended contact touches the floor (within 2 mm on a 1.75 m body).
        assert lowest(fig, group) == pytest.approx(0.0, abs=1e-3), group


def test_plank_is_a_straight_line_from_shoulders_to_ankles() -> None:
    fig = build_figure(get_motion("plank").keys[0].pose)
    s, h, a = (fig.joints[k] for k in ("shoulder_r", "hip_r", "ankle_r"))
    u, v = s - h, a - h
    angle = np.degrees(np.arccos(u @ v / (np.linalg.norm(u) * np.linalg.norm(v))))
    assert angle == pytest.approx(180.0, abs=2.0)
    assert fig.joints["elbow_r"][0] == pytest.approx(s[0], abs=0.01)  # elbow under shoulder


@pytest.mark.parametrize("posture_pose", [Pose(), get_motion("plank").keys[0].pose])
def test_rendered_figure_touches_the_floor_line(posture_pose: Pose) -> None:
    fig = build_figure(posture_pose)
    camera = fit_camera(fig.bounds(), Box(40, 40, 1240, 680))
    img = np.zeros((720, 1280, 3), dtype=np.uint8)
    draw_figure(img, fig, camera)
    rows = np.nonzero(img.max(axis=(1, 2)) > 40)[0]
    assert abs(rows.max() - camera.floor_y) <= 1.0


def test_minimum_jerk_easing() -> None:
    assert min_jerk(0.0) == 0.0 and min_jerk(1.0) == 1.0
    assert min_jerk(0.5) == pytest.approx(0.5)
    assert min_jerk(0.01) < 0.001  # starts at rest


def test_every_motion_builds_loops_and_stays_on_the_floor() -> None:
    for motion_id in MOTIONS:
        motion = get_motion(motion_id)
        start, end = motion.pose_at(0.0).to_array(), motion.pose_at(motion.loop).to_array()
        assert np.allclose(start, end), motion_id
        for t in np.linspace(0.0, motion.loop, 12):
            fig = build_figure(motion.pose_at(float(t)))
            assert lowest(fig, ALL_PARTS) >= -1e-9, motion_id


def test_every_library_drill_has_a_motion_of_its_own() -> None:
    for drill in list_drills():
        assert drill.motion in MOTIONS, drill.id
        assert motion_for(drill).id == drill.motion


def test_unknown_motion_falls_back_to_the_posture() -> None:
    drill = _drill("mystery", posture="supine", motion="not_in_library")
    assert motion_for(drill).id == "supine"


def _drill(drill_id: str, posture: str = "prone", motion: str = "plank") -> Drill:
    return Drill.model_validate(
        {
            "id": drill_id,
            "name": {"ja": "テスト", "en": "Test"},
            "aliases": {"ja": [], "en": []},
            "purpose": {"ja": "目的", "en": "Purpose"},
            "cues": {"ja": ["合図"], "en": ["Cue"]},
            "dose": {"ja": "3 回", "en": "3 times"},
            "posture": posture,
            "motion": motion,
            "kind": "hold",
        }
    )


@pytest.mark.parametrize("motion_id", ["plank", "stand", "glute_bridge"])
def test_mediapipe_finds_the_figure(motion_id: str) -> None:
    """The figure must pass for a person: it will also make ground-truth clips for the pose model."""
    from mediapipe.python.solutions import pose as mp_pose

    clip = prepare_clip(_drill(motion_id, motion=motion_id), "en", "1280x720", "4")
    frames = list(range(clip.demo_start, clip.demo_end, 15))  # the cards hide the figure
    found = 0
    errors: list[float] = []
    with mp_pose.Pose(static_image_mode=True, model_complexity=1) as estimator:
        for i in frames:
            result = estimator.process(clip.draw(i))
            if result.pose_landmarks is None:
                continue
            found += 1
            marks = result.pose_landmarks.landmark
            truth = clip.camera.to_px(
                np.array([clip.figures[i].joints[k] for k in ("hip_r", "shoulder_r", "knee_r")])
            )
            # MediaPipe's right hip/shoulder/knee are landmarks 24, 12, 26.
            seen = np.array([(marks[j].x * 1280, marks[j].y * 720) for j in (24, 12, 26)])
            errors.append(float(np.linalg.norm(seen - truth, axis=1).mean()))
    assert found / len(frames) >= 0.9
    # Landmarks land on the figure's joints: within 5% of the body height, on average.
    assert np.mean(errors) < 0.05 * clip.camera.scale
