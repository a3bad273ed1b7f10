"""Hampel outlier rejection, short-gap filling and filtering that never crosses a long gap."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from formcoach.feature_extraction.filters import clean, fill_short_gaps, hampel, lowpass


def _walk(n: int = 120, fps: float = 30.0) -> tuple[NDArray[Any], NDArray[Any]]:
    t = np.arange(n) / fps
    return t, np.stack([300 + 40 * np.sin(2 * np.pi * 1.2 * t), 200 + 10 * t], axis=1)


def test_hampel_removes_spikes_and_keeps_the_signal() -> None:
    t, xy = _walk()
    spiky = xy.copy()
    spikes = [10, 47, 48, 90]
    spiky[spikes, 0] += 200.0
    out = hampel(spiky, half_window=3, n_sigma=3.0, floor=2.0)
    assert np.isnan(out[spikes]).all(axis=1).all()
    kept = np.isfinite(out).all(axis=1)
    assert kept.sum() == len(t) - len(spikes)
    assert np.allclose(out[kept], xy[kept])


def test_hampel_floor_keeps_a_steady_stretch_whole() -> None:
    rng = np.random.default_rng(3)
    still = 100.0 + rng.normal(0, 0.2, size=(60, 2))
    still[20:40] = 100.0  # perfectly still: MAD = 0
    still[30, 0] += 0.5  # sub-pixel jitter is not an outlier
    assert np.isfinite(hampel(still, 3, 3.0, floor=3.0)).all()


def test_clean_fills_only_short_gaps_and_filters_each_segment() -> None:
    t, xy = _walk(fps=30.0)
    holes = xy.copy()
    holes[20:23] = np.nan  # 0.1 s: filled
    holes[60:75] = np.nan  # 0.5 s: stays a gap
    out = clean(
        holes,
        t,
        30.0,
        max_gap_s=0.25,
        cutoff_hz=6.0,
        order=4,
        hampel_half_window=3,
        hampel_n_sigma=3.0,
        hampel_floor=2.0,
    )
    assert np.isfinite(out[20:23]).all()
    assert np.isnan(out[60:75]).all()
    # Filtering stays close to the smooth truth on both sides of the long gap.
    ok = np.isfinite(out).all(axis=1)
    assert np.abs(out[ok] - xy[ok]).max() < 4.0


def test_lowpass_never_smears_across_a_gap() -> None:
    t = np.arange(100) / 30.0
    step = np.where(t < 1.5, 0.0, 100.0)
    step[44:46] = np.nan
    out = lowpass(step, 30.0, 6.0, 4)
    assert np.allclose(out[:44], 0.0, atol=1e-6) and np.allclose(out[46:], 100.0, atol=1e-6)
    assert np.isnan(fill_short_gaps(step, t, 0.01)[44:46]).all()
