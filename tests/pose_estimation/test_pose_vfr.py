"""Variable-frame-rate clips keep their real timestamps through the proxy and into the pose."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from formcoach.kit.video_io import H264Writer, iter_frames
from formcoach.pose_estimation.service import estimate
from formcoach.video_processing.service import make_proxy, probe
from tests.support.pose import ground_truth, make_test_settings

pytestmark = pytest.mark.slow


def test_vfr_phone_clip_keeps_real_times(tmp_path: Path) -> None:
    source, _ = ground_truth("running_30_landscape")
    frames = list(iter_frames(source))[:45]
    # A phone's variable rate: mostly 30 fps, some 60 fps bursts and a dropped-frame hole.
    steps = np.tile([1 / 30, 1 / 30, 1 / 60, 1 / 30, 1 / 15], 9)[: len(frames) - 1]
    times = np.concatenate([[0.0], np.cumsum(steps)])
    vfr = tmp_path / "vfr.mp4"
    with H264Writer(vfr, 1280, 720, 30.0) as writer:
        for frame, t in zip(frames, times, strict=True):
            writer.write(frame.image, float(t))
    settings = make_test_settings()
    proxy = tmp_path / "proxy.mp4"
    make_proxy(vfr, proxy, probe(vfr, settings), settings.proxy_max_side, lambda _f: None)
    proxy_times = np.array([f.time_s for f in iter_frames(proxy)])
    assert np.allclose(proxy_times, times, atol=1e-4)
    pose = estimate(proxy, settings)
    assert np.allclose(pose.times, times, atol=1e-4)
    assert pose.frames_with_subject == len(frames)
