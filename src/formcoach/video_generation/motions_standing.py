"""Standing drill motions: running drills, the wall lean, hops, raises, the step-down.

Directions are degrees counter-clockwise from the image's +x axis; the figure faces right.
Locomotion is shown on the spot (as on a treadmill) so the camera never has to pan.
"""

from __future__ import annotations

import math

from formcoach.video_generation.figure import Pose, build_figure
from formcoach.video_generation.keyframes import (
    Key,
    Motion,
    Prop,
    anchor,
    arm,
    balance,
    hold,
    leg,
    rest_on,
)

STAND = Pose(elbow_r=12.0, elbow_l=12.0, shoulder_r=4.0, shoulder_l=4.0)


def _run_arms(p: Pose, forward: str, back: str) -> Pose:
    return arm(arm(p, forward, 305.0, 40.0), back, 245.0, 335.0)


def high_knees() -> Motion:
    base = Pose(trunk=4.0, neck=-4.0)
    up = leg(base, "r", 2.0, 268.0, 335.0)
    up = leg(up, "l", 268.0, 272.0, 8.0)
    up = _run_arms(up, "l", "r").with_(lift=0.012)
    mid = leg(base, "r", 300.0, 250.0, 330.0)
    mid = leg(mid, "l", 290.0, 262.0, 350.0)
    mid = arm(arm(mid, "r", 275.0, 5.0), "l", 275.0, 5.0)
    keys = (Key(0.0, up), Key(0.15, mid), Key(0.3, up.mirrored()), Key(0.45, mid.mirrored()))
    return Motion("high_knees", keys, 0.6, cyclic=True)


def a_skip() -> Motion:
    base = Pose(trunk=3.0, neck=-4.0)
    drive = leg(base, "r", 8.0, 270.0, 0.0)
    drive = leg(drive, "l", 268.0, 270.0, 12.0)
    drive = _run_arms(drive, "l", "r").with_(lift=0.035)
    strike = leg(base, "r", 272.0, 266.0, 0.0)
    strike = leg(strike, "l", 292.0, 236.0, 330.0)
    strike = arm(arm(strike, "r", 268.0, 350.0), "l", 282.0, 15.0)
    keys = (
        Key(0.0, drive),
        Key(0.25, strike),
        Key(0.5, drive.mirrored()),
        Key(0.75, strike.mirrored()),
    )
    return Motion("a_skip", keys, 1.0, cyclic=True)


def strides() -> Motion:
    base = Pose(trunk=6.0, neck=-5.0)
    contact = leg(leg(base, "r", 292.0, 276.0, 6.0), "l", 252.0, 196.0, 285.0)
    contact = _run_arms(contact, "l", "r")
    stance = leg(leg(base, "r", 274.0, 236.0, 0.0), "l", 292.0, 188.0, 268.0)
    stance = arm(arm(stance, "r", 262.0, 350.0), "l", 285.0, 15.0)
    push = leg(leg(base, "r", 244.0, 222.0, 300.0), "l", 322.0, 262.0, 345.0)
    push = _run_arms(push, "r", "l").with_(lift=0.022)
    step = 0.7 / 6.0
    poses = (contact, stance, push, contact.mirrored(), stance.mirrored(), push.mirrored())
    keys = tuple(Key(i * step, p) for i, p in enumerate(poses))
    return Motion("strides", keys, 0.7, cyclic=True)


def wall_lean() -> Motion:
    # The body leans as one straight line from the ankles; hands on the wall at shoulder height.
    lean = 22.0
    line = 270.0 - lean
    base = Pose(trunk=lean, neck=-lean * 0.3)
    base = arm(arm(base, "r", 8.0, 8.0), "l", 8.0, 8.0)
    base = leg(leg(base, "r", line, line), "l", line, line)
    drive = leg(base, "r", line + 88.0, line, 345.0)
    wall = Prop("wall", build_figure(base).bounds()[2], math.inf, math.inf)
    keys = (Key(0.0, base), Key(0.8, drive), Key(1.6, base), Key(2.4, drive.mirrored()))
    return Motion("wall_lean", keys, 3.2, rep_times=(1.6, 3.2), props=(wall,))


def b_skip() -> Motion:
    # As the A-skip, but the driven leg reaches out straight and paws back under the hips.
    base = Pose(trunk=3.0, neck=-4.0)
    drive = leg(leg(base, "r", 8.0, 270.0, 0.0), "l", 268.0, 270.0, 12.0)
    drive = _run_arms(drive, "l", "r").with_(lift=0.035)
    reach = leg(leg(base, "r", 335.0, 330.0, 40.0), "l", 266.0, 272.0, 8.0)
    reach = arm(arm(reach, "r", 262.0, 345.0), "l", 290.0, 20.0).with_(lift=0.02)
    strike = leg(leg(base, "r", 268.0, 266.0, 0.0), "l", 292.0, 236.0, 330.0)
    strike = arm(arm(strike, "r", 272.0, 0.0), "l", 275.0, 5.0)
    poses = (drive, reach, strike, drive.mirrored(), reach.mirrored(), strike.mirrored())
    keys = tuple(Key(i * 0.2, p) for i, p in enumerate(poses))
    return Motion("b_skip", keys, 1.2, cyclic=True)


def pogo_hops() -> Motion:
    # Stiff ankles, quick contacts: the knees barely bend and the heels stay off the floor.
    ground = STAND.with_(knee_r=10.0, knee_l=10.0, hip_r=6.0, hip_l=6.0, ankle_r=-8.0)
    ground = ground.with_(ankle_l=-8.0, toe_r=8.0, toe_l=8.0, elbow_r=80.0, elbow_l=80.0)
    air = ground.with_(knee_r=3.0, knee_l=3.0, ankle_r=-28.0, ankle_l=-28.0, toe_r=0.0, toe_l=0.0)
    keys = (Key(0.0, ground), Key(0.22, air.with_(lift=0.05)))
    return Motion("pogo_hops", keys, 0.44, rep_times=(0.44,))


def calf_raise() -> Motion:
    # Rising onto the balls of the feet: the ankle points, the toes stay flat on the floor.
    up = STAND.with_(ankle_r=-32.0, ankle_l=-32.0, toe_r=32.0, toe_l=32.0)
    keys = (Key(0.0, STAND), Key(1.0, up), Key(1.6, up), Key(2.6, STAND))
    return Motion("calf_raise", keys, 3.0, rep_times=(2.6,))


def step_down() -> Motion:
    # Standing on a step on the near (right) leg, the left heel lowers to tap the floor in front.
    step = 0.09
    top = leg(leg(Pose(trunk=4.0), "r", 268.0, 272.0), "l", 296.0, 292.0, 15.0)
    top = arm(arm(top, "r", 290.0, 330.0), "l", 290.0, 330.0)
    top = rest_on(anchor(top, "ankle_r", 0.0), ("leg_r",), step)

    def lowered(free_thigh: float) -> Pose:
        p = leg(Pose(trunk=25.0, neck=-8.0), "r", 335.0, 240.0)
        p = leg(p, "l", free_thigh, free_thigh - 4.0, 15.0)
        p = arm(arm(p, "r", 320.0, 10.0), "l", 320.0, 10.0)
        return anchor(p, "ankle_r", 0.0)

    bottom = balance(lowered, 290.0, 320.0, ("leg_r",), ("leg_l",), rise=step)
    box = build_figure(top).joints
    prop = Prop("step", float(box["heel_r"][0]) - 0.16, float(box["toe_r"][0]) + 0.005, step)
    keys = (Key(0.0, top), Key(1.4, bottom), Key(1.8, bottom), Key(3.0, top))
    return Motion("step_down", keys, 3.4, rep_times=(3.0,), props=(prop,))


def arm_swing() -> Motion:
    # Elbows near 90°, hands swinging from the hip to chest height, shoulders relaxed.
    swing = arm(arm(STAND, "r", 305.0, 40.0), "l", 240.0, 330.0)
    keys = (Key(0.0, swing), Key(0.35, swing.mirrored()))
    return Motion("arm_swing", keys, 0.7)


def stand() -> Motion:
    return hold("stand", STAND)
