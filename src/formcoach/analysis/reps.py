"""Rep counting: a hysteresis state machine on one flexion angle (biomechanics.md).

A rep starts when the angle leaves the start zone, counts as full when it passes the target
and ends when the angle is back in the start zone. Two thresholds rather than one keep the
≈5° jitter of 2D pose angles from counting a rep twice. An excursion that swings at least
min_swing_deg but misses the target is a partial rep; shorter or smaller excursions are noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from formcoach.analysis import series as s
from formcoach.analysis.schemas import RepRule


@dataclass(frozen=True)
class Rep:
    start_s: float
    turn_s: float  # the turning point (deepest or highest)
    end_s: float
    extreme_deg: float  # the flexion at the turning point
    full: bool
    first_s: float  # out to the turning point (eccentric for a squat)
    pause_s: float  # time within pause_band_deg of the turning point
    second_s: float  # back to the start zone

    @property
    def eccentric_s(self) -> float:
        return self.first_s

    @property
    def concentric_s(self) -> float:
        return self.second_s


def combine(left: s.FloatArray, right: s.FloatArray, how: str) -> s.FloatArray:
    """One signal from the two sides; a frame missing one side uses the other.

    "moving" takes the side that swings more (p10-p90): in a single-leg squat the free leg is
    held bent while the standing leg does the work, so neither max nor mean would do.
    """
    if how == "max":
        return s.pairwise_max(left, right)
    if how == "moving":
        swing_l, swing_r = s.spread(left) or 0.0, s.spread(right) or 0.0
        return left if swing_l >= swing_r else right
    n = min(left.size, right.size)
    if n == 0:
        return left if left.size else right
    stacked = np.vstack([left[:n], right[:n]])
    out = np.full(n, math.nan)
    valid = np.isfinite(stacked).any(axis=0)
    out[valid] = np.nanmean(stacked[:, valid], axis=0)
    return out


def detect_reps(times: s.FloatArray, flexion: s.FloatArray, rule: RepRule) -> list[Rep]:
    """Every full and partial rep, in time order. Frames without a value are skipped."""
    # Work on a signal that grows toward the target, whichever way the joint moves.
    sign = 1.0 if rule.target_deg >= rule.start_deg else -1.0
    n = min(times.size, flexion.size)
    y = sign * flexion[:n]
    t = times[:n]
    start, target = sign * rule.start_deg, sign * rule.target_deg
    reps: list[Rep] = []
    begin: int | None = None
    floor = 0  # the first frame the next rep may reach back to
    for i in range(n):
        if not (math.isfinite(y[i]) and math.isfinite(t[i])):
            continue
        if begin is None:
            if y[i] > start:
                begin = i
        elif y[i] <= start:
            # The thresholds only decide that a rep happened; its phases start and end where
            # the movement does, at the turning points on either side.
            first = _walk(y, begin, -1, floor)
            last = _walk(y, i, 1, n - 1)
            rep = _close(t, y, first, last, target, sign, rule)
            if rep is not None:
                reps.append(rep)
                floor = last
            begin = None
    return reps


def _walk(y: s.FloatArray, i: int, step: int, limit: int) -> int:
    """From frame i, follow the signal downhill in one direction to its local minimum."""
    while (limit - i) * step > 0:
        j = i + step
        if not (math.isfinite(y[j]) and y[j] < y[i]):
            break
        i = j
    return i


def _close(
    t: s.FloatArray,
    y: s.FloatArray,
    begin: int,
    end: int,
    target: float,
    sign: float,
    rule: RepRule,
) -> Rep | None:
    window = y[begin : end + 1]
    finite = np.isfinite(window)
    if not finite.any():
        return None
    turn = begin + int(np.nanargmax(window))
    peak = float(y[turn])
    # The start zone's edge is where the rep began and ended; swing is measured from there.
    low = float(np.nanmin(window))
    duration = float(t[end] - t[begin])
    if duration < rule.min_rep_s or peak - low < rule.min_swing_deg:
        return None
    near = np.where(finite, window >= peak - rule.pause_band_deg, False)
    idx = np.flatnonzero(near) + begin
    pause_start, pause_end = float(t[idx[0]]), float(t[idx[-1]])
    return Rep(
        start_s=float(t[begin]),
        turn_s=float(t[turn]),
        end_s=float(t[end]),
        extreme_deg=sign * peak,
        full=peak >= target,
        first_s=pause_start - float(t[begin]),
        pause_s=pause_end - pause_start,
        second_s=float(t[end]) - pause_end,
    )


def value_at(times: s.FloatArray, values: s.FloatArray, at_s: float) -> float | None:
    """The value of a series at the frame nearest a time, or None where it is missing."""
    n = min(times.size, values.size)
    if n == 0:
        return None
    i = int(np.nanargmin(np.abs(times[:n] - at_s)))
    v = float(values[i])
    return v if math.isfinite(v) else None
