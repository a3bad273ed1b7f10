"""Pixels -> metres: the body as its own ruler, and the floor line (as Sports2D does).

The sum shoulder-hip + hip-knee + knee-ankle barely changes with posture and, in Winter's
anthropometric table (Biomechanics and Motor Control of Human Movement, 4th ed., fig. 4.1),
is 0.779 of stature (trunk 0.288 + thigh 0.245 + leg 0.246). Its median length in pixels over
the clip and the person's height give metres per pixel. Without a height the default stature
is used and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal

import numpy as np

from formcoach.feature_extraction.filters import FloatArray
from formcoach.pose_estimation.schemas import LANDMARK_INDEX

BODY_FRACTION_OF_HEIGHT = 0.288 + 0.245 + 0.246
_FOOT_POINTS = ("left_heel", "right_heel", "left_foot_index", "right_foot_index")
_FLOOR_BINS = 12
# The floor's tilt is only fitted when the feet travel this many body sizes across the image.
_MIN_FLOOR_SPAN = 1.5

METHOD = {
    "ja": "身長（{height:.0f} cm、{source}）と、肩–股関節–膝–足首の長さ（身長の 77.9 %、"
    "Winter の人体寸法表）の中央値から換算。床線は足の最下点から推定。",
    "en": "Scaled from the stature ({height:.0f} cm, {source}) and the median shoulder-hip-"
    "knee-ankle length (77.9 % of stature, Winter's anthropometric table). The floor line is "
    "fitted to the lowest foot points.",
}
SOURCE = {
    "user": {"ja": "入力値", "en": "as entered"},
    "default": {
        "ja": "既定値。身長を入力すると正確になります",
        "en": "default; enter the height for accuracy",
    },
}


@dataclass(frozen=True)
class Scale:
    m_per_px: float | None
    height_cm: float
    height_source: Literal["user", "default"]
    floor_y0_px: float | None  # floor line row at image x = 0
    floor_slope: float  # d(row)/d(column) of the floor line

    def floor_y(self, x: FloatArray) -> FloatArray:
        base = np.nan if self.floor_y0_px is None else self.floor_y0_px
        return np.asarray(base + self.floor_slope * x, dtype=np.float64)

    def to_metres(self, xy: FloatArray) -> FloatArray:
        """(..., 2) px -> metres: x to the image right, y up from the floor line."""
        m = np.nan if self.m_per_px is None else self.m_per_px
        out = np.empty_like(xy, dtype=np.float64)
        out[..., 0] = xy[..., 0] * m
        out[..., 1] = (self.floor_y(xy[..., 0]) - xy[..., 1]) * m
        return out

    def document(self) -> dict[str, Any]:
        source = SOURCE[self.height_source]
        return {
            "m_per_px": None if self.m_per_px is None else round(self.m_per_px, 7),
            "height_cm": self.height_cm,
            "height_source": self.height_source,
            "floor_y0_px": None if self.floor_y0_px is None else round(self.floor_y0_px, 2),
            "floor_slope": round(self.floor_slope, 5),
            "method": {
                lang: METHOD[lang].format(height=self.height_cm, source=source[lang])
                for lang in ("ja", "en")
            },
        }


def floor_line(xy: FloatArray, body_size: float) -> tuple[float | None, float]:
    """(row at x = 0, slope) of the floor, from the lowest foot point of each frame.

    The floor is tilted (a camera not quite level) only when the person travels far enough
    across the image to show it; then a line goes through the lowest point of each stretch of
    the path. Otherwise it is the row the feet come down to (90th percentile: swing feet and
    the odd overshooting estimate are ignored).
    """
    feet = np.stack([xy[:, LANDMARK_INDEX[n], :] for n in _FOOT_POINTS], axis=1)
    rows = np.where(np.isfinite(feet[:, :, 1]), feet[:, :, 1], -np.inf)
    lowest_i = np.argmax(rows, axis=1)
    lowest = feet[np.arange(feet.shape[0]), lowest_i]
    lowest = lowest[np.isfinite(lowest).all(axis=1)]
    if lowest.shape[0] == 0:
        return None, 0.0
    level = float(np.percentile(lowest[:, 1], 90))
    span = float(np.percentile(lowest[:, 0], 95) - np.percentile(lowest[:, 0], 5))
    if not np.isfinite(body_size) or span < _MIN_FLOOR_SPAN * body_size:
        return level, 0.0
    edges = np.linspace(lowest[:, 0].min(), lowest[:, 0].max(), _FLOOR_BINS + 1)
    xs, ys = [], []
    for lo, hi in pairwise(edges):
        inside = lowest[(lowest[:, 0] >= lo) & (lowest[:, 0] <= hi)]
        if inside.shape[0]:
            xs.append(float(np.median(inside[:, 0])))
            ys.append(float(np.percentile(inside[:, 1], 90)))
    if len(xs) < 3:
        return level, 0.0
    slope, intercept = np.polyfit(np.array(xs), np.array(ys), 1)
    return float(intercept), float(slope)


def estimate_scale(
    xy: FloatArray, body_size_px: float, height_cm: float | None, default_height_cm: float
) -> Scale:
    source: Literal["user", "default"] = "user" if height_cm else "default"
    height = float(height_cm) if height_cm else default_height_cm
    m_per_px = None
    if np.isfinite(body_size_px) and body_size_px > 0:
        m_per_px = height / 100.0 * BODY_FRACTION_OF_HEIGHT / body_size_px
    y0, slope = floor_line(xy, body_size_px)
    return Scale(m_per_px, height, source, y0, slope)
