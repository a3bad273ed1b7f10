"""When the extra pose graphs look for someone else: spaced out most where the scene is still."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from formcoach.pose_estimation.search import Schedule, changed, scene

FPS = 30.0
RUNNER = (500.0, 200.0, 700.0, 600.0)  # x0, y0, x1, y1 in a 1280x720 frame


def _frame(seed: int, patch: tuple[int, int] | None = None) -> NDArray[np.uint8]:
    """A grey background with a little sensor noise; ``patch`` puts a 120x240 px figure at
    (x, y)."""
    rng = np.random.default_rng(seed)
    image = np.clip(rng.normal(120, 3, (720, 1280, 3)), 0, 255).astype(np.uint8)
    if patch is not None:
        x, y = patch
        image[y : y + 240, x : x + 120] = (200, 60, 40)
    return image


def test_noise_is_no_change_and_a_newcomer_is() -> None:
    still = scene(_frame(1), [RUNNER])
    assert not changed(still, scene(_frame(2), [RUNNER]))
    assert changed(still, scene(_frame(2, patch=(1100, 300)), [RUNNER]))


def test_changes_inside_the_people_found_do_not_count() -> None:
    # The runner moves within their own (masked) box: nobody new.
    before = scene(_frame(1, patch=(540, 300)), [RUNNER])
    after = scene(_frame(2, patch=(560, 320)), [RUNNER])
    assert not changed(before, after)


def _looks(schedule: Schedule, frames: list[NDArray[np.uint8]], found: bool = False) -> list[int]:
    looked = []
    for i, image in enumerate(frames):
        if schedule.wants_look(i / FPS, image, [RUNNER]):
            looked.append(i)
            schedule.looked(i / FPS, found, image, [RUNNER])
    return looked


def test_still_scene_is_searched_every_idle_interval_after_the_start() -> None:
    still = [_frame(i) for i in range(4 * int(FPS))]
    looked = _looks(Schedule(every_s=0.2, idle_every_s=1.0, grace_s=0.5), still)
    # Every frame of the first 0.5 s, then once a second.
    assert looked[:15] == list(range(15))
    assert looked[15:] == [44, 74, 104]


def test_changing_scene_is_searched_every_short_interval() -> None:
    # Something moves along the right edge all the time (not found: a detector miss).
    busy = [_frame(i, patch=(1100, 20 + 4 * i)) for i in range(3 * int(FPS))]
    looked = _looks(Schedule(every_s=0.2, idle_every_s=1.0, grace_s=0.5), busy)
    gaps = np.diff(looked[15:])
    assert len(looked) >= 15 + 10 and gaps.max() <= 6


def test_following_and_a_lost_person_are_looked_for_every_frame() -> None:
    schedule = Schedule(every_s=0.2, idle_every_s=1.0, grace_s=0.5)
    looked = []
    for i, image in enumerate(_frame(i) for i in range(60)):
        if schedule.wants_look(i / FPS, image, [RUNNER]):
            looked.append(i)
            # Found on frames 0-19, then lost.
            schedule.looked(i / FPS, i < 20, image, [RUNNER])
    # Every frame while following and for the 0.5 s after losing them, then still: once a
    # second.
    assert looked[:34] == list(range(34))
    assert not set(looked) & set(range(36, 60)) - {looked[-1]}
    assert len(looked) <= 36
