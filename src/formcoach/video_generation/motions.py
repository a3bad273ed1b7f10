"""The drill-motion library: motion id -> keyframed motion, and a fallback for each posture."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from formcoach.advice_generation.schemas import Drill
from formcoach.video_generation import motions_floor as floor
from formcoach.video_generation import motions_standing as standing
from formcoach.video_generation import motions_strength as strength
from formcoach.video_generation.figure import Body, current_body, using_body
from formcoach.video_generation.keyframes import Motion

MOTIONS: dict[str, Callable[[], Motion]] = {
    "plank": floor.plank,
    "knee_plank": floor.knee_plank,
    "side_plank": floor.side_plank,
    "glute_bridge": floor.glute_bridge,
    "single_leg_bridge": floor.single_leg_bridge,
    "dead_bug": floor.dead_bug,
    "kneeling_hip_flexor_stretch": floor.kneeling_hip_flexor_stretch,
    "side_lying_hip_abduction": floor.side_lying_hip_abduction,
    "clamshell": floor.clamshell,
    "bird_dog": floor.bird_dog,
    "supine": floor.supine,
    "half_kneel": floor.half_kneel,
    "high_knees": standing.high_knees,
    "a_skip": standing.a_skip,
    "b_skip": standing.b_skip,
    "strides": standing.strides,
    "wall_lean": standing.wall_lean,
    "pogo_hops": standing.pogo_hops,
    "calf_raise": standing.calf_raise,
    "step_down": standing.step_down,
    "arm_swing": standing.arm_swing,
    "stand": standing.stand,
    "squat": strength.squat,
    "box_squat": strength.box_squat,
    "banded_squat": strength.banded_squat,
    "split_squat": strength.split_squat,
    "single_leg_squat": strength.single_leg_squat,
    "single_leg_balance": strength.single_leg_balance,
    "single_leg_calf_raise": strength.single_leg_calf_raise,
    "butt_kicks": strength.butt_kicks,
    "band_side_walk": strength.band_side_walk,
    "knee_to_wall_ankle_mobilisation": strength.knee_to_wall_ankle_mobilisation,
    "incline_push_up": strength.incline_push_up,
}

# What to show for a drill whose motion is not in the library: its starting position, alive.
POSTURE_MOTIONS: dict[str, str] = {
    "standing": "stand",
    "kneeling": "half_kneel",
    "prone": "plank",
    "supine": "supine",
    "side_lying": "side_lying_hip_abduction",
    "quadruped": "bird_dog",
}


@lru_cache(maxsize=256)
def _built(motion_id: str, body: Body) -> Motion:
    with using_body(body):
        return MOTIONS[motion_id]()


def get_motion(motion_id: str, body: Body | None = None) -> Motion:
    """The motion by id (KeyError if unknown) for ``body`` (default: the current figure's).

    Built once per body, since contacts are solved: a longer shank changes where a plank's
    toes meet the floor.
    """
    return _built(motion_id, current_body() if body is None else body)


def motion_for(drill: Drill, body: Body | None = None) -> Motion:
    """The drill's own motion, else the one named like the drill, else its posture's."""
    for candidate in (drill.motion, drill.id):
        if candidate in MOTIONS:
            return get_motion(candidate, body)
    return get_motion(POSTURE_MOTIONS[drill.posture], body)
