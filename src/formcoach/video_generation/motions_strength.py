"""Strength and balance drill motions: squats, split and single-leg work, push-ups, band walks.

Same conventions as motions_standing: directions are degrees counter-clockwise from the
image's +x axis, the figure faces right, the right (near) leg is the working leg. Planted
feet are pinned with keyframes.anchor so they never slide between keys.
"""

from __future__ import annotations

import math

from formcoach.video_generation.figure import Pose, build_figure
from formcoach.video_generation.keyframes import Key, Motion, Prop, anchor, arm, balance, hold, leg
from formcoach.video_generation.motions_standing import STAND

ARMS = ("arm_r", "arm_l")
LEGS = ("leg_r", "leg_l")
BAND_AT = 0.8  # a mini band sits just above the knees (drills.yaml: banded_squat)


def _squat_bottom(depth_thigh: float = 358.0, trunk: float = 32.0, shank: float = 240.0) -> Pose:
    # Thighs about parallel, knees over the toes, chest up, arms reaching forward to balance.
    # The trunk leans about as far as the shins (reference.yaml squat: trunk minus tibia
    # within ±15°).
    p = Pose(trunk=trunk, neck=-trunk * 0.5)
    p = leg(leg(p, "r", depth_thigh, shank), "l", depth_thigh, shank)
    p = arm(arm(p, "r", 358.0 - 0.0, 358.0), "l", 358.0, 358.0)
    return anchor(p, "ankle_r", 0.0)


def _squat_top() -> Pose:
    return anchor(STAND, "ankle_r", 0.0)


def squat() -> Motion:
    top, bottom = _squat_top(), _squat_bottom()
    keys = (Key(0.0, top), Key(1.3, bottom), Key(1.6, bottom), Key(2.8, top))
    return Motion("squat", keys, 3.2, rep_times=(2.8,))


def box_squat() -> Motion:
    # Sit back until the buttocks touch a box behind the heels, then stand up.
    top, bottom = _squat_top(), _squat_bottom(depth_thigh=2.0, trunk=32.0, shank=242.0)
    fig = build_figure(bottom)
    seat = min(
        float(layer.polygon[:, 1].min())
        for part in fig.parts
        if part.name == "pelvis"
        for layer in part.layers
    )
    back = float(fig.joints["hip_r"][0])
    box = Prop("step", back - 0.17, back + 0.03, seat)
    keys = (Key(0.0, top), Key(1.4, bottom), Key(1.9, bottom), Key(3.1, top))
    return Motion("box_squat", keys, 3.5, rep_times=(3.1,), props=(box,))


def banded_squat() -> Motion:
    # As the squat, knees pressed out against a mini band (the push is toward the camera).
    motion = squat()
    return Motion("banded_squat", motion.keys, motion.loop, motion.rep_times, band=BAND_AT)


def _split(front_thigh: float, front_shank: float, rear_knee: float, trunk: float) -> Pose:
    """Split stance: left (far) foot flat in front, right (near) foot on its toes behind."""

    def make(rear_thigh: float) -> Pose:
        p = Pose(trunk=trunk, neck=-2.0)
        p = arm(arm(p, "r", 268.0, 300.0), "l", 268.0, 300.0)
        p = leg(p, "l", front_thigh, front_shank)
        return leg(p, "r", rear_thigh, rear_thigh - rear_knee, rear_thigh - rear_knee + 60.0)

    return anchor(balance(make, 180.0, 300.0, ("leg_r",), ("leg_l",)), "ankle_l", 0.25)


def split_squat() -> Motion:
    top = _split(292.0, 266.0, 20.0, 2.0)
    bottom = _split(352.0, 266.0, 88.0, 4.0)
    keys = (Key(0.0, top), Key(1.3, bottom), Key(1.6, bottom), Key(2.8, top))
    return Motion("split_squat", keys, 3.2, rep_times=(2.8,))


def split_squat_knee_forward(shin_deg: float = 30.0) -> Motion:
    """A faulty split squat, not in the drill library (tests/analysis/test_lunge_bridge_clips.py): the
    front knee drives far past the toes, its shin ``shin_deg`` forward of vertical at the
    bottom (reference.yaml lunge: ≤20°); the rest as split_squat's bottom."""
    top = _split(292.0, 266.0, 20.0, 2.0)
    bottom = _split(350.0, 270.0 - shin_deg, 90.0, 4.0)
    keys = (Key(0.0, top), Key(1.3, bottom), Key(1.6, bottom), Key(2.8, top))
    return Motion("split_squat_knee_forward", keys, 3.2, rep_times=(2.8,))


def _single_leg(stance_thigh: float, stance_shank: float, trunk: float, free: float) -> Pose:
    p = Pose(trunk=trunk, neck=-trunk * 0.4)
    p = leg(p, "r", stance_thigh, stance_shank)
    p = leg(p, "l", free, free - 8.0, free + 80.0)  # the free leg reaches forward, nearly straight
    p = arm(arm(p, "r", 340.0, 350.0), "l", 340.0, 350.0)
    return anchor(p, "ankle_r", 0.0)


def single_leg_squat() -> Motion:
    top = _single_leg(270.0, 270.0, 4.0, 320.0)
    bottom = _single_leg(338.0, 250.0, 32.0, 352.0)
    keys = (Key(0.0, top), Key(1.4, bottom), Key(1.7, bottom), Key(3.1, top))
    return Motion("single_leg_squat", keys, 3.5, rep_times=(3.1,))


def single_leg_balance() -> Motion:
    # On the right leg, the left knee lifted to hip height; arms relaxed at the sides.
    p = leg(STAND.with_(trunk=2.0), "l", 350.0, 266.0, 0.0)
    p = leg(p, "r", 272.0, 270.0)
    return hold("single_leg_balance", anchor(p, "ankle_r", 0.0))


def single_leg_calf_raise() -> Motion:
    # The left foot hooked up behind; the right heel rises and lowers slowly.
    base = leg(STAND, "l", 262.0, 200.0, 250.0)
    base = arm(base, "r", 300.0, 330.0)
    down = anchor(base, "ball_r", 0.0)
    up = anchor(base.with_(ankle_r=-34.0, toe_r=34.0), "ball_r", 0.0)
    keys = (Key(0.0, down), Key(1.0, up), Key(1.6, up), Key(2.8, down))
    return Motion("single_leg_calf_raise", keys, 3.2, rep_times=(2.8,))


def butt_kicks() -> Motion:
    # Jogging on the spot, each heel flicked up toward the buttocks under the hip.
    base = Pose(trunk=4.0, neck=-4.0)
    kick = leg(base, "r", 276.0, 120.0, 200.0)
    kick = leg(kick, "l", 268.0, 270.0, 8.0)
    kick = arm(arm(kick, "l", 305.0, 40.0), "r", 245.0, 335.0).with_(lift=0.015)
    mid = leg(leg(base, "r", 272.0, 220.0, 300.0), "l", 270.0, 262.0, 350.0)
    mid = arm(arm(mid, "r", 272.0, 5.0), "l", 272.0, 5.0)
    keys = (Key(0.0, kick), Key(0.16, mid), Key(0.32, kick.mirrored()), Key(0.48, mid.mirrored()))
    return Motion("butt_kicks", keys, 0.64, cyclic=True)


def band_side_walk() -> Motion:
    # Seen from the front in a half squat: the right foot steps out, the left follows.
    def stance(abd_r: float, abd_l: float, knee_r: float, knee_l: float) -> Pose:
        # Seen from the front a forward lean would show as a sideways tilt: the trunk stays
        # upright and the half squat is carried by the hips and knees.
        return Pose(
            yaw=90.0,
            hip_r=40.0 + knee_r * 0.2,
            hip_l=40.0 + knee_l * 0.2,
            knee_r=knee_r,
            knee_l=knee_l,
            ankle_r=20.0,
            ankle_l=20.0,
            hip_abd_r=abd_r,
            hip_abd_l=abd_l,
            shoulder_r=40.0,
            shoulder_l=40.0,
            elbow_r=70.0,
            elbow_l=70.0,
        )

    # A clear step out (the feet from hip width to about 1.7x) so the stepping shows.
    narrow = stance(6.0, 6.0, 50.0, 50.0)
    step = stance(26.0, 6.0, 70.0, 50.0)
    wide = stance(18.0, 18.0, 50.0, 50.0)
    follow = stance(18.0, 4.0, 50.0, 70.0)
    keys = (Key(0.0, narrow), Key(0.45, step), Key(0.9, wide), Key(1.35, follow))
    return Motion("band_side_walk", keys, 1.8, rep_times=(0.9, 1.8), band=BAND_AT)


def _kneel_to_wall(front_shank: float) -> Pose:
    """Half-kneeling, the left (far) foot flat near the wall; the shin tilts toward it."""

    def make(front_thigh: float) -> Pose:
        p = Pose(trunk=4.0, neck=-2.0, elbow_r=60.0, elbow_l=60.0)
        p = arm(arm(p, "r", 330.0, 10.0), "l", 330.0, 10.0)
        p = leg(p, "r", 258.0, 182.0, 178.0)  # rear knee and instep on the floor
        return leg(p, "l", front_thigh, front_shank)

    return anchor(balance(make, -40.0, 40.0, ("leg_l",), ("leg_r",)), "ankle_l", 0.0)


def knee_to_wall_ankle_mobilisation() -> Motion:
    start, drive = _kneel_to_wall(270.0), _kneel_to_wall(238.0)
    knee = build_figure(drive).joints["knee_l"]
    wall = Prop("wall", float(knee[0]) + 0.035, math.inf, math.inf)
    keys = (Key(0.0, start), Key(1.2, drive), Key(1.7, drive), Key(2.9, start))
    return Motion("knee_to_wall_ankle_mobilisation", keys, 3.3, rep_times=(2.9,), props=(wall,))


def _incline(arm_dir: float, forearm_dir: float, bench: float) -> Pose:
    def make(t: float) -> Pose:
        p = Pose(trunk=t, neck=-6.0, wrist_r=90.0, wrist_l=90.0)
        p = arm(arm(p, "r", arm_dir, forearm_dir), "l", arm_dir, forearm_dir)
        line = 270.0 - t  # straight from the shoulders to the heels, on the toes
        return p.with_(ankle_r=15.0, ankle_l=15.0, toe_r=360.0 - (line + 105.0))

    pose = balance(make, 30.0, 80.0, ARMS, LEGS, rise=bench)
    return anchor(pose.with_(toe_l=pose.toe_r), "wrist_r", 0.0)


def incline_push_up() -> Motion:
    bench = 0.26
    top = _incline(270.0, 270.0, bench)
    bottom = _incline(160.0, 262.0, bench)
    wrist = build_figure(top).joints["wrist_r"]
    box = Prop("step", float(wrist[0]) - 0.06, float(wrist[0]) + 0.16, bench)
    keys = (Key(0.0, top), Key(1.2, bottom), Key(1.5, bottom), Key(2.6, top))
    return Motion("incline_push_up", keys, 3.0, rep_times=(2.6,), props=(box,))
