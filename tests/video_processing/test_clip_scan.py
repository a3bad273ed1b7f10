"""The clip-quality scan (issue 19 item 4) on clips made from the real fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from formcoach.video_processing.clip_problems import cut_frames, problems
from formcoach.video_processing.clip_scan import ClipScan, scan, scan_config
from tests.conftest import FIXTURES
from tests.support import clips

DEMO4 = FIXTURES / "sports2d-demo4-walk-side.mp4"
TWO_PEOPLE = FIXTURES / "sports2d-demo-two-people.mp4"


def test_a_cut_between_two_clips_is_found_at_the_join(tmp_path: Path) -> None:
    clip = clips.concat([(DEMO4, 1.0, 3.0), (TWO_PEOPLE, 3.0, 5.0)], tmp_path / "cut.mp4")
    result = scan(clip)
    cuts = cut_frames(result, scan_config())
    assert cuts == [60]
    assert abs(result.times[cuts[0]] - 2.0) < 0.05


def test_a_pan_moves_the_background(tmp_path: Path) -> None:
    clip = clips.pan(DEMO4, tmp_path / "pan.mp4", 1.0, 4.0, 150.0)
    result = scan(clip)
    found, _ = problems(result, np.full((result.times.size, 4), np.nan))
    assert [p.code for p in found] == ["camera_moving"]
    assert found[0].end_s - found[0].start_s > 2.0


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.mp4")))
def test_no_fixture_clip_has_a_cut(name: str, tmp_path: Path) -> None:
    result = scan(FIXTURES / name)
    assert result.times.size > 50
    assert cut_frames(result, scan_config()) == []
    result.save(tmp_path / "scan.npz")
    again = ClipScan.load(tmp_path / "scan.npz")
    assert np.array_equal(again.hist_change, result.hist_change)
