"""Self-check: formcoach's own pipeline watches a rendered drill video and judges its form.

A demonstration is only useful if it shows the drill done right. The drill is rendered and
encoded exactly as it is served (H.264 MP4), then that file goes through the pipeline an
upload goes through: pose_estimation.estimate on the decoded video, feature extraction, and
for drills with an analysis exercise profile (squat, push-up, bridge, lunge, single-leg squat,
plank, side plank) analysis.service.analyze, which must find no fault and count the rendered
repetitions or hold time. Every other drill is judged by the checks in selfcheck.yaml, derived
from the drill's cues in drills.yaml: a clamshell's knee opening, a hip abduction's angle, a
calf raise's heel lift, a bird dog's reach... Repetitions are counted with one counter on the
measured keypoints and on the rendered figure's joints, and must agree.

The title and end cards are decoded too (they are part of the file) but only the
demonstration's frames are analysed.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field
from scipy.ndimage import median_filter
from scipy.signal import find_peaks

from formcoach.advice_generation.schemas import Drill
from formcoach.analysis.exercises import PREFIX
from formcoach.analysis.reference import load_reference
from formcoach.analysis.reps import combine, detect_reps
from formcoach.analysis.service import analyze
from formcoach.feature_extraction.service import compute_all
from formcoach.kit.i18n import Language
from formcoach.kit.settings import Settings
from formcoach.kit.video_io import is_playable_h264
from formcoach.pose_estimation.schemas import PoseResult
from formcoach.pose_estimation.service import estimate
from formcoach.testbed.selfcheck_signals import FloatArray, figure_points, signal
from formcoach.video_generation.figure import STANDARD_BODY, Body
from formcoach.video_generation.motions import motion_for
from formcoach.video_generation.render import FPS, prepare_clip, write_clip

CHECKS_FILE = Path(__file__).with_name("selfcheck.yaml")
Stat = Literal["max", "min", "median", "range"]
# The demonstration of a 4 s video lasts 3 s (half-second title and end cards): two loops
# of a motion up to 1.5 s long.
_LOOPS_IN_4_S = 1.5
# Sagittal 2D pose angles are within ≈5° of marker-based ones (reference.yaml, Van Hooren 2023).
ANGLE_ERROR_DEG = 5.0


class Expect(BaseModel):
    signal: str
    stat: Stat
    low: float | None = None
    high: float | None = None


class RepCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signals: list[str] = Field(min_length=1)
    sign: Literal[1, -1] = 1
    prominence: float | None = None
    smooth_s: float | None = None  # median filter before counting (spiky front-view points)


class ProfileCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    movement: str
    view: Literal["side", "front", "rear"]
    reps: bool = False
    # Judged metrics this camera view cannot measure (e.g. the frontal knee angle of a squat
    # filmed from the side): their not_measurable is expected.
    other_view: list[str] = []
    hold_share: float | None = Field(default=None, gt=0.0, le=1.0)


class FormCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: ProfileCheck | None = None
    expects: list[Expect] = []
    reps: RepCheck | None = None
    source: str

    @property
    def counts_reps(self) -> bool:
        return self.reps is not None or (self.profile is not None and self.profile.reps)


class CheckSettings(BaseModel):
    min_detection: float
    rep_spacing_s: float
    default_prominence: float
    source: str


class CheckBook(BaseModel):
    settings: CheckSettings
    checks: dict[str, FormCheck]


def _expect(value: Any) -> Any:
    # YAML rows [signal, stat, low, high] read as Expect; null means unbounded.
    if isinstance(value, list):
        return dict(zip(("signal", "stat", "low", "high"), value, strict=False))
    return value


@cache
def load_checks(path: Path = CHECKS_FILE) -> CheckBook:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    for check in raw["checks"].values():
        check["expects"] = [_expect(e) for e in check.get("expects", [])]
    return CheckBook.model_validate(raw)


CHECKS: dict[str, FormCheck] = load_checks().checks


@dataclass
class SelfCheck:
    drill_id: str
    motion: str
    size: str
    language: Language
    seconds: str
    playable: bool = False
    detection_rate: float = 0.0
    measured: dict[str, float | None] = field(default_factory=dict)
    movement: str | None = None  # the analysis profile used, if any
    findings: list[str] = field(default_factory=list)  # fault findings of that profile
    reps_rendered: int | None = None
    reps_seen: int | None = None
    hold_s: float | None = None  # time held within tolerance (profile holds)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def _stat(values: FloatArray, stat: Stat) -> float | None:
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


def count_reps(
    values: FloatArray,
    fps: float,
    sign: int = 1,
    prominence: float = 25.0,
    smooth_s: float | None = None,
) -> int:
    """Peaks (or valleys) of a signal that stand out by a repetition's range of motion."""
    book = load_checks().settings
    finite = np.isfinite(values)
    if finite.sum() < 3:
        return 0
    filled = np.interp(np.arange(values.size), np.flatnonzero(finite), values[finite])
    if smooth_s:
        filled = median_filter(filled, size=max(1, round(smooth_s * fps)) | 1, mode="nearest")
    peaks, _ = find_peaks(
        sign * filled, prominence=prominence, distance=max(1, round(book.rep_spacing_s * fps))
    )
    return int(peaks.size)


def _demo_pose(pose: PoseResult, start: int, end: int) -> PoseResult:
    return PoseResult(
        times=pose.times[start:end],
        keypoints=pose.keypoints[start:end],
        detected=pose.detected[start:end],
        width=pose.width,
        height=pose.height,
        fps=pose.fps,
    )


def _judge_profile(
    check: ProfileCheck,
    features: dict[str, Any],
    fps: float,
    reps_rendered: tuple[int, ...],
    demo_s: float,
    result: SelfCheck,
) -> None:
    """Run the analysis profile on the demonstration as on an upload, and judge its verdict."""
    analysis = analyze(features, {"fps": fps}, {"proxy": {"fps": fps}}, check.movement, check.view)
    result.movement = str(analysis["movement"])
    metrics: dict[str, dict[str, Any]] = analysis["metrics"]
    faults = [f["code"] for f in analysis["findings"] if f["severity"] != "info"]
    result.findings = faults
    if result.findings:
        result.problems.append(f"{check.movement} findings: {', '.join(result.findings)}")
    for key, metric in metrics.items():
        if metric.get("reference") is not None and key not in check.other_view:
            result.measured[key] = metric["value"]
            if metric["status"] == "not_measurable":
                result.problems.append(f"{key} not measurable")
    prefix = PREFIX.get(check.movement, check.movement)
    if check.reps:
        seen = (metrics.get(f"{prefix}_reps") or {}).get("value")
        result.reps_seen = None if seen is None else round(seen)
        accepted = result.reps_seen in reps_rendered
        result.reps_rendered = result.reps_seen if accepted else reps_rendered[0]
        if not accepted or not result.reps_rendered:
            result.problems.append(
                f"{result.reps_seen} full reps analysed, {reps_rendered[0]} shown"
            )
    if check.hold_share is not None:
        held = (metrics.get(f"{prefix}_hold_in_tolerance_s") or {}).get("value")
        result.hold_s = None if held is None else float(held)
        if held is None or held < check.hold_share * demo_s:
            result.problems.append(f"held in tolerance {held} s of {demo_s:.2f} s")


def _counted_on_figure(
    movement: str, truth: FloatArray, shown: int, result: SelfCheck
) -> tuple[int, ...]:
    """Full reps by the profile's own counter on the rendered figure's joint angles: the
    counts it may report, the likeliest first.

    The counter ends a rep where the angle is back in its start zone, which can come before
    the motion's rep time: a bridge's hips pass 35° on the way down, then rest at 45°. A
    demonstration ending in between holds one more rep by the counter than by
    ``motion.rep_times`` (``shown``). Where the angle is within the 2D pose error of the
    zone's edge as the demonstration ends, the rep may be counted either way: the counts with
    the edge moved by that error are accepted too.
    """
    movements = load_reference().movements
    rule = movements[movement].reps if movement in movements else None
    if rule is None:
        return (shown,)
    sides = [signal(truth, f"{side}_{rule.signal}_flexion_deg") for side in ("left", "right")]
    values = combine(sides[0], sides[1], rule.combine)
    times = np.arange(values.size) / FPS
    counts: list[int] = []
    for shift in (0.0, -ANGLE_ERROR_DEG, ANGLE_ERROR_DEG):
        edge = rule.model_copy(update={"start_deg": rule.start_deg + shift})
        count = sum(1 for r in detect_reps(times, values, edge) if r.full)
        if count not in counts:
            counts.append(count)
    if counts[0] not in (shown, shown + 1):
        result.problems.append(f"{counts[0]} reps counted on the figure, {shown} rendered")
    return tuple(counts)


def _values(name: str, series: dict[str, Any], xy: FloatArray) -> FloatArray:
    """A features.json series (``any_`` = the larger side), else a self-check signal."""
    if name in series:
        return np.array([math.nan if v is None else v for v in series[name]], dtype=np.float64)
    rest = name.removeprefix("any_")
    if rest != name and f"left_{rest}" in series:
        both = np.stack([_values(f"{side}_{rest}", series, xy) for side in ("left", "right")])
        with np.errstate(invalid="ignore"):
            out: FloatArray = np.where(
                np.isnan(both).all(axis=0), np.nan, np.nanmax(np.nan_to_num(both, nan=-1e9), 0)
            )
        return out
    return signal(xy, name)


def _judge_expects(
    check: FormCheck, series: dict[str, Any], xy: FloatArray, result: SelfCheck
) -> None:
    for expect in check.expects:
        values = _values(expect.signal, series, xy)
        value = _stat(values, expect.stat)
        low = -math.inf if expect.low is None else expect.low
        high = math.inf if expect.high is None else expect.high
        result.measured[f"{expect.signal}:{expect.stat}"] = value
        if value is None or not low <= value <= high:
            result.problems.append(
                f"{expect.stat} {expect.signal} = {value} not in [{low}, {high}]"
            )


def _judge_reps(check: RepCheck, xy: FloatArray, truth: FloatArray, result: SelfCheck) -> None:
    prominence = check.prominence or load_checks().settings.default_prominence
    seen = rendered = 0
    for name in check.signals:
        seen += count_reps(signal(xy, name), FPS, check.sign, prominence, check.smooth_s)
        rendered += count_reps(signal(truth, name), FPS, check.sign, prominence, check.smooth_s)
    result.reps_seen, result.reps_rendered = seen, rendered
    if rendered == 0 or seen != rendered:
        result.problems.append(f"{seen} repetitions seen, {rendered} rendered")


def self_check(
    drill: Drill,
    settings: Settings,
    size: str = "1280x720",
    language: Language = "en",
    seconds: str | None = None,
    body: Body = STANDARD_BODY,
) -> SelfCheck:
    """Render and encode the drill video, analyse the MP4 with the real pipeline, judge its form.

    By default a 4 s video, or 8 s when repetitions of a motion looping slower than every
    1.5 s are counted (room for two loops).
    """
    motion = motion_for(drill, body)
    check = CHECKS.get(motion.id)
    # Repetitions are counted over at least two loops of the motion: 8 s for slow drills.
    slow = check is not None and check.counts_reps and motion.loop > _LOOPS_IN_4_S
    length = seconds or ("8" if slow else "4")
    clip = prepare_clip(drill, language, size, length, body)
    result = SelfCheck(drill.id, clip.motion.id, size, language, length)
    book = load_checks()
    with tempfile.TemporaryDirectory(prefix="formcoach-selfcheck-") as folder:
        video = Path(folder) / "drill.mp4"
        rendered = write_clip(clip, video)
        result.playable = is_playable_h264(video) and rendered.thumbnail.stat().st_size > 0
        pose = estimate(video, settings)
    start, end = clip.demo_start, clip.demo_end
    demo = _demo_pose(pose, start, end)
    result.detection_rate = float(demo.detection_rate)
    if not result.playable:
        result.problems.append("the encoded video is not playable H.264 with a thumbnail")
    if result.detection_rate < book.settings.min_detection:
        result.problems.append(f"person found in {result.detection_rate:.0%} of frames")
    if check is None:
        result.problems.append(f"no self-check declared for motion {clip.motion.id}")
        return result
    features, clean = compute_all(demo, settings, demo.fps)
    features_json: dict[str, Any] = features.to_json()
    truth = figure_points(clip.figures[start:end])
    demo_s = (end - start) / FPS
    if check.profile is not None:
        shown = clip.motion.reps_done((end - start - 1) / FPS)
        reps = _counted_on_figure(check.profile.movement, truth, shown, result)
        _judge_profile(check.profile, features_json, demo.fps, reps, demo_s, result)
    _judge_expects(check, features_json["series"], clean.xy, result)
    if check.reps is not None:
        _judge_reps(check.reps, clean.xy, truth, result)
    return result
