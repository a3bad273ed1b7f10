"""Keypoint cleaning: short-gap interpolation and zero-lag low-pass filtering.

Signals are (N,) or (N, C) float arrays with NaN for missing samples. A sample of a
multi-channel signal (e.g. a landmark's x and y) counts as present only when every channel is.
"""

from __future__ import annotations

import warnings
from itertools import pairwise

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray
from scipy.signal import butter, filtfilt

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# Scales a median absolute deviation to a standard deviation for Gaussian noise.
_MAD_TO_SIGMA = 1.4826
# Keep the cut-off safely inside the digital band: at 10 fps a 6 Hz cut-off is not realisable.
_MAX_NYQUIST_FRACTION = 0.8


def _as_2d(signal: FloatArray) -> FloatArray:
    return signal[:, None] if signal.ndim == 1 else signal


def valid_mask(signal: FloatArray) -> BoolArray:
    """True where every channel of the sample is finite."""
    return np.asarray(np.isfinite(_as_2d(signal)).all(axis=1), dtype=np.bool_)


def segments(mask: BoolArray) -> list[tuple[int, int]]:
    """Half-open [start, stop) index ranges of the runs of True in ``mask``."""
    padded = np.concatenate(([False], mask.astype(bool), [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def hampel(signal: FloatArray, half_window: int, n_sigma: float, floor: float) -> FloatArray:
    """Outliers removed (set to NaN): samples further than ``n_sigma`` robust deviations from
    the median of the 2*half_window+1 samples around them.

    ``floor`` is the smallest deviation ever called an outlier, so a perfectly steady stretch
    (MAD = 0) does not turn its sub-pixel jitter into gaps. A sample of a multi-channel signal
    is removed whole when any channel is an outlier (a landmark is wrong, not its x alone).
    """
    out = np.array(signal, dtype=np.float64, copy=True)
    flat = _as_2d(out)
    if half_window < 1 or flat.shape[0] < 3:
        return out
    padded = np.pad(flat, ((half_window, half_window), (0, 0)), constant_values=np.nan)
    windows = sliding_window_view(padded, 2 * half_window + 1, axis=0)  # (N, C, W)
    with warnings.catch_warnings():
        # All-NaN windows (long gaps) legitimately have no median.
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(windows, axis=2)
        mad = np.nanmedian(np.abs(windows - median[:, :, None]), axis=2)
    limit = np.maximum(n_sigma * _MAD_TO_SIGMA * np.nan_to_num(mad), floor)
    outlier = (np.abs(flat - median) > limit).any(axis=1)
    flat[outlier] = np.nan
    return out


def fill_short_gaps(signal: FloatArray, times: FloatArray, max_gap_s: float) -> FloatArray:
    """Linearly interpolate interior gaps lasting at most ``max_gap_s``; longer ones stay NaN.

    A gap's length is the time its missing frames cover (gap span minus one frame interval),
    so k missing frames at f fps last k/f s. Leading and trailing gaps are never extrapolated.
    """
    out = np.array(signal, dtype=np.float64, copy=True)
    flat = _as_2d(out)
    mask = valid_mask(flat)
    runs = segments(mask)
    if len(runs) < 2:
        return out
    steps = np.diff(times)
    frame_dt = float(np.median(steps)) if steps.size else 0.0
    for (_, prev_stop), (next_start, _) in pairwise(runs):
        before, after = prev_stop - 1, next_start
        if times[after] - times[before] - frame_dt > max_gap_s + 1e-9:
            continue
        span = slice(before, after + 1)
        for c in range(flat.shape[1]):
            flat[span, c] = np.interp(
                times[span], [times[before], times[after]], [flat[before, c], flat[after, c]]
            )
    return out


def butter_coefficients(
    fps: float, cutoff_hz: float, order: int
) -> tuple[FloatArray, FloatArray] | None:
    """Low-pass Butterworth (b, a), cut-off clamped below Nyquist; None when fps is unknown."""
    if fps <= 0 or cutoff_hz <= 0 or order < 1:
        return None
    nyquist = fps / 2.0
    wn = min(cutoff_hz / nyquist, _MAX_NYQUIST_FRACTION)
    b, a = butter(order, wn, btype="low")
    return np.asarray(b, dtype=np.float64), np.asarray(a, dtype=np.float64)


def lowpass(signal: FloatArray, fps: float, cutoff_hz: float, order: int) -> FloatArray:
    """Zero-lag Butterworth (filtfilt) run on each contiguous run of present samples.

    Never filtering across a gap keeps a missing stretch from smearing into its neighbours.
    Runs too short for filtfilt's edge padding are left as they are: with only a few samples
    there is no noise spectrum to speak of, and a shortened pad would distort the ends.
    """
    out = np.array(signal, dtype=np.float64, copy=True)
    coeffs = butter_coefficients(fps, cutoff_hz, order)
    if coeffs is None:
        return out
    b, a = coeffs
    padlen = 3 * max(len(a), len(b))
    flat = _as_2d(out)
    for start, stop in segments(valid_mask(flat)):
        if stop - start > padlen:
            flat[start:stop] = filtfilt(b, a, flat[start:stop], axis=0, padlen=padlen)
    return out


def clean(
    signal: FloatArray,
    times: FloatArray,
    fps: float,
    *,
    max_gap_s: float,
    cutoff_hz: float,
    order: int,
    hampel_half_window: int = 0,
    hampel_n_sigma: float = 3.0,
    hampel_floor: float = 0.0,
) -> FloatArray:
    """Outliers removed, short gaps filled, then low-passed per segment (Sports2D's order)."""
    cleaned, _ = clean_observed(
        signal,
        times,
        fps,
        max_gap_s=max_gap_s,
        cutoff_hz=cutoff_hz,
        order=order,
        hampel_half_window=hampel_half_window,
        hampel_n_sigma=hampel_n_sigma,
        hampel_floor=hampel_floor,
    )
    return cleaned


def clean_observed(
    signal: FloatArray,
    times: FloatArray,
    fps: float,
    *,
    max_gap_s: float,
    cutoff_hz: float,
    order: int,
    hampel_half_window: int = 0,
    hampel_n_sigma: float = 3.0,
    hampel_floor: float = 0.0,
) -> tuple[FloatArray, BoolArray]:
    """``clean`` plus the samples that were seen: present and not an outlier, before filling.

    Filled samples are plausible in-betweens for the filter and for event timing, but never
    evidence of an extreme: peaks are read from the observed samples only.
    """
    if hampel_half_window > 0:
        signal = hampel(signal, hampel_half_window, hampel_n_sigma, hampel_floor)
    observed = valid_mask(signal)
    return lowpass(fill_short_gaps(signal, times, max_gap_s), fps, cutoff_hz, order), observed
