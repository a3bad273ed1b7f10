"""Frame scaling for watched pictures (to_rgb's fast path) and side-swap-proof association."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from formcoach.kit.video_io import fit_size, to_rgb
from formcoach.pose_estimation.detect import CORE
from formcoach.pose_estimation.tracking import landmark_distance

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "videos"


def _first_frame(name: str) -> av.VideoFrame:
    with av.open(str(FIXTURES / name)) as container:
        return next(container.decode(video=0))


def _area(frame: av.VideoFrame, size: tuple[int, int]) -> np.ndarray:  # type: ignore[type-arg]
    return np.asarray(
        frame.to_ndarray(width=size[0], height=size[1], format="rgb24", interpolation="AREA")
    )


@pytest.mark.parametrize(
    "name", ["pose2sim-single-person-cam01.mp4", "sports2d-demo-two-people.mp4"]
)
def test_fast_scaling_gives_the_same_picture_as_the_area_filter(name: str) -> None:
    frame = _first_frame(name)
    assert frame.format.name == "yuv420p"
    size = fit_size(frame.width, frame.height, 1280)
    fast = to_rgb(frame, size, fast=True)
    slow = to_rgb(frame, size)
    assert fast.shape == slow.shape == (size[1], size[0], 3)
    assert fast.dtype == np.uint8
    assert np.array_equal(slow, _area(frame, size))
    diff = np.abs(fast.astype(np.int16) - slow.astype(np.int16))
    # Colour matrices and filters differ a little: a few grey levels on average, not a shift.
    assert diff.mean() < 4.0, diff.mean()
    assert np.percentile(diff, 99) < 40
    assert not np.array_equal(fast, slow)  # the fast path really ran


def test_frames_the_fast_path_cannot_take_use_the_area_filter() -> None:
    frame = _first_frame("sports2d-demo-two-people.mp4")
    rgb_frame = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
    full_range = frame.reformat(format="yuvj420p")
    cases = [
        (rgb_frame, (884, 498)),  # not YUV 4:2:0
        (full_range, (884, 498)),  # full-range YUV: OpenCV's I420 conversion assumes limited
        (frame, (441, 249)),  # odd sides
        (frame, (430, 242)),  # shrunk by more than 2x: bilinear would alias
    ]
    for source, size in cases:
        assert np.array_equal(to_rgb(source, size, fast=True), _area(source, size)), size
    # No scaling asked for: the plain conversion.
    same = (frame.width, frame.height)
    assert np.array_equal(to_rgb(frame, same, fast=True), frame.to_ndarray(format="rgb24"))


def _person(dx: float = 0.0) -> np.ndarray:  # type: ignore[type-arg]
    kp = np.zeros((33, 4), dtype=np.float32)
    kp[:, 3] = 0.9
    rng = np.random.default_rng(3)
    kp[:, :2] = rng.uniform(100, 400, size=(33, 2))
    # Left and right of each pair apart, as a side view's near and far limbs are.
    for left in CORE[::2]:
        kp[left + 1, :2] = kp[left, :2] + (12.0, 3.0)
    kp[:, 0] += dx
    return kp


def test_a_side_swap_does_not_make_the_same_person_look_like_someone_else() -> None:
    person = _person()
    swapped = person.copy()
    for left in CORE[::2]:
        swapped[[left, left + 1]] = person[[left + 1, left]]
    plain = float(np.median(np.linalg.norm(person[list(CORE), :2] - swapped[list(CORE), :2], 1)))
    assert plain > 10  # as labelled, every landmark moved
    assert landmark_distance(person, swapped) == pytest.approx(0.0)
    assert landmark_distance(person, person) == pytest.approx(0.0)
    # Someone else 80 px away stays 80 px away, whichever labelling is tried.
    assert landmark_distance(person, _person(dx=80.0)) == pytest.approx(80.0, abs=13.0)
