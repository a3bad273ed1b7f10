"""The resistance band of band drills: a mini band looped around both thighs above the knees.

It is drawn as the front strand of the loop, from the outside of one thigh to the outside of
the other, so it visibly stretches as the knees push apart (front view) and wraps the near
thigh when both thighs overlap (side view). A stretched band gets thinner: rubber keeps its
volume, so its width falls with the square root of the stretch.
"""

from __future__ import annotations

import math

import numpy as np

from formcoach.video_generation.figure import HIP_HALF, THIGH_RADII, Figure, Layer, Part, Vec
from formcoach.video_generation.palette import BAND

# A 5 cm wide mini band on a 1.75 m person, in body heights.
BAND_WIDTH = 0.028
# Drawn a little proud of the thigh surface, so it reads as wrapped around the leg.
_PROUD = 1.06


def thigh_radius(at: float) -> float:
    ts, rs = zip(*THIGH_RADII, strict=True)
    return float(np.interp(at, ts, rs))


def band_ends(figure: Figure, at: float) -> tuple[Vec, Vec]:
    """World (x, y) of the band's two ends, ``at`` of the way from the hips to the knees."""
    j = figure.joints
    right = j["hip_r"] + at * (j["knee_r"] - j["hip_r"])
    left = j["hip_l"] + at * (j["knee_l"] - j["hip_l"])
    r = thigh_radius(at) * _PROUD
    gap = right - left
    length = math.hypot(float(gap[0]), float(gap[1]))
    if length > r:
        u = gap / length
    else:  # thighs overlap (side view): the band crosses the near thigh square to its axis
        axis = j["knee_r"] - j["hip_r"]
        axis = axis / max(math.hypot(float(axis[0]), float(axis[1])), 1e-9)
        u = np.array([-axis[1], axis[0]])
    centre = (right + left) / 2.0
    half = length / 2.0 + r
    return centre - half * u, centre + half * u


def band_width(a: Vec, b: Vec, at: float) -> float:
    """Narrower as the band stretches past its resting loop (thighs side by side)."""
    rest = 2.0 * (HIP_HALF + thigh_radius(at) * _PROUD)
    stretch = max(math.hypot(*(b - a)) / rest, 1.0)
    return BAND_WIDTH / math.sqrt(stretch)


def with_band(figure: Figure, at: float) -> Figure:
    """The figure with the band's front strand drawn over both thighs."""
    a, b = band_ends(figure, at)
    d = b - a
    n = np.array([-d[1], d[0]]) / max(math.hypot(float(d[0]), float(d[1])), 1e-9)
    half_w = band_width(a, b, at) / 2.0
    strip = np.array([a + half_w * n, b + half_w * n, b - half_w * n, a - half_w * n])
    legs = [part.depth for part in figure.parts if part.name.startswith("leg_")]
    band = Part("band", max(legs) + 1e-3, (Layer(strip, BAND),))
    parts = sorted((*figure.parts, band), key=lambda part: part.depth)
    return Figure(tuple(parts), figure.joints)
