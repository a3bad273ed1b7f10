"""The annotated video names the subject (its track id) and says when the subject is lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from formcoach.kit.pipeline import FEATURES, POSE, PROXY
from formcoach.kit.video_io import is_playable_h264, iter_frames
from formcoach.video_processing.annotate import SUBJECT, annotate
from tests.support.pose import pipeline_run

pytestmark = pytest.mark.slow


def _tag_pixels(image: np.ndarray) -> int:  # type: ignore[type-arg]
    # The tag's yellow survives compression as "red and green high, blue low", which neither
    # the wall nor the figure's skin, shirt or hair are.
    r, g, b = (image[:, :, i].astype(np.int16) for i in range(3))
    yellow = (r > 170) & (g > 150) & (b < 140) & (r - b > 80)
    assert SUBJECT[2] < 140
    return int(np.count_nonzero(yellow))


def test_annotated_video_shows_the_subject_id(tmp_path: Path) -> None:
    ctx, truth = pipeline_run("running_30_landscape")
    out = tmp_path / "annotated.mp4"
    progress: list[float] = []
    annotate(
        ctx.storage.local_path(ctx.key(PROXY)),
        ctx.storage.local_path(ctx.key(POSE)),
        ctx.read_json(FEATURES),
        out,
        progress.append,
    )
    assert is_playable_h264(out) and progress[-1] == 1.0
    frames = list(iter_frames(out))
    assert len(frames) == truth.times.size
    # The "ID 1" tag sits above the head: the figure's head is near the top of the frame.
    head_y = int(truth.joints_px["head"][10, 1])
    band = frames[10].image[: head_y + 20]
    assert _tag_pixels(band) > 10
