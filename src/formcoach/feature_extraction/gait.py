"""Gait events from keypoints: initial contacts by Zeni's rule, cadence, knee angle at contact.

Zeni et al. (2008, Gait & Posture 27:710) place initial contact at the moment the heel is
furthest forward of the pelvis, and toe-off at the moment the toe is furthest behind it; the
rule needs no force plate and works on treadmill and overground clips alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.signal import find_peaks

from formcoach.feature_extraction.filters import FloatArray, segments
from formcoach.pose_estimation.schemas import LANDMARK_INDEX

# Fastest plausible stride of one foot (~240 steps/min overall): closer peaks are noise.
_MIN_STRIDE_S = 0.45
# A contact moves the heel ahead of the pelvis by a good part of a leg; a fifth rejects sway.
_PROMINENCE_LEGS = 0.2
_MIN_CONTACTS = 4


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
    hips = np.stack([xy[:, LANDMARK_INDEX["left_hip"], 0], xy[:, LANDMARK_INDEX["right_hip"], 0]])
    count = np.isfinite(hips).sum(axis=0)
    pelvis = np.where(count > 0, np.nansum(hips, axis=0) / np.maximum(count, 1), np.nan)
    frame_index = np.arange(times.size, dtype=np.float64)
    by_side: dict[str, list[float]] = {}
    strides: list[float] = []
    for side in ("left", "right"):
        heel = xy[:, LANDMARK_INDEX[f"{side}_heel"], 0]
        ahead = (heel - pelvis) * np.where(forward == 0, 1, forward)
        found: list[float] = []
        for start, stop in segments(np.isfinite(ahead)):
            seg = ahead[start:stop]
            peaks, _ = find_peaks(
                seg,
                distance=max(1, round(_MIN_STRIDE_S * fps)),
                prominence=_PROMINENCE_LEGS * leg_length,
            )
            seg_times = [
                float(np.interp(start + _refine(seg, int(p)), frame_index, times)) for p in peaks
            ]
            strides += np.diff(seg_times).tolist()
            found += seg_times
        by_side[side] = found
    total = sum(len(v) for v in by_side.values())
    cadence = None
    if total >= _MIN_CONTACTS and strides:
        cadence = 2.0 * 60.0 / float(np.median(strides))
    return Contacts(by_side, cadence)


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
