"""An articulated human figure: a pose of joint angles -> joint positions and body-part outlines.

The pose is a sagittal-plane description (trunk, head and limb flexion angles plus a root
position); a small yaw and abduction extension lets side-lying drills be seen from the front.
Kinematics are done in 3D and projected orthographically onto the image plane, so the same
angles drive a side view and a front view, and depth tells which limbs are behind the body.

World units are body heights (H = 1). World axes: x to the image right, y up, z toward the
camera. Segment lengths and joint heights follow Winter's anthropometric table (Winter,
Biomechanics and Motor Control of Human Movement, 4th ed., fig. 4.1, as fractions of H).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields, replace
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from formcoach.video_generation.palette import (
    EYE,
    HAIR,
    LEGWEAR,
    LIPS,
    SHIRT,
    SHOE,
    SKIN,
    Colour,
    darker,
    shade,
)

Vec = NDArray[np.float64]
Polygon = NDArray[np.float64]  # (n, 2) world x, y

# Winter's segment lengths and heights (fractions of body height).
HIP_HEIGHT = 0.530
SHOULDER_HEIGHT = 0.818
CHIN_HEIGHT = 0.870
TRUNK = SHOULDER_HEIGHT - HIP_HEIGHT  # hip joint centre -> shoulder joint centre
UPPER_ARM = 0.186
FOREARM = 0.146
HAND = 0.085  # wrist -> knuckles of a loosely closed hand (full hand 0.108)
THIGH = 0.245
SHANK = 0.246
ANKLE_HEIGHT = 0.039
NECK = CHIN_HEIGHT - SHOULDER_HEIGHT
HEAD_LENGTH = 0.112  # front to back; chin to vertex is 0.130
HEAD_HEIGHT = 0.130
# Joint centres sit inside the skin, so half-breadths are a little under Winter's widths.
HIP_HALF = 0.050
SHOULDER_HALF = 0.105

# Trunk cross-section along the hip->shoulder axis: (s, front, back, half-width), where s is the
# fraction of TRUNK above the hip joint and the other values are in body heights. Hand-fitted to
# an adult silhouette: buttocks, waist, rib cage, shoulder, base of the neck.
_TORSO_PROFILE = np.array(
    [
        (-0.24, 0.030, 0.055, 0.085),
        (-0.12, 0.050, 0.082, 0.100),
        (0.00, 0.058, 0.088, 0.104),
        (0.15, 0.060, 0.072, 0.100),
        (0.35, 0.057, 0.052, 0.088),
        (0.55, 0.070, 0.055, 0.095),
        (0.72, 0.083, 0.060, 0.104),
        (0.90, 0.074, 0.062, 0.118),
        (1.00, 0.058, 0.058, 0.126),
        (1.08, 0.036, 0.045, 0.095),
        (1.14, 0.022, 0.032, 0.045),
    ]
)
_SHIRT_HEM = 0.10  # s where the shirt ends and the shorts/tights begin
_CHEST = (0.45, 1.0)  # s range that expands with breathing

# (fraction along the segment, radius in body heights): tapering limbs with muscle bellies.
_UPPER_ARM_R = ((0.0, 0.040), (0.35, 0.037), (1.0, 0.029))
_FOREARM_R = ((0.0, 0.029), (0.3, 0.030), (1.0, 0.020))
_HAND_R = ((0.0, 0.021), (0.6, 0.025), (1.0, 0.020))
_THIGH_R = ((0.0, 0.066), (0.45, 0.055), (1.0, 0.040))
THIGH_RADII = _THIGH_R  # the band (band.py) wraps the thigh
_SHANK_R = ((0.0, 0.038), (0.3, 0.043), (1.0, 0.023))
_SLEEVE = 0.55
_FINE = (
    (0.0, 0.0022),
    (1.0, 0.0022),
)  # brows and lips  # fraction of the upper arm covered by the T-shirt sleeve

SIDES = ("r", "l")


@dataclass(frozen=True)
class Body:
    """Segment lengths in body heights: Winter's by default, or a user's measured proportions.

    Only the lengths change; girths, head and hands keep the standard figure's shape.
    """

    trunk: float = TRUNK
    thigh: float = THIGH
    shank: float = SHANK
    upper_arm: float = UPPER_ARM
    forearm: float = FOREARM


STANDARD_BODY = Body()
# The body that build_figure draws. A context variable rather than a parameter, so that the
# motions (whose floor contacts are solved with build_figure) are solved for the same body.
_BODY: ContextVar[Body] = ContextVar("formcoach_figure_body", default=STANDARD_BODY)


def current_body() -> Body:
    return _BODY.get()


@contextmanager
def using_body(body: Body) -> Iterator[None]:
    """Figures built inside the block have ``body``'s proportions."""
    token = _BODY.set(body)
    try:
        yield
    finally:
        _BODY.reset(token)


@dataclass(frozen=True)
class Pose:
    """Joint angles in degrees, plus where the root (the mid-point of the hip joints) is.

    Flexion angles are 0 in anatomical standing and positive as the joint bends: hip and
    shoulder flexion swing the limb forward, knee flexion swings the shank back, elbow flexion
    brings the hand forward, ankle dorsiflexion lifts the toes, toe extension bends the toes up.
    """

    trunk: float = 0.0  # lean from vertical toward the facing direction (90 = prone, -90 = supine)
    yaw: float = 0.0  # 0: side view facing image right (right side nearest); 90: facing the camera
    neck: float = 0.0  # head flexion relative to the trunk (+ = chin toward the chest)
    hip_r: float = 0.0
    hip_l: float = 0.0
    hip_abd_r: float = 0.0
    hip_abd_l: float = 0.0
    knee_r: float = 0.0
    knee_l: float = 0.0
    ankle_r: float = 0.0
    ankle_l: float = 0.0
    toe_r: float = 0.0
    toe_l: float = 0.0
    shoulder_r: float = 0.0
    shoulder_l: float = 0.0
    shoulder_abd_r: float = 0.0
    shoulder_abd_l: float = 0.0
    elbow_r: float = 0.0
    elbow_l: float = 0.0
    wrist_r: float = 0.0  # hand bend, + toward the palm side of the anatomical position
    wrist_l: float = 0.0
    breath: float = 0.0  # 0..1, chest expansion
    x: float = 0.0  # horizontal root offset
    lift: float = 0.0  # height of the lowest point above the floor (flight phases)

    def with_(self, **changes: float) -> Pose:
        return replace(self, **changes)

    def to_array(self) -> Vec:
        return np.array([getattr(self, f.name) for f in fields(self)], dtype=np.float64)

    @classmethod
    def from_array(cls, values: Vec) -> Pose:
        return cls(**{f.name: float(v) for f, v in zip(fields(cls), values, strict=True)})

    def mirrored(self) -> Pose:
        """The same pose with left and right limbs swapped (for alternating reps)."""
        swapped: dict[str, Any] = {}
        for f in fields(self):
            name = f.name
            if name.endswith("_r"):
                swapped[name] = getattr(self, name[:-2] + "_l")
            elif name.endswith("_l"):
                swapped[name] = getattr(self, name[:-2] + "_r")
        return replace(self, **swapped)


@dataclass(frozen=True)
class Layer:
    polygon: Polygon
    colour: Colour


@dataclass(frozen=True)
class Part:
    name: str
    depth: float  # larger = nearer the camera; parts are painted far to near
    layers: tuple[Layer, ...]


@dataclass(frozen=True)
class Figure:
    parts: tuple[Part, ...]  # in paint order
    joints: dict[str, Vec]  # world (x, y) of named joints, after resting on the floor

    def bounds(self) -> tuple[float, float, float, float]:
        pts = np.concatenate([layer.polygon for part in self.parts for layer in part.layers])
        return (
            float(pts[:, 0].min()),
            float(pts[:, 1].min()),
            float(pts[:, 0].max()),
            float(pts[:, 1].max()),
        )


def _rx(deg: float) -> NDArray[np.float64]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _ry(deg: float) -> NDArray[np.float64]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rz(deg: float) -> NDArray[np.float64]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


_DOWN = np.array([0.0, -1.0, 0.0])
_UP = np.array([0.0, 1.0, 0.0])
_FORWARD = np.array([1.0, 0.0, 0.0])


@dataclass
class _Skeleton:
    joints: dict[str, Vec]  # 3D
    frames: dict[str, NDArray[np.float64]]  # segment orientation (columns: anterior, up, right)


def _skeleton(pose: Pose) -> _Skeleton:
    # Rotations compose parent-first; each joint abducts in the parent frame, then flexes about
    # the abducted segment's own lateral axis (so a 90° abducted arm still flexes at the elbow
    # in the plane the forearm and upper arm share).
    body = _BODY.get()
    root = _rz(-pose.trunk) @ _ry(-pose.yaw)
    joints: dict[str, Vec] = {"root": np.zeros(3)}
    frames: dict[str, NDArray[np.float64]] = {"trunk": root}
    joints["neck_base"] = root @ np.array([0.0, body.trunk, 0.0])
    head = root @ _rz(-pose.neck)
    frames["head"] = head
    joints["head_base"] = joints["neck_base"] + head @ np.array([0.005, NECK, 0.0])
    joints["head"] = joints["head_base"] + head @ np.array([0.014, 0.062, 0.0])
    for side, sign in (("r", 1.0), ("l", -1.0)):
        p = pose
        hip = root @ np.array([0.0, 0.0, sign * HIP_HALF])
        thigh = root @ _rx(-sign * getattr(p, f"hip_abd_{side}")) @ _rz(getattr(p, f"hip_{side}"))
        knee = hip + thigh @ (_DOWN * body.thigh)
        shank = thigh @ _rz(-getattr(p, f"knee_{side}"))
        ankle = knee + shank @ (_DOWN * body.shank)
        foot = shank @ _rz(getattr(p, f"ankle_{side}"))
        ball = ankle + foot @ np.array([0.076, -0.026, 0.0])
        toes = foot @ _rz(getattr(p, f"toe_{side}"))
        # Raising an arm above shoulder height also turns the shoulder blade, which carries
        # the joint up and in; without it an overhead arm would stick out of the torso.
        lift = min(max((getattr(p, f"shoulder_abd_{side}") - 90.0) / 90.0, 0.0), 1.0)
        shoulder = root @ np.array(
            [0.0, body.trunk + 0.02 * lift, sign * (SHOULDER_HALF - 0.04 * lift)]
        )
        arm = (
            root
            @ _rx(-sign * getattr(p, f"shoulder_abd_{side}"))
            @ _rz(getattr(p, f"shoulder_{side}"))
        )
        elbow = shoulder + arm @ (_DOWN * body.upper_arm)
        fore = arm @ _rz(getattr(p, f"elbow_{side}"))
        wrist = elbow + fore @ (_DOWN * body.forearm)
        joints.update(
            {
                f"hip_{side}": hip,
                f"knee_{side}": knee,
                f"ankle_{side}": ankle,
                f"heel_{side}": ankle + foot @ np.array([-0.040, -0.022, 0.0]),
                f"ball_{side}": ball,
                f"toe_{side}": ball + toes @ np.array([0.040, -0.002, 0.0]),
                f"shoulder_{side}": shoulder,
                f"elbow_{side}": elbow,
                f"wrist_{side}": wrist,
                f"hand_{side}": wrist + fore @ _rz(getattr(p, f"wrist_{side}")) @ (_DOWN * HAND),
            }
        )
        frames.update({f"foot_{side}": foot, f"toes_{side}": toes, f"forearm_{side}": fore})
    return _Skeleton(joints, frames)


_CAP = np.linspace(0.0, math.pi, 9)[1:-1]
_CAP_COS = np.cos(_CAP)[:, None]
_CAP_SIN = np.sin(_CAP)[:, None]


@cache
def _profile(radii: tuple[tuple[float, float], ...]) -> tuple[Vec, Vec]:
    return np.array([t for t, _ in radii]), np.array([r for _, r in radii])


@cache
def _circle(n: int) -> tuple[Vec, Vec]:
    t = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    return np.cos(t)[:, None], np.sin(t)[:, None]


def _capsule(a: Vec, b: Vec, radii: tuple[tuple[float, float], ...]) -> Polygon:
    """Outline of a tapered limb from a to b (2D) with round ends: sides plus two half-discs."""
    d = b - a
    length = math.hypot(d[0], d[1])
    # A limb pointing at the camera projects to a point: any direction gives the right disc.
    u = d / length if length > 1e-9 else np.array([0.0, 1.0])
    n = np.array([-u[1], u[0]])
    ts, rs = _profile(radii)
    centres = a + ts[:, None] * d
    offsets = rs[:, None] * n
    end = b + rs[-1] * (_CAP_COS * n + _CAP_SIN * u)
    start = a - rs[0] * (_CAP_COS * n + _CAP_SIN * u)
    outline: Polygon = np.concatenate([centres + offsets, end, (centres - offsets)[::-1], start])
    return outline


def _ellipse(centre: Vec, ax1: Vec, ax2: Vec, n: int = 28) -> Polygon:
    cos_t, sin_t = _circle(n)
    points: Polygon = centre + cos_t * ax1 + sin_t * ax2
    return points


def _torso(sk: _Skeleton, breath: float) -> tuple[Polygon, Polygon]:
    """Outlines of the pelvis (legwear) and the shirt, from the cross-section profile."""
    frame = sk.frames["trunk"]
    anterior, up, lateral = frame[:, 0], frame[:, 1], frame[:, 2]
    axis2 = up[:2] / max(float(np.hypot(up[0], up[1])), 1e-9)
    normal = np.array([axis2[1], -axis2[0]])  # image-plane perpendicular to the trunk axis
    normal3 = np.array([normal[0], normal[1], 0.0])
    trunk = _BODY.get().trunk
    prof = _TORSO_PROFILE.copy()
    chest = (prof[:, 0] >= _CHEST[0]) & (prof[:, 0] <= _CHEST[1])
    prof[chest, 1] *= 1.0 + 0.06 * breath
    side_a: list[Vec] = []
    side_b: list[Vec] = []
    for s, front, back, half_width in prof:
        centre3 = up * (s * trunk) + anterior * ((front - back) / 2.0)
        a_axis = anterior * ((front + back) / 2.0)
        l_axis = lateral * half_width
        extent = math.hypot(float(a_axis @ normal3), float(l_axis @ normal3))
        # The ellipse centre may sit off the perpendicular line; keep only its offset along it.
        base = up[:2] * (s * trunk) + normal * float(centre3 @ normal3)
        side_a.append(base + normal * extent)
        side_b.append(base - normal * extent)
    a = np.array(side_a)
    b = np.array(side_b)
    hem = int(np.searchsorted(prof[:, 0], _SHIRT_HEM))
    pelvis = np.concatenate([a[: hem + 2], b[: hem + 2][::-1]])
    shirt = np.concatenate([a[hem:], b[hem:][::-1]])
    return pelvis, shirt


def _head_layers(sk: _Skeleton) -> list[Layer]:
    frame = sk.frames["head"]
    centre = sk.joints["head"]
    anterior, up, lateral = frame[:, 0], frame[:, 1], frame[:, 2]
    half_len, half_h = HEAD_LENGTH / 2.0, HEAD_HEIGHT / 2.0
    half_w = 0.075

    def axes(scale: float) -> tuple[Vec, Vec]:
        # Project the head ellipsoid onto the image plane through its two most visible axes.
        a3 = anterior * half_len * scale
        l3 = lateral * half_w * scale
        horiz = a3 if np.hypot(a3[0], a3[1]) >= np.hypot(l3[0], l3[1]) else l3
        return horiz[:2], (up * half_h * scale)[:2]

    def at(offset: tuple[float, float, float]) -> Vec:
        point: Vec = centre + frame @ np.array(offset)
        return point[:2]

    layers: list[Layer] = []
    h1, v1 = axes(1.05)
    layers.append(Layer(_ellipse(at((-0.008, 0.006, 0.0)), h1, v1), HAIR))
    h2, v2 = axes(0.96)
    face = _ellipse(at((0.004, -0.006, 0.0)), h2, v2)
    jaw = _capsule(
        at((-0.004, -0.036, 0.0)), at((0.038, -0.046, 0.0)), ((0.0, 0.018), (1.0, 0.014))
    )
    layers.append(Layer(jaw, SKIN))
    layers.append(Layer(face, SKIN))
    toward_camera = float(anterior[2])
    if toward_camera < 0.6:  # profile or three-quarter: nose and ear silhouettes
        nose = np.array(
            [at((0.050, 0.012, 0.0)), at((0.068, -0.012, 0.0)), at((0.048, -0.018, 0.0))]
        )
        layers.append(Layer(nose, SKIN))
        ear_side = 1.0 if lateral[2] >= 0 else -1.0
        ear = _ellipse(
            at((-0.008, 0.0, ear_side * half_w)), anterior[:2] * 0.011, up[:2] * 0.018, 12
        )
        layers.append(Layer(ear, darker(SKIN, 0.9)))
    for eye_side in (1.0, -1.0):
        eye_dir = frame @ np.array([0.85, 0.0, eye_side * 0.5])
        if eye_dir[2] > -0.25:  # only eyes turned toward the camera are visible
            centre_eye = at((0.047, 0.012, eye_side * 0.026))
            eye = _ellipse(centre_eye, np.array([0.0045, 0.0]), np.array([0.0, 0.0055]), 10)
            layers.append(Layer(eye, EYE))
            brow = _capsule(
                at((0.044, 0.026, eye_side * 0.034)), at((0.054, 0.025, eye_side * 0.018)), _FINE
            )
            layers.append(Layer(brow, HAIR))
    if toward_camera < 0.6:
        mouth = _capsule(at((0.040, -0.031, 0.0)), at((0.052, -0.029, 0.0)), _FINE)
    else:
        mouth = _capsule(at((0.050, -0.031, -0.011)), at((0.050, -0.031, 0.011)), _FINE)
    layers.append(Layer(mouth, LIPS))
    return layers


def _depth(*points: Vec) -> float:
    return float(np.mean([p[2] for p in points]))


def _parts(sk: _Skeleton, breath: float) -> list[Part]:
    j = sk.joints
    parts: list[Part] = []
    pelvis, shirt = _torso(sk, breath)
    neck = _capsule(j["neck_base"][:2], j["head_base"][:2], ((0.0, 0.034), (1.0, 0.030)))
    parts.append(Part("pelvis", 0.0, (Layer(pelvis, LEGWEAR),)))
    parts.append(Part("neck", 0.001, (Layer(neck, SKIN),)))
    parts.append(Part("shirt", 0.002, (Layer(shirt, SHIRT),)))
    parts.append(Part("head", 0.003, tuple(_head_layers(sk))))
    for side in SIDES:
        hip, knee, ankle = j[f"hip_{side}"], j[f"knee_{side}"], j[f"ankle_{side}"]
        heel, ball, toe = j[f"heel_{side}"], j[f"ball_{side}"], j[f"toe_{side}"]
        shoulder, elbow = j[f"shoulder_{side}"], j[f"elbow_{side}"]
        wrist, hand = j[f"wrist_{side}"], j[f"hand_{side}"]
        # Far-side limbs are darker, the cue a viewer uses to tell near from far in a side view.
        leg_depth = _depth(hip, knee, ankle)
        arm_depth = _depth(shoulder, elbow, wrist)
        leg_k = shade(leg_depth)
        arm_k = shade(arm_depth)
        leg = (
            Layer(_capsule(hip[:2], knee[:2], _THIGH_R), darker(LEGWEAR, leg_k)),
            Layer(_capsule(knee[:2], ankle[:2], _SHANK_R), darker(LEGWEAR, leg_k)),
            Layer(_capsule(ankle[:2], heel[:2], ((0.0, 0.024), (1.0, 0.020))), darker(SHOE, leg_k)),
            Layer(_capsule(heel[:2], ball[:2], ((0.0, 0.019), (1.0, 0.020))), darker(SHOE, leg_k)),
            Layer(_capsule(ball[:2], toe[:2], ((0.0, 0.019), (1.0, 0.013))), darker(SHOE, leg_k)),
        )
        parts.append(Part(f"leg_{side}", leg_depth, leg))
        sleeve_end = shoulder + (elbow - shoulder) * _SLEEVE
        arm = (
            Layer(_capsule(shoulder[:2], elbow[:2], _UPPER_ARM_R), darker(SKIN, arm_k)),
            Layer(_capsule(elbow[:2], wrist[:2], _FOREARM_R), darker(SKIN, arm_k)),
            Layer(_capsule(wrist[:2], hand[:2], _HAND_R), darker(SKIN, arm_k)),
            Layer(
                _capsule(shoulder[:2], sleeve_end[:2], ((0.0, 0.047), (1.0, 0.040))),
                darker(SHIRT, arm_k),
            ),
        )
        parts.append(Part(f"arm_{side}", arm_depth, arm))
    parts.sort(key=lambda part: part.depth)
    return parts


def build_figure(pose: Pose) -> Figure:
    """The figure in world coordinates, lowered or raised so its lowest point is on the floor.

    Resting on the lowest outline point (not a chosen joint) keeps every posture right: soles
    when standing, forearms and toes in a plank, the back of the trunk when supine.
    """
    sk = _skeleton(pose)
    parts = _parts(sk, pose.breath)
    lowest = min(float(layer.polygon[:, 1].min()) for part in parts for layer in part.layers)
    # Splines through keys can overshoot a little; the floor is solid.
    shift = np.array([pose.x, max(pose.lift, 0.0) - lowest])
    placed = tuple(
        Part(
            part.name,
            part.depth,
            tuple(Layer(layer.polygon + shift, layer.colour) for layer in part.layers),
        )
        for part in parts
    )
    joints = {name: p[:2] + shift for name, p in sk.joints.items()}
    return Figure(placed, joints)
