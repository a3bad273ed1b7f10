"""Test clips with known kinematics: the drill-video figure running, squatting or planking.

The figure is the one the drill videos use (video_generation.figure), drawn on its plain set
by an orthographic, level camera. Seen from the side (yaw 0 or 180) with no abduction, the
image-plane joint angles equal the pose's angles exactly, so every clip carries its own truth:
the pose of each frame, the projected joint centres in pixels, and for running the cadence
and each foot's initial contacts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.signal import find_peaks

from formcoach.kit.video_io import H264Writer
from formcoach.video_generation.figure import Figure, Pose, build_figure
from formcoach.video_generation.motions import get_motion
from formcoach.video_generation.scene import Box, draw_figure, draw_shadow, fit_camera, make_set

Movement = Literal["running", "squat", "plank"]
Facing = Literal["right", "left"]

# Running on the spot (a treadmill seen from the side): hip, knee and arm curves shaped like a
# recreational runner's (hip -15..+40°, knee 20° at contact to ~105° in swing).
_HIP_MEAN, _HIP_AMP = 12.0, 27.0
_KNEE_MEAN, _KNEE_AMP, _KNEE_LAG = 60.0, 45.0, 1.9  # lag in radians behind the hip curve
_SHOULDER_AMP, _ELBOW = 35.0, 85.0
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

    def angle(self, name: str) -> NDArray[np.float64]:
        """(N,) one pose field (e.g. "knee_r", "trunk") over the clip."""
        return np.array([getattr(p, name) for p in self.poses], dtype=np.float64)


def running_pose(t: float, cadence_spm: float, trunk_deg: float) -> Pose:
    """Both legs half a stride apart; arms swing against the legs."""
    stride_hz = cadence_spm / 120.0
    pose = Pose(trunk=trunk_deg, neck=-trunk_deg * 0.6)
    values: dict[str, float] = {}
    for side, offset in (("r", 0.0), ("l", math.pi)):
        phi = 2.0 * math.pi * stride_hz * t + offset
        values[f"hip_{side}"] = _HIP_MEAN + _HIP_AMP * math.sin(phi)
        values[f"knee_{side}"] = _KNEE_MEAN + _KNEE_AMP * math.sin(phi - _KNEE_LAG)
        values[f"ankle_{side}"] = 5.0 * math.sin(phi - 1.0)
        values[f"shoulder_{side}"] = -_SHOULDER_AMP * math.sin(phi)
        values[f"elbow_{side}"] = _ELBOW
    return pose.with_(**values)


def squat_pose(t: float, trunk_max: float = 35.0) -> Pose:
    """Down and up once per period, heels down: knees to 105°, hips to 95°."""
    u = 0.5 - 0.5 * math.cos(2.0 * math.pi * t / _SQUAT_PERIOD_S)
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


def pose_at(movement: Movement, t: float, cadence_spm: float, trunk_deg: float) -> Pose:
    if movement == "running":
        return running_pose(t, cadence_spm, trunk_deg)
    if movement == "squat":
        return squat_pose(t)
    return get_motion("plank").pose_at(t)


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


def _swap_side(name: str) -> str:
    if name.endswith("_r"):
        return name[:-2] + "_l"
    if name.endswith("_l"):
        return name[:-2] + "_r"
    return name


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
) -> GroundTruth:
    """Write an H.264 clip of the figure doing ``movement`` and return its truth."""
    width, height = size
    n = round(seconds * fps)
    times = np.arange(n, dtype=np.float64) / fps
    # The figure's trunk lean is in world x, whatever its yaw; a left-facing clip is therefore
    # the right-facing one mirrored, where the near (right) side becomes the left side.
    mirror = facing == "left"
    drawn = [pose_at(movement, float(t), cadence_spm, trunk_deg) for t in times]
    poses = [p.mirrored() for p in drawn] if mirror else drawn
    figures: list[Figure] = [build_figure(p) for p in drawn]
    bounds = np.array([f.bounds() for f in figures])
    x0, y0 = bounds[:, 0].min(), min(bounds[:, 1].min(), 0.0)
    x1, y1 = bounds[:, 2].max(), bounds[:, 3].max()
    mx, my = _MARGIN * width, _MARGIN * height
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
            writer.write(np.ascontiguousarray(frame[:, ::-1]) if mirror else frame)
            pts = camera.to_px(np.stack([fig.joints[k] for k in names]))
            if mirror:
                pts[:, 0] = width - pts[:, 0]
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
    return truth
