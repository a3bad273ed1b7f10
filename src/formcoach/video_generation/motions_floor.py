"""Drill motions on the floor: prone, supine, side-lying, kneeling and on hands and knees.

Poses are designed from where segments point (keyframes.leg/arm) because that is how a coach
describes a position ("upper arm under the shoulder", "shins vertical"); two-point contacts
(forearms and toes, shoulders and feet) are solved with keyframes.balance. Directions are
degrees counter-clockwise from the image's +x axis; the figure faces right.
"""

from __future__ import annotations

from formcoach.video_generation.figure import Pose
from formcoach.video_generation.keyframes import Key, Motion, arm, balance, hold, leg, per_body

ARMS = ("arm_r", "arm_l")
LEGS = ("leg_r", "leg_l")


def _plank_pose() -> Pose:
    def make(t: float) -> Pose:
        p = Pose(trunk=t, neck=-8.0)
        # Upper arms vertical under the shoulders, forearms flat and pointing ahead.
        p = arm(arm(p, "r", 270.0, 0.0), "l", 270.0, 0.0)
        shank = 270.0 - t  # body straight from shoulders to ankles
        foot = shank + 90.0 + 15.0
        return p.with_(ankle_r=15.0, ankle_l=15.0, toe_r=360.0 - foot, toe_l=360.0 - foot)

    return balance(make, 60.0, 89.0, ARMS, LEGS)


def plank() -> Motion:
    return hold("plank", _plank_pose())


def side_plank() -> Motion:
    # Seen from the front, resting on the left forearm; the top arm reaches to the ceiling.
    def make(t: float) -> Pose:
        return Pose(
            trunk=t,
            yaw=90.0,
            shoulder_abd_l=t,  # upper arm vertical under the shoulder
            elbow_l=90.0,  # forearm on the floor, pointing at the camera
            shoulder_abd_r=180.0 - t,
            elbow_r=5.0,
            hip_abd_r=2.0,
        )

    return hold("side_plank", balance(make, 50.0, 88.0, ("arm_l",), ("leg_l",)))


def knee_plank() -> Motion:
    def make(t: float) -> Pose:
        p = Pose(trunk=t, neck=-8.0)
        p = arm(arm(p, "r", 270.0, 0.0), "l", 270.0, 0.0)
        thigh = 270.0 - t  # one straight line from the shoulders to the knees
        return leg(leg(p, "r", thigh, 150.0, 150.0), "l", thigh, 150.0, 150.0)

    return hold("knee_plank", balance(make, 45.0, 89.0, ARMS, LEGS))


@per_body
def _lying() -> tuple[float, float]:
    """Trunk and neck angles of a body on its back: shoulder blades, buttocks and the back of
    the head all on the floor, the small of the back arched off it."""
    legs_up = Pose(hip_r=90.0, hip_l=90.0, knee_r=90.0, knee_l=90.0, shoulder_r=90.0)
    legs_up = legs_up.with_(shoulder_l=90.0)
    trunk = balance(lambda t: legs_up.with_(trunk=t), -100.0, -80.0, ("shirt",), ("pelvis",)).trunk
    flat = legs_up.with_(trunk=trunk)
    neck = balance(lambda n: flat.with_(neck=n), -40.0, 40.0, ("head",), ("shirt",)).neck
    return trunk, neck


def _arms_down(p: Pose, rest_on: tuple[str, ...]) -> Pose:
    """Arms long beside the body, sloping just enough for the hands to rest on the floor."""

    def make(slope: float) -> Pose:
        return arm(arm(p, "r", slope, slope), "l", slope, slope)

    return balance(make, 330.0, 360.0, ARMS, rest_on)


@per_body
def _supine() -> Pose:
    trunk, neck = _lying()
    return _arms_down(Pose(trunk=trunk, neck=neck), ("pelvis",))


def _head_down(pose: Pose) -> Pose:
    """The head tilted until it rests on the floor beside the shoulders."""
    return balance(lambda n: pose.with_(neck=n), -70.0, 30.0, ("head",), ("shirt",))


def _bridge_up(free_leg: bool = False) -> Pose:
    def make(drop: float) -> Pose:
        p = _supine().with_(trunk=-90.0 - drop)
        thigh = drop + 4.0  # shoulders, hips and knees in one line
        p = leg(p, "r", thigh, thigh - 96.0)
        if free_leg:
            return leg(p, "l", thigh, thigh, thigh + 90.0)
        return leg(p, "l", thigh, thigh - 96.0)

    feet = ("leg_r",) if free_leg else LEGS
    # Arms and head do not bear on the shoulders-feet balance: they are laid down after it.
    up = balance(make, 0.0, 45.0, ("shirt",), feet)
    return _head_down(_arms_down(up, ("shirt",)))


def _bridge_down(free_leg: bool = False) -> Pose:
    def make(thigh: float) -> Pose:
        p = leg(_supine(), "r", thigh, 290.0)
        if free_leg:
            return leg(p, "l", 60.0, 60.0, 150.0)
        return leg(p, "l", thigh, 290.0)

    return balance(make, 20.0, 80.0, ("pelvis",), ("leg_r",) if free_leg else LEGS)


def glute_bridge() -> Motion:
    down, up = _bridge_down(), _bridge_up()
    keys = (Key(0.0, down), Key(1.2, up), Key(2.2, up.with_(breath=0.6)), Key(3.4, down))
    return Motion("glute_bridge", keys, 4.0, rep_times=(3.4,))


def single_leg_bridge() -> Motion:
    down, up = _bridge_down(free_leg=True), _bridge_up(free_leg=True)
    keys = (Key(0.0, down), Key(1.2, up), Key(2.2, up.with_(breath=0.6)), Key(3.4, down))
    return Motion("single_leg_bridge", keys, 4.0, rep_times=(3.4,))


def dead_bug() -> Motion:
    start = arm(arm(_supine(), "r", 90.0, 90.0), "l", 90.0, 90.0)
    start = leg(leg(start, "r", 90.0, 0.0, 90.0), "l", 90.0, 0.0, 90.0)
    # Opposite arm and leg lengthen toward the floor without touching it.
    reach = arm(leg(start, "l", 12.0, 10.0, 95.0), "r", 172.0, 172.0)
    keys = (Key(0.0, start), Key(1.0, reach), Key(2.0, start), Key(3.0, reach.mirrored()))
    return Motion("dead_bug", keys, 4.0, rep_times=(2.0, 4.0))


def _half_kneel(rear_thigh: float, trunk: float = 0.0) -> Pose:
    def make(front_thigh: float) -> Pose:
        p = Pose(trunk=trunk, neck=-2.0, elbow_r=10.0, elbow_l=10.0)
        p = leg(p, "r", rear_thigh, 182.0, 178.0)  # rear knee and instep on the floor
        return leg(p, "l", front_thigh, 272.0)  # front shin vertical, foot flat

    return balance(make, -40.0, 40.0, ("leg_l",), ("leg_r",))


def kneeling_hip_flexor_stretch() -> Motion:
    start = _half_kneel(252.0)
    stretch = arm(_half_kneel(232.0, trunk=-4.0), "r", 95.0, 100.0)
    keys = (Key(0.0, start), Key(1.5, stretch), Key(5.5, stretch.with_(breath=1.0)))
    return Motion("kneeling_hip_flexor_stretch", keys, 7.0)


@per_body
def _side_lying(knees: float = 0.0) -> Pose:
    """Lying on the left side, seen from the front, the left arm stretched under the head.

    The trunk tilts until the hip and shoulder both rest on the floor, then the lower arm
    swings until it lies flat too.
    """
    base = Pose(
        yaw=90.0,
        shoulder_abd_l=90.0,
        shoulder_abd_r=8.0,
        elbow_r=10.0,
        hip_r=knees / 2.0,
        hip_l=knees / 2.0,
        knee_r=knees,
        knee_l=knees,
    )
    body = balance(lambda t: base.with_(trunk=t), 75.0, 105.0, ("leg_l",), ("shirt",))
    return balance(
        lambda a: body.with_(shoulder_abd_l=a), 150.0, 200.0, ("arm_l",), ("shirt",)
    ).with_(elbow_l=20.0)


def side_lying_hip_abduction() -> Motion:
    rest = _side_lying()
    lift = rest.with_(hip_abd_r=35.0)
    keys = (Key(0.0, rest), Key(1.2, lift), Key(2.0, lift), Key(3.2, rest))
    return Motion("side_lying_hip_abduction", keys, 3.6, rep_times=(3.2,))


def clamshell() -> Motion:
    rest = _side_lying(knees=90.0)
    opened = rest.with_(hip_abd_r=38.0)
    keys = (Key(0.0, rest), Key(1.0, opened), Key(1.8, opened), Key(2.8, rest))
    return Motion("clamshell", keys, 3.2, rep_times=(2.8,))


def _quadruped() -> Pose:
    def make(t: float) -> Pose:
        p = Pose(trunk=t, neck=-10.0, wrist_r=90.0, wrist_l=90.0)  # palms flat
        p = arm(arm(p, "r", 270.0, 270.0), "l", 270.0, 270.0)
        return leg(leg(p, "r", 270.0, 182.0, 180.0), "l", 270.0, 182.0, 180.0)

    # Wide enough for arms longer or shorter than the legs (a user's proportions).
    return balance(make, 50.0, 130.0, ARMS, LEGS)


def bird_dog() -> Motion:
    start = _quadruped()
    reach = arm(leg(start, "l", 184.0, 184.0, 270.0), "r", 4.0, 4.0).with_(wrist_r=0.0)
    keys = (Key(0.0, start), Key(1.2, reach), Key(2.4, start), Key(3.6, reach.mirrored()))
    return Motion("bird_dog", keys, 4.8, rep_times=(2.4, 4.8))


def supine() -> Motion:
    return hold("supine", _bridge_down())


def half_kneel() -> Motion:
    return hold("half_kneel", _half_kneel(252.0))
