"""Small numeric helpers over the per-frame series of features.json (null = no valid value)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from formcoach.feature_extraction.schemas import FeaturesDocument

FloatArray = NDArray[np.float64]


def as_array(values: Sequence[float | None] | None) -> FloatArray:
    if not values:
        return np.zeros(0, dtype=np.float64)
    return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)


def series(features: FeaturesDocument, name: str) -> FloatArray:
    return as_array(features.series.get(name))


def observed_series(features: FeaturesDocument, name: str) -> FloatArray:
    """The series at its observed frames only (features.json `observed`), NaN elsewhere.

    Filled gaps are fine for timing and medians but never the evidence of a peak. A file
    without an `observed` entry for the series (written before it existed) counts as seen.
    """
    values = series(features, name)
    runs = features.observed.get(name)
    if runs is None:
        return values
    seen = np.zeros(values.size, dtype=np.bool_)
    for start, stop in runs:
        seen[int(start) : int(stop)] = True
    return np.where(seen, values, math.nan)


def times(features: FeaturesDocument) -> FloatArray:
    return as_array(features.times)


def _finite(values: FloatArray) -> FloatArray:
    finite: FloatArray = values[np.isfinite(values)]
    return finite


def median(values: FloatArray) -> float | None:
    finite = _finite(values)
    return float(np.median(finite)) if finite.size else None


def percentile(values: FloatArray, q: float) -> float | None:
    finite = _finite(values)
    return float(np.percentile(finite, q)) if finite.size else None


def maximum(values: FloatArray) -> float | None:
    finite = _finite(values)
    return float(finite.max()) if finite.size else None


def minimum(values: FloatArray) -> float | None:
    finite = _finite(values)
    return float(finite.min()) if finite.size else None


def spread(values: FloatArray, low_q: float = 10, high_q: float = 90) -> float | None:
    """The p10–p90 range: the size of a swing without letting single outliers decide."""
    low, high = percentile(values, low_q), percentile(values, high_q)
    return None if low is None or high is None else high - low


def pairwise_max(a: FloatArray, b: FloatArray) -> FloatArray:
    """Per frame, the larger of two series, ignoring a side that is missing in that frame."""
    n = min(a.size, b.size)
    if n == 0:
        return a if a.size else b
    stacked = np.vstack([a[:n], b[:n]])
    out = np.full(n, math.nan)
    valid = np.isfinite(stacked).any(axis=0)
    out[valid] = np.nanmax(stacked[:, valid], axis=0)
    return out


def frame_duration(fps_candidates: Iterable[object], t: FloatArray) -> float:
    """How long one frame is shown: the first usable fps, else the median time step."""
    for fps in fps_candidates:
        if isinstance(fps, int | float) and not isinstance(fps, bool) and fps > 0:
            return 1.0 / float(fps)
    steps = np.diff(_finite(t))
    return float(np.median(steps)) if steps.size else 0.0


def spans(
    t: FloatArray, flagged: NDArray[np.bool_], frame_s: float, merge_gap_s: float
) -> list[tuple[float, float]]:
    """Time ranges of consecutive flagged frames; ranges closer than merge_gap_s become one.

    A range ends when its last frame stops being shown, so a single frame is not a zero-length
    range.
    """
    n = min(t.size, flagged.size)
    result: list[tuple[float, float]] = []
    start: float | None = None
    last = 0.0
    for i in range(n):
        if flagged[i] and math.isfinite(t[i]):
            if start is None:
                start = float(t[i])
            last = float(t[i])
        elif start is not None:
            result.append((start, last + frame_s))
            start = None
    if start is not None:
        result.append((start, last + frame_s))
    merged: list[tuple[float, float]] = []
    for begin, end in result:
        if merged and begin - merged[-1][1] <= merge_gap_s:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((begin, end))
    return merged


def round_or_none(value: float | None, digits: int = 1) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)
