"""Long clips run as two halves in two threads; they join without a seam in frames or tracking."""

from __future__ import annotations

import numpy as np
import pytest

from formcoach.pose_estimation.detect import detect_video
from formcoach.pose_estimation.service import select_subject
from tests.support.pose import detections, ground_truth, make_test_settings

pytestmark = pytest.mark.slow


def test_two_halves_match_a_single_pass() -> None:
    path, truth = ground_truth("running_30_landscape")
    # The real threshold is 10 s; lowered so a 3 s clip takes the two-halves path.
    settings = make_test_settings().model_copy(
        update={"pose_parallel_min_s": 1.0, "pose_chunk_overlap_s": 0.5}
    )
    halves, width, height = detect_video(path, settings)
    single, _, _ = detections(path)
    assert [d.index for d in halves] == list(range(truth.times.size))
    assert np.allclose([d.time_s for d in halves], [d.time_s for d in single])
    pose = select_subject(halves, width, height, settings)
    assert len(pose.tracks) == 1 and pose.frames_with_subject == truth.times.size
    # After the seam the warmed-up graphs see what one pass sees.
    reference = select_subject(single, width, height, settings)
    knees = [25, 26, 27, 28]
    error = np.abs(pose.keypoints[:, knees, :2] - reference.keypoints[:, knees, :2])
    assert float(np.median(error)) < 2.0
    assert float(np.percentile(error, 95)) < 0.05 * height
