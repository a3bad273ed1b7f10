"""Gait events from keypoints: initial contacts and toe-offs by Zeni's rule, cadence, and the
check that the clip shows a real, periodic, alternating gait at all.

Zeni et al. (2008, Gait & Posture 27:710) place initial contact at the moment the heel is
furthest forward of the pelvis, and toe-off at the moment the toe is furthest behind it; the
rule needs no force plate and works on treadmill and overground clips alike. Thresholds are in
gait.yaml (with their sources).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import yaml
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from scipy.signal import find_peaks

from formcoach.feature_extraction.filters import FloatArray, segments
from formcoach.pose_estimation.schemas import LANDMARK_INDEX

GAIT_FILE = Path(__file__).with_name("gait.yaml")
SIDES = ("left", "right")
_STRICT = ConfigDict(extra="forbid")


class EventSettings(BaseModel):
    model_config = _STRICT
    min_stride_s: float = Field(gt=0)
    contact_prominence_legs: float = Field(gt=0)
    min_contacts: int = Field(ge=1)
    source: str = Field(min_length=3)


class PeriodicSettings(BaseModel):
    model_config = _STRICT
    regular_tolerance: float = Field(gt=0)
    min_regular_share: float = Field(ge=0, le=1)
    min_regular_steps: int = Field(ge=1)
    max_cadence_disagreement: float = Field(gt=0)
    min_alternation: float = Field(ge=0, le=1)
    source: str = Field(min_length=3)


class StrideSettings(BaseModel):
    model_config = _STRICT
    min_travel_legs_per_step: float = Field(ge=0)
    max_stance_share: float = Field(gt=0, le=1)
    confident_steps_per_side: int = Field(ge=1)
    source: str = Field(min_length=3)


class FrontalSettings(BaseModel):
    model_config = _STRICT
    stance_clearance_legs: float = Field(ge=0)
    source: str = Field(min_length=3)


class GaitConfig(BaseModel):
    model_config = _STRICT
    version: int
    events: EventSettings
    periodic: PeriodicSettings
    stride: StrideSettings
    frontal: FrontalSettings


@cache
def gait_config(path: Path = GAIT_FILE) -> GaitConfig:
    with path.open(encoding="utf-8") as handle:
        return GaitConfig.model_validate(yaml.safe_load(handle))


@dataclass(frozen=True)
class Contacts:
    by_side: dict[str, list[float]] = field(default_factory=dict)
    cadence_spm: float | None = None

    @property
    def all_s(self) -> list[float]:
        return sorted(t for times in self.by_side.values() for t in times)


def _refine(signal: FloatArray, i: int) -> float:
    if i <= 0 or i >= signal.size - 1:
        return float(i)
    y0, y1, y2 = signal[i - 1], signal[i], signal[i + 1]
    curvature = y0 - 2.0 * y1 + y2
    return float(i) if curvature == 0 else float(i + 0.5 * (y0 - y2) / curvature)


def pelvis_x(xy: FloatArray) -> FloatArray:
    """Mid-hip x per frame (one hip alone when the other is missing)."""
    hips = np.stack([xy[:, LANDMARK_INDEX["left_hip"], 0], xy[:, LANDMARK_INDEX["right_hip"], 0]])
    count = np.isfinite(hips).sum(axis=0)
    total = np.where(np.isfinite(hips), hips, 0.0).sum(axis=0)
    return np.asarray(np.where(count > 0, total / np.maximum(count, 1), np.nan), dtype=np.float64)


def ahead_of_pelvis(xy: FloatArray, forward: NDArray[np.int8], landmark: str) -> FloatArray:
    """How far a landmark is ahead of the pelvis along the facing direction, px."""
    sign = np.where(forward == 0, 1, forward).astype(np.float64)
    return np.asarray((xy[:, LANDMARK_INDEX[landmark], 0] - pelvis_x(xy)) * sign, dtype=np.float64)


def _extremes(
    signal: FloatArray, times: FloatArray, fps: float, prominence: float
) -> tuple[list[float], list[float]]:
    """Times of the maxima of ``signal`` (per contiguous segment) and the intervals between
    maxima of the same segment."""
    frame_index = np.arange(times.size, dtype=np.float64)
    cfg = gait_config().events
    found: list[float] = []
    intervals: list[float] = []
    for start, stop in segments(np.isfinite(signal)):
        seg = signal[start:stop]
        peaks, _ = find_peaks(
            seg, distance=max(1, round(cfg.min_stride_s * fps)), prominence=prominence
        )
        seg_times = [
            float(np.interp(start + _refine(seg, int(p)), frame_index, times)) for p in peaks
        ]
        intervals += np.diff(seg_times).tolist()
        found += seg_times
    return found, intervals


def initial_contacts(
    xy: FloatArray,
    times: FloatArray,
    forward: NDArray[np.int8],
    fps: float,
    leg_length: float,
) -> Contacts:
    """Each foot's contacts, and cadence from the median stride of each foot.

    One foot's stride is measured between its own contacts, so a foot the model loses or
    mislabels for a moment never halves or doubles a step time.
    """
    if fps <= 0 or not np.isfinite(leg_length) or leg_length <= 0:
        return Contacts()
    cfg = gait_config().events
    by_side: dict[str, list[float]] = {}
    strides: list[float] = []
    for side in SIDES:
        ahead = ahead_of_pelvis(xy, forward, f"{side}_heel")
        found, intervals = _extremes(ahead, times, fps, cfg.contact_prominence_legs * leg_length)
        by_side[side] = found
        strides += intervals
    total = sum(len(v) for v in by_side.values())
    cadence = None
    if total >= cfg.min_contacts and strides:
        cadence = 2.0 * 60.0 / float(np.median(strides))
    return Contacts(by_side, cadence)


def toe_offs(
    knee: dict[str, FloatArray], times: FloatArray, contacts: Contacts
) -> dict[str, list[float]]:
    """Each foot's toe-off in running: the knee's greatest extension late in stance.

    Zeni's toe-most-behind rule lands in early swing when running (the flexing knee carries
    the toe further back after it leaves the ground), so running uses peak knee extension
    after the stance's flexion peak (biomechanics.md, "Gait events"), searched within
    `max_stance_share` of a stride after each contact.
    """
    share = gait_config().stride.max_stance_share
    strides = [b - a for v in contacts.by_side.values() for a, b in itertools.pairwise(v)]
    if not strides:
        return {}
    stride = float(np.median(strides))
    frame_index = np.arange(times.size, dtype=np.float64)
    out: dict[str, list[float]] = {}
    for side in SIDES:
        angle = knee.get(side)
        found: list[float] = []
        for ic in contacts.by_side.get(side, []) if angle is not None else []:
            assert angle is not None
            inside = np.flatnonzero((times >= ic) & (times <= ic + share * stride))
            values = angle[inside]
            if inside.size < 5 or not np.isfinite(values).all():
                continue
            # The flexion peak of loading comes in the first half of the window.
            peak = int(np.argmax(values[: max(2, inside.size // 2)]))
            low = peak + int(np.argmin(values[peak:]))
            if low in (peak, inside.size - 1):
                continue  # still extending at the window's end: no turning point seen
            found.append(float(np.interp(inside[0] + _refine(values, low), frame_index, times)))
        out[side] = found
    return out


def _regular_share(intervals: list[float], tolerance: float) -> tuple[int, float]:
    """(number, share) of intervals within ±tolerance of their median."""
    if not intervals:
        return 0, 0.0
    values = np.asarray(intervals, dtype=np.float64)
    median = float(np.median(values))
    regular = int(np.count_nonzero(np.abs(values - median) <= tolerance * median))
    return regular, regular / values.size


def _alternation(contacts: Contacts) -> float | None:
    labelled = sorted((t, side) for side, times in contacts.by_side.items() for t in times)
    if len(labelled) < 3:
        return None
    changes = sum(1 for a, b in itertools.pairwise(labelled) if a[1] != b[1])
    return changes / (len(labelled) - 1)


def periodic_gait(
    step_times: list[float], step_cadence: float | None, contacts: Contacts
) -> str | None:
    """None when the steps form a real periodic alternating gait, else why not (a reason code:
    too_few_steps, irregular_steps, irregular_strides, not_alternating, cadences_disagree)."""
    cfg = gait_config().periodic
    regular, share = _regular_share(step_times, cfg.regular_tolerance)
    if step_cadence is None or regular < cfg.min_regular_steps:
        return "too_few_steps"
    if share < cfg.min_regular_share:
        return "irregular_steps"
    strides = [b - a for times in contacts.by_side.values() for a, b in itertools.pairwise(times)]
    if len(strides) >= 2 and _regular_share(strides, cfg.regular_tolerance)[1] < (
        cfg.min_regular_share
    ):
        return "irregular_strides"
    alternation = _alternation(contacts)
    if alternation is not None and alternation < cfg.min_alternation:
        return "not_alternating"
    if contacts.cadence_spm is not None:
        disagreement = abs(contacts.cadence_spm - step_cadence) / step_cadence
        if disagreement > cfg.max_cadence_disagreement:
            return "cadences_disagree"
    return None


def value_at(series: FloatArray, times: FloatArray, at: list[float]) -> list[float]:
    """Series values interpolated at the given times (NaN where the series is missing)."""
    ok = np.isfinite(series)
    out = []
    for t in at:
        i = int(np.searchsorted(times, t))
        lo, hi = max(i - 1, 0), min(i, times.size - 1)
        if ok[lo] and ok[hi]:
            out.append(float(np.interp(t, times[ok], series[ok])))
        else:
            out.append(float("nan"))
    return out
