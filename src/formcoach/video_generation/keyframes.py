"""Keyframed motions: poses at times within a loop, eased between, plus pose-design helpers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Literal, ParamSpec, TypeVar

from formcoach.video_generation.figure import Body, Figure, Pose, Vec, build_figure, current_body

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Key:
    t: float  # seconds from the start of the loop
    pose: Pose


@dataclass(frozen=True)
class Prop:
    """Something in the set the figure touches: a wall the hands rest on, a step to stand on.

    World units; ``x1``/``top`` may be math.inf (the wall runs out of the frame).
    """

    kind: Literal["wall", "step"]
    x0: float
    x1: float
    top: float


@dataclass(frozen=True)
class Motion:
    """One loop of a drill's movement, repeated for the length of the video.

    ``rep_times`` are the moments within the loop at which a repetition is complete (the rep
    counter steps there). Locomotion (``cyclic``) eases through the keys with a periodic
    Catmull-Rom spline so the figure never stops mid-stride; everything else uses
    minimum-jerk easing, which starts and ends each movement at rest like a person does.
    """

    id: str
    keys: tuple[Key, ...]
    loop: float
    rep_times: tuple[float, ...] = ()
    cyclic: bool = False
    props: tuple[Prop, ...] = ()
    # A mini band around the thighs, this fraction of the way from the hips to the knees.
    band: float | None = None

    def __post_init__(self) -> None:
        times = [k.t for k in self.keys]
        if not self.keys or times[0] != 0.0 or times != sorted(times) or times[-1] >= self.loop:
            raise ValueError(f"motion {self.id}: keys must start at 0 and stay inside the loop")

    def pose_at(self, t: float) -> Pose:
        if len(self.keys) == 1:
            return self.keys[0].pose
        phase = t % self.loop
        times = [k.t for k in self.keys] + [self.loop]
        i = max(j for j in range(len(self.keys)) if times[j] <= phase)
        u = (phase - times[i]) / (times[i + 1] - times[i])
        n = len(self.keys)
        if self.cyclic:
            p0, p1, p2, p3 = (self.keys[(i + d) % n].pose.to_array() for d in (-1, 0, 1, 2))
            return Pose.from_array(catmull_rom(p0, p1, p2, p3, u))
        a = self.keys[i].pose.to_array()
        b = self.keys[(i + 1) % n].pose.to_array()
        return Pose.from_array(a + (b - a) * min_jerk(u))

    def reps_done(self, t: float) -> int:
        loops, phase = divmod(t, self.loop)
        return int(loops) * len(self.rep_times) + sum(1 for r in self.rep_times if r <= phase)


def per_body(func: Callable[P, R]) -> Callable[P, R]:
    """Cache a pose-design function per figure body (its solved contacts depend on the body)."""
    memo: dict[tuple[Body, tuple[object, ...], tuple[tuple[str, object], ...]], R] = {}

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        key = (current_body(), tuple(args), tuple(sorted(kwargs.items())))
        if key not in memo:
            memo[key] = func(*args, **kwargs)
        return memo[key]

    return wrapper


def min_jerk(u: float) -> float:
    """Position along a minimum-jerk move (Flash & Hogan 1985): zero velocity and acceleration
    at both ends."""
    u = min(max(u, 0.0), 1.0)
    return u * u * u * (10.0 - 15.0 * u + 6.0 * u * u)


def catmull_rom(p0: Vec, p1: Vec, p2: Vec, p3: Vec, u: float) -> Vec:
    """Point at ``u`` between p1 and p2 on the spline through p0..p3 (continuous velocity)."""
    u2, u3 = u * u, u * u * u
    point: Vec = 0.5 * (
        2.0 * p1
        + (p2 - p0) * u
        + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * u2
        + (3.0 * p1 - p0 - 3.0 * p2 + p3) * u3
    )
    return point


def hold(motion_id: str, pose: Pose, props: tuple[Prop, ...] = ()) -> Motion:
    """A held position that breathes: 2 s in, 2 s out, with the head following slightly."""
    inhale = pose.with_(breath=1.0, neck=pose.neck - 1.5)
    return Motion(motion_id, (Key(0.0, pose), Key(2.0, inhale)), 4.0, props=props)


# --- designing poses from absolute segment directions (side view, degrees counter-clockwise
# from the image's +x axis). These mirror the joint conventions in figure.py.


def trunk_dir(trunk: float) -> float:
    return 90.0 - trunk


def hip_for(trunk: float, thigh_dir: float) -> float:
    return _wrap(thigh_dir - 270.0 + trunk)


def knee_for(thigh_dir: float, shank_dir: float) -> float:
    return _wrap(thigh_dir - shank_dir)


def ankle_for(shank_dir: float, foot_dir: float) -> float:
    return _wrap(foot_dir - shank_dir - 90.0)


def shoulder_for(trunk: float, arm_dir: float) -> float:
    return _wrap(arm_dir - 270.0 + trunk)


def elbow_for(arm_dir: float, forearm_dir: float) -> float:
    return _wrap(forearm_dir - arm_dir)


def leg(
    pose: Pose, side: str, thigh_dir: float, shank_dir: float, foot_dir: float | None = None
) -> Pose:
    """Set one leg by where its thigh and shank point; the sole is flat unless told otherwise."""
    foot = 0.0 if foot_dir is None else foot_dir
    return pose.with_(
        **{
            f"hip_{side}": hip_for(pose.trunk, thigh_dir),
            f"knee_{side}": knee_for(thigh_dir, shank_dir),
            f"ankle_{side}": ankle_for(shank_dir, foot),
        }
    )


def arm(pose: Pose, side: str, arm_dir: float, forearm_dir: float) -> Pose:
    return pose.with_(
        **{
            f"shoulder_{side}": shoulder_for(pose.trunk, arm_dir),
            f"elbow_{side}": elbow_for(arm_dir, forearm_dir),
        }
    )


def _wrap(deg: float) -> float:
    """Into (-180, 180], so interpolation between keys takes the short way round."""
    return -((-deg + 180.0) % 360.0 - 180.0)


def lowest(figure: Figure, names: Sequence[str]) -> float:
    return min(
        float(layer.polygon[:, 1].min())
        for part in figure.parts
        if part.name in names
        for layer in part.layers
    )


def balance(
    make: Callable[[float], Pose],
    lo: float,
    hi: float,
    group_a: Sequence[str],
    group_b: Sequence[str],
    rise: float = 0.0,
) -> Pose:
    """The pose, over one free parameter, in which both groups of parts touch the floor.

    A plank rests on forearms and toes, a bridge on shoulders and feet: resting the lowest
    point on the floor only guarantees one contact, so the other is found by bisection.
    With ``rise``, group_a rests that much higher than group_b (a foot on a step).
    """

    def gap(v: float) -> float:
        fig = build_figure(make(v))
        return lowest(fig, group_a) - lowest(fig, group_b) - rise

    g_lo, g_hi = gap(lo), gap(hi)
    if g_lo * g_hi > 0:
        raise ValueError("balance: the parameter range does not bracket a two-point contact")
    for _ in range(30):  # 30 halvings: far below a pixel
        mid = 0.5 * (lo + hi)
        g_mid = gap(mid)
        if math.copysign(1.0, g_mid) == math.copysign(1.0, g_lo):
            lo, g_lo = mid, g_mid
        else:
            hi = mid
    return make(0.5 * (lo + hi))


def rest_on(pose: Pose, group: Sequence[str], height: float) -> Pose:
    """The pose lifted so that ``group`` rests at ``height`` (e.g. a foot on a step)."""
    fig = build_figure(pose.with_(lift=0.0))
    above = lowest(fig, group) - lowest(fig, [p.name for p in fig.parts])
    if above > height + 1e-9:
        raise ValueError("rest_on: another part would sink below the floor")
    return pose.with_(lift=height - above)


def anchor(pose: Pose, joint: str, x: float) -> Pose:
    """The pose moved sideways so that ``joint`` is at world x (a planted foot stays put)."""
    fig = build_figure(pose.with_(x=0.0))
    return pose.with_(x=x - float(fig.joints[joint][0]))
