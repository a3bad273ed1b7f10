"""When an extra graph of a chain looks for someone else (see detect.GraphChain).

A look costs ~12 ms (MediaPipe's person detector on the whole frame) against ~23 ms for a
tracked frame, so looking on every frame would make a one-person clip cost almost two graphs.
Looks are therefore spaced out, and spaced out most where nothing could have come in: a
tripod clip of one runner has a still background outside the runner, and a person who walks
in changes it. The scene outside the people already found is compared at 1/8 scale between
the last look and now; the comparison costs ~1.5 ms (mostly the 1/8 scaling) and is made
at most every ``every_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

Box = tuple[float, float, float, float]
Rect = tuple[int, int, int, int]  # r0, r1, c0, c1

# The box painted over a found person grows by this share of its size on every side: the
# landmarks are joint centres, the body's outline (and hair, clothes) reaches further.
MASK_MARGIN = 0.2
_THUMB_SCALE = 8
# A thumbnail pixel (an 8x8 average) has changed when it moves by this many grey levels:
# well above compression noise, well below a person against any background.
_CHANGE_LEVEL = 12
# The people found, with this share of their size around them, are left out of the comparison.
_AROUND = 0.25
# The scene has changed when this share of the compared pixels has: 0.1 % of a 720p frame is
# a 30x30 px patch, a small part of a person half in view at the edge; compression noise on a
# still background stays under 0.02 %.
_CHANGE_SHARE = 0.001


def mask_rect(width: int, height: int, box: Box) -> Rect:
    """Rows and columns of a person's box with its margin, clipped to the frame."""
    x0, y0, x1, y1 = box
    mx, my = MASK_MARGIN * (x1 - x0), MASK_MARGIN * (y1 - y0)
    # The head sits above the highest landmark (eyes): extend upward more.
    c0, c1 = max(int(x0 - mx), 0), min(int(x1 + mx) + 1, width)
    r0, r1 = max(int(y0 - 2 * my), 0), min(int(y1 + my) + 1, height)
    return r0, r1, c0, c1


@dataclass(frozen=True)
class Scene:
    """The frame at 1/8 scale in grey, and which of its pixels lie outside everyone found."""

    grey: NDArray[np.int16]
    outside: NDArray[np.bool_]


def scene(image: NDArray[np.uint8], boxes: list[Box]) -> Scene:
    h, w = image.shape[:2]
    size = (max(1, w // _THUMB_SCALE), max(1, h // _THUMB_SCALE))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    grey = np.asarray(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), dtype=np.int16)
    outside = np.ones(grey.shape, dtype=np.bool_)
    for x0, y0, x1, y1 in boxes:
        # Wider than the painted mask: a hand or foot whose landmark was too unsure to count
        # in the box, and a shadow, still move with the person found.
        gx, gy = _AROUND * (x1 - x0), _AROUND * (y1 - y0)
        r0, r1, c0, c1 = mask_rect(w, h, (x0 - gx, y0 - gy, x1 + gx, y1 + gy))
        s = _THUMB_SCALE
        outside[r0 // s : -(-r1 // s), c0 // s : -(-c1 // s)] = False
    return Scene(grey, outside)


def changed(before: Scene, now: Scene) -> bool:
    """Whether the scene outside the people found (then and now) has changed."""
    if before.grey.shape != now.grey.shape:
        return True
    both = before.outside & now.outside
    compared = int(both.sum())
    if compared == 0:
        return True
    moved = (np.abs(now.grey - before.grey) > _CHANGE_LEVEL) & both
    return int(moved.sum()) > _CHANGE_SHARE * compared


class Schedule:
    """When one extra graph looks.

    - Following someone: every frame.
    - Within ``grace_s`` of losing someone: every frame, so a person hidden for a moment (two
      runners crossing) is found again at once and their track does not split.
    - Within ``grace_s`` of the first frame: every frame. Someone half in view at the edge is
      missed by the detector on most frames, and until they are found and masked, the first
      graph's estimate of the subject can be pulled towards them (a 72 px jump of the hips
      on the two-people fixture when looking only every 0.2 s from the start).
    - Otherwise: every ``every_s`` while the scene changes, every ``idle_every_s`` when it
      does not (a still person the detector missed gets another chance).
    """

    def __init__(self, every_s: float, idle_every_s: float, grace_s: float) -> None:
        self.every_s = every_s
        self.idle_every_s = max(idle_every_s, every_s)
        self.grace_s = grace_s
        self.following = False
        self._start: float | None = None
        self._last_found: float | None = None
        self._last_look = -math.inf
        self._last_check = -math.inf
        self._at_last_look: Scene | None = None
        self._now: Scene | None = None

    def _scene(self, image: NDArray[np.uint8], boxes: list[Box]) -> Scene:
        if self._now is None:
            self._now = scene(image, boxes)
        return self._now

    def wants_look(self, time_s: float, image: NDArray[np.uint8], boxes: list[Box]) -> bool:
        self._now = None
        if self.following or self._start is None:
            self._start = time_s if self._start is None else self._start
            return True
        since = time_s - self._last_look
        if since >= self.idle_every_s - 1e-9:
            return True
        if time_s - (self._last_found or self._start) < self.grace_s:
            return True
        # The comparison (~1.5 ms at 720p) is spaced like the looks: checking a still scene on
        # every frame between looks cost more than the looks themselves.
        if since < self.every_s - 1e-9 or time_s - self._last_check < self.every_s - 1e-9:
            return False
        self._last_check = time_s
        before = self._at_last_look
        return before is None or changed(before, self._scene(image, boxes))

    def looked(
        self, time_s: float, found: bool, image: NDArray[np.uint8], boxes: list[Box]
    ) -> None:
        self._last_look = time_s
        self.following = found
        if found:
            self._last_found = time_s
            self._at_last_look = None
        else:
            self._at_last_look = self._scene(image, boxes)
        self._now = None
