"""Left/right consistency: near/far limb swaps are found from continuity and undone."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from formcoach.pose_estimation.service import select_subject
from formcoach.pose_estimation.sides import ARM_PAIRS, LEG_PAIRS, fix_left_right_swaps
from tests.support.pose import TWO_PEOPLE, detections, ground_truth, make_test_settings

pytestmark = pytest.mark.slow


def _swap_legs(kp: NDArray[Any], frames: list[int]) -> NDArray[Any]:
    out = kp.copy()
    left = [a for a, _ in LEG_PAIRS]
    right = [b for _, b in LEG_PAIRS]
    for t in frames:
        out[t, left + right] = kp[t, right + left]
    return out


def _running_pose() -> tuple[NDArray[Any], NDArray[Any]]:
    path, _ = ground_truth("running_30_landscape")
    found, width, height = detections(path)
    pose = select_subject(found, width, height, make_test_settings())
    return pose.keypoints, pose.detected


def test_injected_leg_swaps_are_undone() -> None:
    clean, detected = _running_pose()
    # Single frames and a block of five, as MediaPipe produces them in side views.
    swapped_frames = [7, 23, 24, 40, 55, 56, 57, 58, 59, 71]
    corrupted = _swap_legs(clean, swapped_frames)
    fixed, count = fix_left_right_swaps(corrupted, detected, make_test_settings().swap_prior)
    assert count >= len(swapped_frames)
    knees = [25, 26, 27, 28]
    assert np.allclose(fixed[:, knees], clean[:, knees], equal_nan=True)


def test_clean_labels_are_left_alone() -> None:
    clean, detected = _running_pose()
    fixed, _ = fix_left_right_swaps(clean, detected, make_test_settings().swap_prior)
    # Labels the model got right stay as they are (the whole leg, both sides).
    legs = [i for pair in LEG_PAIRS for i in pair]
    same = np.all(np.isclose(fixed[:, legs], clean[:, legs], equal_nan=True), axis=(1, 2))
    assert same.mean() >= 0.95


def test_arms_are_fixed_independently_of_legs() -> None:
    clean, detected = _running_pose()
    corrupted = clean.copy()
    left = [a for a, _ in ARM_PAIRS]
    right = [b for _, b in ARM_PAIRS]
    # A frame where the arms are far apart (swinging), so the swap is unambiguous.
    apart = np.linalg.norm(clean[:, 15, :2] - clean[:, 16, :2], axis=1)
    t = int(np.nanargmax(apart[5:-5])) + 5
    corrupted[t, left + right] = clean[t, right + left]
    fixed, _ = fix_left_right_swaps(corrupted, detected, make_test_settings().swap_prior)
    assert np.allclose(fixed[t, [13, 14, 15, 16]], clean[t, [13, 14, 15, 16]])
    legs = [i for pair in LEG_PAIRS for i in pair]
    assert np.allclose(fixed[t, legs], clean[t, legs])


def test_real_clip_leg_series_has_no_side_jumps() -> None:
    """On the real two-person clip the subject's ankles never trade places in one frame."""
    found, width, height = detections(TWO_PEOPLE)
    pose = select_subject(found, width, height, make_test_settings())
    kp = pose.keypoints
    both = pose.detected[1:] & pose.detected[:-1]
    left, right = kp[:, 27, :2], kp[:, 28, :2]
    keep = np.linalg.norm(left[1:] - left[:-1], axis=1)
    keep += np.linalg.norm(right[1:] - right[:-1], axis=1)
    cross = np.linalg.norm(left[1:] - right[:-1], axis=1)
    cross += np.linalg.norm(right[1:] - left[:-1], axis=1)
    # Wherever the two labellings differ clearly, the kept one is the continuous one.
    clear = both & (np.abs(keep - cross) > 40)
    assert clear.sum() > 20
    assert np.all(keep[clear] < cross[clear])


def test_frontal_frames_are_never_relabelled() -> None:
    """Issue 18 item 3: left/right fixing only where the view makes it meaningful."""
    from formcoach.pose_estimation.sides import frontalness

    clean, detected = _running_pose()
    ratio = frontalness(clean)
    assert float(np.nanmedian(ratio[detected])) < 0.5  # the side-view render is sideways
    corrupted = _swap_legs(clean, [7, 23, 24, 40, 55, 56, 57, 58, 59, 71])
    # The same body seen from the front: shoulders a torso length apart.
    frontal = corrupted.copy()
    torso = np.linalg.norm(
        frontal[:, [11, 12], :2].mean(axis=1) - frontal[:, [23, 24], :2].mean(axis=1), axis=1
    )
    frontal[:, 11, 0] -= 0.5 * torso
    frontal[:, 12, 0] += 0.5 * torso
    settings = make_test_settings()
    _, fixed_anyway = fix_left_right_swaps(frontal, detected, settings.swap_prior)
    assert fixed_anyway >= 10
    kept, count = fix_left_right_swaps(
        frontal, detected, settings.swap_prior, settings.swap_max_frontalness
    )
    assert count == 0 and np.array_equal(kept, frontal, equal_nan=True)
