"""Looking back for a person the search graph found late.

The extra graphs of the chain look for newcomers only every ``pose_search_every_s`` (that is
what makes a one-person clip cost one graph), and MediaPipe's person detector often misses
someone half in view at the frame edge for a few frames, while its landmark tracker follows
them well once it has them. So when an extra graph finds someone new, a spare graph is locked
onto that person and run backwards over the last few frames (kept in a short buffer): the
frames before the find get the person too, as if the search had run on every frame.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from formcoach.kit.video_io import RGB
from formcoach.pose_estimation.search import Box

if TYPE_CHECKING:
    # Type only: detect imports this module.
    from mediapipe.python.solutions.pose import Pose

    from formcoach.pose_estimation.detect import Detection

# A person followed backwards moves little from frame to frame: a box overlapping the one
# found a frame later by less than this is somebody (or something) else.
_MIN_OVERLAP = 0.3
# Boxes overlapping this much outline the same person.
_SAME_PERSON = 0.5


@dataclass
class Recent:
    """A frame waiting in the buffer, its people still open to additions."""

    index: int
    time_s: float
    image: RGB
    people: list[Detection] = field(default_factory=list)


def overlap(a: Box, b: Box) -> float:
    """Intersection over union of two x0, y0, x1, y1 boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class Buffer:
    """The last ``window_s`` seconds of frames (at most ``max_frames``), released in order."""

    def __init__(self, window_s: float, max_frames: int) -> None:
        self.window_s = window_s
        self.max_frames = max(0, max_frames)
        self.frames: deque[Recent] = deque()

    def push(self, frame: Recent) -> Iterator[Recent]:
        """Add a frame; yields the frames that leave the window."""
        self.frames.append(frame)
        while self.frames and (
            len(self.frames) > self.max_frames
            or frame.time_s - self.frames[0].time_s > self.window_s
        ):
            yield self.frames.popleft()

    def flush(self) -> Iterator[Recent]:
        while self.frames:
            yield self.frames.popleft()


def follow_back(
    run: Callable[[RGB], Detection | None],
    mask: Callable[[RGB, Box], None],
    earlier: list[Recent],
    seen: RGB,
    found: Detection,
    min_quality: float,
) -> int:
    """Follow ``found`` (found in the image ``seen``, others masked) back through ``earlier``
    (oldest first), adding it to each frame until it is lost; returns how many frames gained it.

    ``run`` is a freshly reset tracking graph: primed on ``seen``, it follows that person.
    """
    if run(seen) is None:
        return 0
    last = found
    added = 0
    for frame in reversed(earlier):
        image = frame.image
        if frame.people:
            image = image.copy()
            for person in frame.people:
                mask(image, person.box)
        back = run(image)
        if back is None or back.quality < min_quality or overlap(back.box, last.box) < _MIN_OVERLAP:
            break
        # Someone already found there, seen through the edge of their mask: not a newcomer.
        if any(overlap(back.box, p.box) >= _SAME_PERSON for p in frame.people):
            break
        frame.people.append(back)
        last = back
        added += 1
    return added


class Backtracker:
    """The spare graph that follows newcomers back, created when first needed and shared by
    the threads working on one video (a graph holds ~110 MB once it has run; newcomers are
    rare, so one is plenty)."""

    def __init__(
        self,
        make: Callable[[], Pose],
        run: Callable[[Pose, RGB], Detection | None],
        mask: Callable[[RGB, Box], None],
        min_quality: float,
    ) -> None:
        self._make = make
        self._run = run
        self._mask = mask
        self._min_quality = min_quality
        self._graph: Pose | None = None
        self._lock = threading.Lock()

    def follow(self, earlier: list[Recent], seen: RGB, found: Detection) -> int:
        with self._lock:
            if self._graph is None:
                self._graph = self._make()
            else:
                self._graph.reset()  # forget whom it followed last time
            graph = self._graph

            def run(image: RGB) -> Detection | None:
                return self._run(graph, image)

            return follow_back(run, self._mask, earlier, seen, found, self._min_quality)

    def close(self) -> None:
        with self._lock:
            if self._graph is not None:
                self._graph.close()
                self._graph = None
