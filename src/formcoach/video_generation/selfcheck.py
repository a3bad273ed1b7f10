"""Self-check: formcoach's own pipeline watches a rendered drill and judges its form.

A demonstration is only useful if it shows the drill done right, so every motion declares
what a coach would check (a plank is straight and classified as a plank, a squat reaches
depth, a bridge opens the hips...) and how its repetitions show (peaks of one joint angle).
The demonstration part of the clip is analysed by pose_estimation and feature_extraction, as
an uploaded video would be, and the repetitions seen are compared with the ones rendered.

To keep the check for the whole library within CI time, the demonstration frames are
analysed at 15 fps (every second rendered frame; the title and end cards are left out).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.signal import find_peaks

from formcoach.advice_generation.schemas import Drill
from formcoach.feature_extraction.service import compute_features
from formcoach.kit.settings import Settings
from formcoach.kit.video_io import H264Writer
from formcoach.pose_estimation.service import estimate
from formcoach.video_generation.motions import motion_for
from formcoach.video_generation.render import FPS, prepare_clip

Stat = Literal["max", "min", "median", "range"]
_STEP = 2  # analyse every second frame
_MIN_DETECTION = 0.8
_REP_PROMINENCE_DEG = 25.0
_REP_SPACING_S = 0.6


@dataclass(frozen=True)
class Expect:
    """A statistic of one feature series over the demonstration must lie in [low, high].

    ``series`` is a features.json series name, or ``any_<joint>_flexion_deg`` for the larger
    of the two sides in each frame.
    """

    series: str
    stat: Stat
    low: float = -math.inf
    high: float = math.inf


@dataclass(frozen=True)
class FormCheck:
    expects: tuple[Expect, ...] = ()
    # Repetitions are the peaks (sign 1) or valleys (sign -1) of this joint's flexion,
    # compared between the rendered poses and the measured series.
    reps_on: str | None = None
    reps_sign: int = 1


def _e(series: str, stat: Stat, low: float = -math.inf, high: float = math.inf) -> Expect:
    return Expect(series, stat, low, high)


# The thresholds the analysis uses to recognise a squat and a plank (reference.yaml,
# classification): the hips travel at least 0.15 body sizes with deep knees; the trunk is
# within 30° of horizontal and shoulder-hip-ankle nearly straight.
_SQUAT = FormCheck(
    (
        _e("right_knee_flexion_deg", "max", 90.0),
        _e("right_knee_flexion_deg", "min", high=30.0),
        _e("hip_height_norm", "range", 0.15),
    ),
    reps_on="right_knee",
)
_BRIDGE = FormCheck(
    (_e("right_hip_flexion_deg", "min", high=30.0), _e("right_hip_flexion_deg", "max", 50.0)),
    reps_on="right_hip",
    reps_sign=-1,
)
CHECKS: dict[str, FormCheck] = {
    "plank": FormCheck(
        (_e("body_line_deg", "median", 160.0), _e("trunk_lean_deg", "median", 60.0))
    ),
    "knee_plank": FormCheck((_e("right_hip_flexion_deg", "median", high=40.0),)),
    "glute_bridge": _BRIDGE,
    "single_leg_bridge": _BRIDGE,
    "high_knees": FormCheck((_e("any_hip_flexion_deg", "max", 60.0),)),
    "a_skip": FormCheck((_e("any_hip_flexion_deg", "max", 60.0),)),
    "b_skip": FormCheck((_e("any_hip_flexion_deg", "max", 50.0),)),
    "wall_lean": FormCheck((_e("any_hip_flexion_deg", "max", 60.0),)),
    "step_down": FormCheck((_e("right_knee_flexion_deg", "max", 40.0),), reps_on="right_knee"),
    "arm_swing": FormCheck((_e("any_elbow_flexion_deg", "median", 60.0, 120.0),)),
    "squat": _SQUAT,
    "box_squat": _SQUAT,
    "banded_squat": _SQUAT,
    "split_squat": FormCheck((_e("any_knee_flexion_deg", "max", 70.0),), reps_on="right_knee"),
    "single_leg_squat": FormCheck(
        (_e("right_knee_flexion_deg", "max", 55.0),), reps_on="right_knee"
    ),
    "single_leg_balance": FormCheck((_e("any_hip_flexion_deg", "median", 60.0),)),
    "butt_kicks": FormCheck((_e("any_knee_flexion_deg", "max", 100.0),)),
    "incline_push_up": FormCheck(
        (_e("right_elbow_flexion_deg", "max", 60.0),), reps_on="right_elbow"
    ),
}


@dataclass
class SelfCheck:
    drill_id: str
    motion: str
    detection_rate: float
    measured: dict[str, float | None] = field(default_factory=dict)
    reps_rendered: int | None = None
    reps_seen: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def _series(features: dict[str, list[float | None]], name: str) -> NDArray[np.float64]:
    if name.startswith("any_"):
        rest = name[4:]
        left = _series(features, f"left_{rest}")
        right = _series(features, f"right_{rest}")
        with np.errstate(invalid="ignore"):
            both = np.stack([left, right])
            out: NDArray[np.float64] = np.where(
                np.isnan(both).all(axis=0), np.nan, np.nanmax(np.nan_to_num(both, nan=-1e9), 0)
            )
        return out
    return np.array([np.nan if v is None else v for v in features[name]], dtype=np.float64)


def _stat(values: NDArray[np.float64], stat: Stat) -> float | None:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    if stat == "max":
        return float(np.max(finite))
    if stat == "min":
        return float(np.min(finite))
    if stat == "range":
        return float(np.ptp(finite))
    return float(np.median(finite))


def count_reps(values: NDArray[np.float64], fps: float, sign: int = 1) -> int:
    """Peaks (or valleys) of a joint angle that stand out by a repetition's range of motion."""
    finite = np.isfinite(values)
    if finite.sum() < 3:
        return 0
    filled = np.interp(np.arange(values.size), np.flatnonzero(finite), values[finite])
    peaks, _ = find_peaks(
        sign * filled,
        prominence=_REP_PROMINENCE_DEG,
        distance=max(1, round(_REP_SPACING_S * fps)),
    )
    return int(peaks.size)


def self_check(
    drill: Drill, settings: Settings, size: str = "1280x720", seconds: str | None = None
) -> SelfCheck:
    """Render the drill, analyse its demonstration with the real pipeline, judge its form.

    By default a 4 s clip, or 8 s when repetitions are counted (room for more than one).
    """
    check = CHECKS.get(motion_for(drill).id, FormCheck())
    clip = prepare_clip(drill, "en", size, seconds or ("8" if check.reps_on else "4"))
    indices = list(range(clip.demo_start, clip.demo_end, _STEP))
    fps = FPS / _STEP
    with tempfile.TemporaryDirectory(prefix="formcoach-selfcheck-") as folder:
        video = Path(folder) / "demo.mp4"
        height, width = clip.background.shape[:2]
        with H264Writer(video, width, height, fps) as writer:
            for i in indices:
                writer.write(clip.draw(i))
        pose = estimate(video, settings)
    features: dict[str, Any] = compute_features(pose, settings).to_json()
    series: dict[str, list[float | None]] = features["series"]
    result = SelfCheck(drill.id, clip.motion.id, float(pose.detection_rate))
    if result.detection_rate < _MIN_DETECTION:
        result.problems.append(f"person found in {result.detection_rate:.0%} of frames")
    for expect in check.expects:
        value = _stat(_series(series, expect.series), expect.stat)
        result.measured[f"{expect.series}:{expect.stat}"] = value
        if value is None or not expect.low <= value <= expect.high:
            result.problems.append(
                f"{expect.stat} {expect.series} = {value} not in [{expect.low}, {expect.high}]"
            )
    if check.reps_on is not None:
        side, joint = check.reps_on.split("_")
        truth = np.array(
            [
                getattr(clip.motion.pose_at((i - clip.demo_start) / FPS), f"{joint}_{side[0]}")
                for i in indices
            ]
        )
        result.reps_rendered = count_reps(truth, fps, check.reps_sign)
        seen = _series(series, f"{side}_{joint}_flexion_deg")
        result.reps_seen = count_reps(seen, fps, check.reps_sign)
        if result.reps_rendered == 0 or result.reps_seen != result.reps_rendered:
            result.problems.append(
                f"{result.reps_seen} repetitions seen, {result.reps_rendered} rendered"
            )
    return result
