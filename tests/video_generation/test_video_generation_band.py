"""The resistance band of band drills: drawn around both thighs above the knees, stretching
with the motion, and only in band drills."""

from __future__ import annotations

import math

import numpy as np
import pytest

from formcoach.advice_generation.service import get_drill
from formcoach.video_generation.band import band_ends, band_width, thigh_radius
from formcoach.video_generation.figure import build_figure
from formcoach.video_generation.motions import get_motion
from formcoach.video_generation.motions_strength import BAND_AT
from formcoach.video_generation.palette import BAND
from formcoach.video_generation.render import prepare_clip


def _band_pixels(frame: np.ndarray) -> int:
    return int(np.count_nonzero(np.all(frame == np.array(BAND, dtype=np.uint8), axis=2)))


@pytest.mark.parametrize(
    ("drill_id", "size"), [("band_side_walk", "1280x720"), ("banded_squat", "720x1280")]
)
def test_band_drills_show_the_band_on_the_thighs(drill_id: str, size: str) -> None:
    clip = prepare_clip(get_drill(drill_id), "en", size, "4")
    assert clip.motion.band == BAND_AT
    for i in range(clip.demo_start, clip.demo_end, 10):
        figure = clip.figures[i]
        assert "band" in [part.name for part in figure.parts]
        frame = clip.draw(i)
        # A strip of band colour, at least as long as a thigh is wide, is on screen.
        assert _band_pixels(frame) > clip.camera.scale * 0.05 * 2, (drill_id, i)
        # Each end is on the outside of a thigh, just above the knee.
        a, b = band_ends(figure, BAND_AT)
        j = figure.joints
        for side in ("r", "l"):
            at = j[f"hip_{side}"] + BAND_AT * (j[f"knee_{side}"] - j[f"hip_{side}"])
            nearest = min(float(np.hypot(*(a - at))), float(np.hypot(*(b - at))))
            assert nearest <= thigh_radius(BAND_AT) * 1.1 + 1e-9, (drill_id, side)


def test_the_band_stretches_and_thins_as_the_legs_part() -> None:
    motion = get_motion("band_side_walk")
    poses = {k.t: k.pose for k in motion.keys}
    narrow, wide = build_figure(poses[0.0]), build_figure(poses[0.9])
    (a0, b0), (a1, b1) = band_ends(narrow, BAND_AT), band_ends(wide, BAND_AT)
    short, long = math.hypot(*(b0 - a0)), math.hypot(*(b1 - a1))
    assert long > short * 1.1
    assert band_width(a1, b1, BAND_AT) < band_width(a0, b0, BAND_AT)


def test_other_drills_have_no_band() -> None:
    for drill_id in ("squat", "side_lying_hip_abduction"):
        motion = get_motion(drill_id)
        assert motion.band is None
    clip = prepare_clip(get_drill("box_squat"), "en", "1280x720", "4")
    assert all("band" not in [p.name for p in f.parts] for f in clip.figures)
    assert _band_pixels(clip.draw(clip.demo_start + 20)) == 0
