"""Test clips with known kinematics: the drill-video figure running, squatting or planking.

The figure is the one the drill videos use (video_generation.figure), drawn on its plain set
by an orthographic, level camera. Seen from the side (yaw 0 or 180) with no abduction, the
image-plane joint angles equal the pose's angles exactly, so every clip carries its own truth:
the pose of each frame, the projected joint centres in pixels, and for running the cadence
and each foot's initial contacts and toe-offs.

Known faults can be dialled in (tests/analysis/test_fault_clips.py): a low cadence, overstriding (thigh
further forward and shank tilted forward at contact), a trunk lean, a squat's depth per rep
(shallow squats, partial reps) and a sagging plank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from scipy.interpolate import CubicSpline
from scipy.signal import find_peaks

from formcoach.kit.video_io import H264Writer
from formcoach.video_generation.figure import Figure, Pose, build_figure
from formcoach.video_generation.keyframes import arm, balance
from formcoach.video_generation.motions import get_motion
from formcoach.video_generation.scene import Box, draw_figure, draw_shadow, fit_camera, make_set

Movement = Literal["running", "squat", "plank"]
Facing = Literal["right", "left"]

# Running on the spot (a treadmill seen from the side), one gait cycle of each leg from its
# initial contact (phase 0) as (phase, degrees) keys through which a periodic spline runs.
# Shaped like a recreational runner's sagittal curves (Novacheck 1998, Gait & Posture 7:77;
# Souza 2016): thigh 16° forward of vertical at contact, about 16° behind it after toe-off
# (≈0.38 of the cycle); knee 18° at contact, 48° at mid-stance, ≈85° in swing (easy pace).
_THIGH_KEYS = (
    (0.0, 16.0),
    (0.1, 9.0),
    (0.2, 1.0),
    (0.3, -9.0),
    (0.38, -16.0),
    (0.48, -12.0),
    (0.6, 0.0),
    (0.75, 12.0),
    (0.88, 16.0),
)
_KNEE_KEYS = (
    (0.0, 18.0),
    (0.07, 36.0),
    (0.14, 48.0),
    (0.25, 36.0),
    (0.36, 22.0),
    (0.5, 55.0),
    (0.62, 85.0),
    (0.75, 72.0),
    (0.88, 35.0),
    (0.95, 18.0),
)
_ANKLE_KEYS = (
    (0.0, 5.0),
    (0.14, 15.0),
    (0.3, 0.0),
    (0.38, -20.0),
    (0.5, -10.0),
    (0.7, 0.0),
    (0.9, 5.0),
)
# Overstriding adds this shape (1 at contact) times overstride_deg to the thigh curve: the
# foot reaches further ahead and lands with the shank tilted forward.
_OVERSTRIDE_KEYS = ((0.0, 1.0), (0.1, 0.4), (0.2, 0.0), (0.7, 0.0), (0.8, 0.3), (0.9, 0.8))
_SHOULDER_GAIN, _ELBOW = 1.3, 85.0
# The first clips' simpler sinusoids (hip -15..+40°, knee 15..105°), kept as the default: the
# pose accuracy targets of tests/testbed/test_groundtruth_accuracy.py were set on them. They land the
# heel far ahead and keep the knee bent past 100° in "stance", so judging form needs the
# recreational curves above (RunningCurves "recreational").
_HIP_MEAN, _HIP_AMP = 12.0, 27.0
_KNEE_MEAN, _KNEE_AMP, _KNEE_LAG = 60.0, 45.0, 1.9  # lag in radians behind the hip curve
_SHOULDER_AMP = 35.0
RunningCurves = Literal["sine", "recreational"]
_SQUAT_PERIOD_S = 2.5
_MARGIN = 0.06  # share of the frame left free around the figure


@dataclass
class GroundTruth:
    """What the clip shows, frame by frame (side of the body: "r"/"l")."""

    movement: Movement
    fps: float
    width: int
    height: int
    facing: Facing
    times: NDArray[np.float64]
    poses: list[Pose]
    joints_px: dict[str, NDArray[np.float64]]  # joint name -> (N, 2) pixel x, y
    px_per_height: float  # pixels per body height
    cadence_spm: float | None = None
    contacts_s: dict[str, list[float]] = field(default_factory=dict)
    toe_offs_s: dict[str, list[float]] = field(default_factory=dict)

    def angle(self, name: str) -> NDArray[np.float64]:
        """(N,) one pose field (e.g. "knee_r", "trunk") over the clip."""
        return np.array([getattr(p, name) for p in self.poses], dtype=np.float64)


def _periodic(keys: tuple[tuple[float, float], ...]) -> CubicSpline:
    x = [k[0] for k in keys] + [1.0]
    y = [k[1] for k in keys] + [keys[0][1]]
    return CubicSpline(np.array(x), np.array(y), bc_type="periodic")


_THIGH = _periodic(_THIGH_KEYS)
_KNEE = _periodic(_KNEE_KEYS)
_ANKLE = _periodic(_ANKLE_KEYS)
_OVERSTRIDE = _periodic(_OVERSTRIDE_KEYS)


def running_pose(
    t: float,
    cadence_spm: float,
    trunk_deg: float,
    overstride_deg: float = 0.0,
    curves: RunningCurves = "sine",
) -> Pose:
    """Both legs half a stride apart; arms swing against the legs."""
    stride_hz = cadence_spm / 120.0
    pose = Pose(trunk=trunk_deg, neck=-trunk_deg * 0.6)
    values: dict[str, float] = {}
    for side, offset in (("r", 0.0), ("l", 0.5)):
        if curves == "sine":
            phi = 2.0 * math.pi * (stride_hz * t + offset)
            values[f"hip_{side}"] = _HIP_MEAN + _HIP_AMP * math.sin(phi)
            values[f"knee_{side}"] = _KNEE_MEAN + _KNEE_AMP * math.sin(phi - _KNEE_LAG)
            values[f"ankle_{side}"] = 5.0 * math.sin(phi - 1.0)
            values[f"shoulder_{side}"] = -_SHOULDER_AMP * math.sin(phi)
            values[f"elbow_{side}"] = _ELBOW
            continue
        u = (stride_hz * t + offset) % 1.0
        thigh = float(_THIGH(u)) + overstride_deg * float(_OVERSTRIDE(u))
        # The figure's hip angle is the thigh's relative to the trunk.
        values[f"hip_{side}"] = thigh + trunk_deg
        values[f"knee_{side}"] = float(_KNEE(u))
        values[f"ankle_{side}"] = float(_ANKLE(u))
        values[f"shoulder_{side}"] = -_SHOULDER_GAIN * (thigh - 2.0) + trunk_deg
        values[f"elbow_{side}"] = _ELBOW
    return pose.with_(**values)


def squat_pose(
    t: float,
    trunk_max: float = 35.0,
    depths: tuple[float, ...] = (105.0,),
    period_s: float = _SQUAT_PERIOD_S,
) -> Pose:
    """Down and up once per period, heels down: knees to the rep's depth (105° by default,
    hips to 95°); ``depths`` repeats, one peak knee flexion per rep."""
    rep = int(t // period_s) % len(depths)
    u = (0.5 - 0.5 * math.cos(2.0 * math.pi * t / period_s)) * depths[rep] / 105.0
    knee = 105.0 * u
    trunk = trunk_max * u
    # Shank tilts forward by the dorsiflexion; thigh angle from vertical closes the chain so
    # the hips stay over the feet.
    ankle = 0.42 * knee
    hip = knee - ankle + trunk
    values: dict[str, float] = {}
    for side in ("r", "l"):
        values |= {f"hip_{side}": hip, f"knee_{side}": knee, f"ankle_{side}": ankle}
        values |= {f"shoulder_{side}": 60.0 * u + 10.0, f"elbow_{side}": 10.0}
    return Pose(trunk=trunk, neck=-0.5 * trunk).with_(**values)


def sagging_plank_pose(sag_deg: float) -> Pose:
    """The drill library's forearm plank with the hips dropped ``sag_deg`` below the line.

    Same design as motions_floor's plank (upper arms vertical, forearms flat), but the legs
    point ``sag_deg`` higher than the trunk's continuation (hip extension); forearms and toes
    both rest on the floor (keyframes.balance).
    """

    def make(t: float) -> Pose:
        p = Pose(trunk=t, neck=-8.0)
        p = arm(arm(p, "r", 270.0, 0.0), "l", 270.0, 0.0)
        foot = 270.0 - t - sag_deg + 90.0 + 15.0
        return p.with_(
            hip_r=-sag_deg,
            hip_l=-sag_deg,
            ankle_r=15.0,
            ankle_l=15.0,
            toe_r=360.0 - foot,
            toe_l=360.0 - foot,
        )

    return balance(make, 50.0, 89.0, ("arm_r", "arm_l"), ("leg_r", "leg_l"))


@dataclass(frozen=True)
class Faults:
    """What is wrong with the clip's movement (all zero / default: a clean clip)."""

    overstride_deg: float = 0.0
    # Overstriding needs the recreational curves; "sine" is the first clips' simple running.
    running_curves: RunningCurves = "sine"
    squat_depths_deg: tuple[float, ...] = (105.0,)
    squat_period_s: float = _SQUAT_PERIOD_S
    plank_sag_deg: float = 0.0


def pose_at(
    movement: Movement, t: float, cadence_spm: float, trunk_deg: float, faults: Faults = Faults()
) -> Pose:
    if movement == "running":
        return running_pose(t, cadence_spm, trunk_deg, faults.overstride_deg, faults.running_curves)
    if movement == "squat":
        return squat_pose(t, depths=faults.squat_depths_deg, period_s=faults.squat_period_s)
    if faults.plank_sag_deg:
        return _sagging_plank(faults.plank_sag_deg)
    return get_motion("plank").pose_at(t)


_SAGGING: dict[float, Pose] = {}


def _sagging_plank(sag_deg: float) -> Pose:
    # Solving the two-point contact takes ~30 figure builds: once per clip, not per frame.
    if sag_deg not in _SAGGING:
        _SAGGING[sag_deg] = sagging_plank_pose(sag_deg)
    return _SAGGING[sag_deg]


def _contacts(times: NDArray[np.float64], heel_x: NDArray[np.float64], fps: float) -> list[float]:
    """Initial contacts by Zeni's rule: the foot's most forward point relative to the pelvis."""
    peaks, _ = find_peaks(heel_x, distance=max(1, int(0.3 * fps)))
    out = []
    for p in peaks.tolist():
        if 0 < p < heel_x.size - 1:
            y0, y1, y2 = heel_x[p - 1], heel_x[p], heel_x[p + 1]
            curvature = y0 - 2.0 * y1 + y2
            shift = 0.5 * (y0 - y2) / curvature if curvature else 0.0
            out.append(float(np.interp(p + shift, np.arange(times.size), times)))
    return out


def _toe_offs(times: NDArray[np.float64], knee: NDArray[np.float64], cadence: float) -> list[float]:
    """Running toe-offs: the knee's greatest extension after each stance's flexion peak.

    The knee curve has two minima a cycle, at contact and at toe-off; only the toe-off one
    follows a stance (under 60° throughout the quarter stride before it), not a swing.
    """
    frame_s = float(times[1] - times[0])
    quarter = max(1, round(0.25 * 120.0 / cadence / frame_s))
    lows, _ = find_peaks(-knee, distance=quarter)
    out = []
    for p in lows.tolist():
        if quarter <= p < knee.size - 1 and float(np.max(knee[p - quarter : p])) < 60.0:
            y0, y1, y2 = knee[p - 1], knee[p], knee[p + 1]
            curvature = y0 - 2.0 * y1 + y2
            shift = 0.5 * (y0 - y2) / curvature if curvature else 0.0
            out.append(float(np.interp(p + shift, np.arange(times.size), times)))
    return out


def _shifted(figure: Figure, dx: float) -> Figure:
    """The figure moved ``dx`` metres forward along the floor."""
    if not dx:
        return figure
    step = np.array([dx, 0.0])
    parts = tuple(
        replace(part, layers=tuple(replace(la, polygon=la.polygon + step) for la in part.layers))
        for part in figure.parts
    )
    return Figure(parts=parts, joints={k: v + step for k, v in figure.joints.items()})


def _swap_side(name: str) -> str:
    if name.endswith("_r"):
        return name[:-2] + "_l"
    if name.endswith("_l"):
        return name[:-2] + "_r"
    return name


def _rolled(frame: NDArray[np.uint8], roll_deg: float) -> NDArray[np.uint8]:
    """The picture turned roll_deg clockwise on screen about its centre (PIL turns CCW)."""
    image = Image.fromarray(frame).rotate(
        -roll_deg, resample=Image.Resampling.BILINEAR, fillcolor=(96, 96, 96)
    )
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def _rolled_points(
    pts: NDArray[np.float64], width: int, height: int, deg: float
) -> NDArray[np.float64]:
    # y is down: (x cos - y sin, x sin + y cos) turns clockwise on screen.
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    x, y = pts[:, 0] - width / 2, pts[:, 1] - height / 2
    return np.stack([width / 2 + c * x - s * y, height / 2 + s * x + c * y], axis=1)


def render_clip(
    out: Path,
    movement: Movement,
    *,
    fps: float = 30.0,
    size: tuple[int, int] = (1280, 720),
    seconds: float = 4.0,
    facing: Facing = "right",
    cadence_spm: float = 170.0,
    trunk_deg: float = 8.0,
    faults: Faults = Faults(),
    yaw_deg: float = 0.0,
    start_s: float = 0.0,
    travel_mps: float = 0.0,
    roll_deg: float = 0.0,
) -> GroundTruth:
    """Write an H.264 clip of the figure doing ``movement`` and return its truth.

    ``yaw_deg`` turns the figure about the vertical: 0 side-on, 90 facing the camera, 45 an
    oblique view (the view detection tests, issue 18). ``start_s`` starts the clip that far
    into the movement, so a clip can begin and end mid-step (the cadence tests); ``travel_mps``
    moves the figure across a fixed camera (overground running: the fixed camera then frames
    the whole path, so the figure is also smaller); ``roll_deg`` tilts the camera: the picture
    turns that far clockwise on screen (true vertical ``roll_deg`` clockwise from the image's
    up, the `camera_roll_deg` convention), the figure framed smaller so it stays in view."""
    width, height = size
    n = round(seconds * fps)
    times = np.arange(n, dtype=np.float64) / fps
    # The figure's trunk lean is in world x, whatever its yaw; a left-facing clip is therefore
    # the right-facing one mirrored, where the near (right) side becomes the left side.
    mirror = facing == "left"
    drawn = [pose_at(movement, float(t) + start_s, cadence_spm, trunk_deg, faults) for t in times]
    if yaw_deg:
        drawn = [replace(p, yaw=yaw_deg) for p in drawn]
    poses = [p.mirrored() for p in drawn] if mirror else drawn
    figures: list[Figure] = [
        _shifted(build_figure(p), travel_mps * float(t)) for p, t in zip(drawn, times, strict=True)
    ]
    bounds = np.array([f.bounds() for f in figures])
    x0, y0 = bounds[:, 0].min(), min(bounds[:, 1].min(), 0.0)
    x1, y1 = bounds[:, 2].max(), bounds[:, 3].max()
    mx, my = _MARGIN * width, _MARGIN * height
    if roll_deg:
        # The box whose turned corners stay inside the frame.
        cos, sin = abs(math.cos(math.radians(roll_deg))), abs(math.sin(math.radians(roll_deg)))
        fit = min(width / (width * cos + height * sin), height / (width * sin + height * cos))
        mx, my = mx + (1 - fit) * width / 2, my + (1 - fit) * height / 2
    camera = fit_camera(
        (float(x0), float(y0), float(x1), float(y1)),
        Box(left=mx, top=my, right=width - mx, bottom=height - my),
    )
    background = make_set(width, height, camera)
    names = sorted(figures[0].joints)
    joints = {k: np.empty((n, 2), dtype=np.float64) for k in names}
    frame = np.empty_like(background)
    with H264Writer(out, width, height, fps, crf=20) as writer:
        for i, fig in enumerate(figures):
            np.copyto(frame, background)
            draw_shadow(frame, fig, camera)
            draw_figure(frame, fig, camera)
            shown = np.ascontiguousarray(frame[:, ::-1]) if mirror else frame
            writer.write(_rolled(shown, roll_deg) if roll_deg else shown)
            pts = camera.to_px(np.stack([fig.joints[k] for k in names]))
            if mirror:
                pts[:, 0] = width - pts[:, 0]
            if roll_deg:
                pts = _rolled_points(pts, width, height, roll_deg)
            for j, k in enumerate(names):
                joints[_swap_side(k) if mirror else k][i] = pts[j]
    truth = GroundTruth(
        movement=movement,
        fps=fps,
        width=width,
        height=height,
        facing=facing,
        times=times,
        poses=poses,
        joints_px=joints,
        px_per_height=camera.scale,
    )
    if movement == "running":
        truth.cadence_spm = cadence_spm
        forward = 1.0 if facing == "right" else -1.0
        for side in ("r", "l"):
            rel = forward * (joints[f"heel_{side}"][:, 0] - joints["root"][:, 0])
            truth.contacts_s[side] = _contacts(times, rel, fps)
            truth.toe_offs_s[side] = _toe_offs(times, truth.angle(f"knee_{side}"), cadence_spm)
    return truth
