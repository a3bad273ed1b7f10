"""Every person in every frame: MediaPipe Pose run again after masking out the people found.

MediaPipe's pose graph follows one person. To see several, each frame goes through a chain of
graphs: graph k sees the frame with the people found by graphs 0..k-1 painted over, so it
follows someone else. Each graph keeps its own tracking state, which makes the chain cheap
(the person detector only runs when a graph has lost its person). Which detection belongs to
which person is decided afterwards, by the tracker, from continuity alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import av
import cv2
import numpy as np
from mediapipe.python.solutions import pose as mp_pose
from numpy.typing import NDArray

from formcoach.kit.settings import Settings
from formcoach.kit.video_io import (
    RGB,
    display_size,
    first_frame_time,
    fit_size,
    iter_frames,
    iter_frames_from,
    prefetch,
    trim_heap,
)
from formcoach.pose_estimation.backfill import Backtracker, Buffer, Recent
from formcoach.pose_estimation.schemas import N_LANDMARKS, VISIBILITY
from formcoach.pose_estimation.search import Box, Schedule, mask_rect

# The landmarks that outline the body (shoulders, elbows, wrists, hips, knees, ankles).
CORE = (11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
_MASK_GREY = 127
_PROGRESS_EVERY = 10
# Thumbnails: one sample every half second, people cropped to this height. Ten minutes of two
# people cost ~40 MB, unlike keeping frames.
_CROP_EVERY_S = 0.5
CROP_HEIGHT = 96
# One decoder thread: the pose graphs keep the cores busy (a 1080p frame decodes in ~7 ms, a
# graph takes ~22 ms), and frame threading's per-thread frame pools cost ~85 MB at 1080p.
_DECODE_THREADS = 1
# Timestamps are rationals turned to floats: comparisons allow this much rounding.
_EPS = 1e-6


@dataclass(frozen=True)
class Detection:
    keypoints: NDArray[np.float32]  # (33, 4): x px, y px, z, visibility

    @property
    def box(self) -> Box:
        """x0, y0, x1, y1 of the confidently placed landmarks."""
        kp = self.keypoints
        sure = kp[:, VISIBILITY] >= 0.3
        pts = kp[sure, :2] if sure.sum() >= 4 else kp[:, :2]
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def quality(self) -> float:
        """Mean visibility of the body outline: low for ghosts found in foliage or shadows."""
        return float(np.mean(self.keypoints[list(CORE), VISIBILITY]))


@dataclass(frozen=True)
class FrameDetections:
    index: int
    time_s: float
    people: list[Detection]
    # Small pictures of each person, kept for a sample of frames only (for track thumbnails).
    crops: list[RGB] | None = None


def expected_frames(video: Path) -> int:
    """Frame count for progress reporting only; containers may not record it exactly."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        if stream.frames:
            return int(stream.frames)
        if stream.duration is not None and stream.time_base is not None and stream.average_rate:
            return max(1, int(float(stream.duration * stream.time_base * stream.average_rate)))
        return 0


def new_graph(settings: Settings) -> mp_pose.Pose:
    # Tracking mode: each graph keeps following the person it found, frame to frame. Its own
    # landmark smoothing is off because cleaning happens later, with gaps and swaps known.
    return mp_pose.Pose(
        static_image_mode=False,
        model_complexity=settings.pose_model_complexity,
        smooth_landmarks=False,
        enable_segmentation=False,
        min_detection_confidence=settings.pose_min_detection_confidence,
        min_tracking_confidence=settings.pose_min_tracking_confidence,
    )


def _mask(image: RGB, box: Box) -> None:
    r0, r1, c0, c1 = mask_rect(image.shape[1], image.shape[0], box)
    if c1 > c0 and r1 > r0:
        image[r0:r1, c0:c1] = _MASK_GREY


def _run(graph: mp_pose.Pose, image: RGB) -> Detection | None:
    landmarks = graph.process(image).pose_landmarks
    if landmarks is None:
        return None
    h, w = image.shape[:2]
    values = np.array(
        [(lm.x, lm.y, lm.z, lm.visibility) for lm in landmarks.landmark], dtype=np.float32
    )
    # MediaPipe gives x, y as fractions of the image size.
    values[:, 0] *= w
    values[:, 1] *= h
    if values.shape != (N_LANDMARKS, 4) or not np.isfinite(values).all():
        return None
    return Detection(values)


class GraphChain:
    """The chain of pose graphs that finds up to ``len(graphs)`` people per frame.

    The first graph looks on every frame; each other one when its ``Schedule`` says (see
    search.py): with one person in view the chain costs little more than a single graph,
    someone walking in is picked up within ``search_every_s``, and a person hidden for a
    moment is looked for on every frame of ``search_grace_s``.
    """

    def __init__(
        self,
        graphs: list[mp_pose.Pose],
        min_quality: float,
        search_every_s: float,
        search_grace_s: float = 0.0,
        search_idle_every_s: float | None = None,
    ):
        self.graphs = graphs
        self.min_quality = min_quality
        idle = search_every_s if search_idle_every_s is None else search_idle_every_s
        self._schedules = [
            Schedule(search_every_s, idle, search_grace_s) for _ in range(len(graphs) - 1)
        ]
        # People an extra graph found in the last frame that it was not following before,
        # each with the (masked) image it saw: what the look-back starts from.
        self.newcomers: list[tuple[Detection, RGB]] = []

    def detect(self, image: RGB, time_s: float) -> list[Detection]:
        """People in one frame, each found with the previous ones masked out.

        Low-quality finds are masked too (so the next graph looks elsewhere) but not returned.
        """
        return self.detect_rest(image, time_s, self.detect_first(image))

    def detect_first(self, image: RGB) -> Detection | None:
        """What the first graph finds: it sees the whole frame, so it can run a frame ahead
        of the others (see ``iter_detections``)."""
        return _run(self.graphs[0], image)

    def detect_rest(self, image: RGB, time_s: float, first: Detection | None) -> list[Detection]:
        """People in one frame, given what the first graph found in it."""
        people: list[Detection] = []
        self.newcomers = []
        boxes: list[Box] = []  # everyone found so far in this frame
        source, masked = image, 0
        for k, graph in enumerate(self.graphs):
            schedule = self._schedules[k - 1] if k else None
            if schedule is None:
                found = first
            else:
                if not schedule.wants_look(time_s, image, boxes):
                    continue
                if masked < len(boxes):
                    source = image.copy() if source is image else source
                    for box in boxes[masked:]:
                        _mask(source, box)
                    masked = len(boxes)
                found = _run(graph, source)
                fresh = found is not None and not schedule.following
                if fresh and found is not None and found.quality >= self.min_quality:
                    self.newcomers.append((found, source.copy()))
                schedule.looked(time_s, found is not None, image, boxes)
            if found is None:
                # Another graph may still be following someone this one lost.
                continue
            # A doubtful find keeps its graph busy: a person half hidden behind a tree now
            # is often fully visible a few frames later.
            if found.quality >= self.min_quality:
                people.append(found)
            boxes.append(found.box)
        return people


def crop_person(image: RGB, person: Detection) -> RGB:
    """The person's box (with head room), scaled to CROP_HEIGHT px tall."""
    r0, r1, c0, c1 = mask_rect(image.shape[1], image.shape[0], person.box)
    if c1 <= c0 or r1 <= r0:
        return np.zeros((CROP_HEIGHT, CROP_HEIGHT // 2, 3), dtype=np.uint8)
    region = image[r0:r1, c0:c1]
    width = max(1, round(region.shape[1] * CROP_HEIGHT / region.shape[0]))
    width = min(width, 3 * CROP_HEIGHT)
    return np.asarray(cv2.resize(region, (width, CROP_HEIGHT)), dtype=np.uint8)


def iter_detections(
    frames: Iterator[tuple[int, float, RGB]],
    settings: Settings,
    backtracker: Backtracker | None = None,
    pipelined: bool = True,
) -> Iterator[FrameDetections]:
    """Detections of every frame, frames streamed one at a time (a short buffer of
    ``pose_backfill_s`` stays in memory for looking back at newcomers)."""
    graphs = [new_graph(settings) for _ in range(max(1, settings.pose_max_people))]
    chain = GraphChain(
        graphs,
        settings.pose_min_person_quality,
        settings.pose_search_every_s,
        settings.pose_search_grace_s,
        settings.pose_search_idle_every_s,
    )
    own = backtracker is None
    back = backtracker or new_backtracker(settings)
    buffer = Buffer(settings.pose_backfill_s, settings.pose_backfill_max_frames)
    next_crop = 0.0

    def release(frame: Recent) -> FrameDetections:
        nonlocal next_crop
        crops = None
        if frame.people and frame.time_s >= next_crop:
            crops = [crop_person(frame.image, p) for p in frame.people]
            next_crop = frame.time_s + _CROP_EVERY_S
        return FrameDetections(frame.index, frame.time_s, frame.people, crops)

    # The first graph sees every frame whole, so it runs in a thread of its own a frame ahead
    # of the others: the extra graphs' looks, the look-backs and the bookkeeping here then
    # take the second core instead of the first graph's time (a short clip's pose pass: -21 %
    # with one person in view, -30 % with two). The detections are the same as one graph after
    # the other. The halves of a long clip already fill both cores; there it changes nothing.
    staged: Generator[tuple[int, float, RGB, Detection | None], None, None] = (
        prefetch(_first_graph(chain, frames), depth=2)
        if pipelined and len(graphs) > 1
        else ((i, t, image, chain.detect_first(image)) for i, t, image in frames)
    )
    try:
        for index, time_s, image, first in staged:
            people = chain.detect_rest(image, time_s, first)
            earlier = list(buffer.frames)
            for found, seen in chain.newcomers if earlier else []:
                back.follow(earlier, seen, found)
            for done in buffer.push(Recent(index, time_s, image, people)):
                yield release(done)
        for done in buffer.flush():
            yield release(done)
    finally:
        # Stops the first graph's thread before its graph goes.
        staged.close()
        for graph in graphs:
            graph.close()
        if own:
            back.close()


def _first_graph(
    chain: GraphChain, frames: Iterator[tuple[int, float, RGB]]
) -> Iterator[tuple[int, float, RGB, Detection | None]]:
    for index, time_s, image in frames:
        yield index, time_s, image, chain.detect_first(image)


def new_backtracker(settings: Settings) -> Backtracker:
    return Backtracker(lambda: new_graph(settings), _run, _mask, settings.pose_min_person_quality)


def detect_video(
    video: Path,
    settings: Settings,
    progress: Callable[[float], None] = lambda _f: None,
    max_side: int | None = None,
) -> tuple[list[FrameDetections], int, int]:
    """All detections of a video, with the frame width and height.

    With ``max_side``, larger frames are shrunk to it for the model (the model's own input is
    256 px) and the detections come back in the video's own pixels.

    Clips of ``pose_parallel_min_s`` or more are split in two halves by time, each run by
    its own graph chain in its own thread (MediaPipe releases the GIL while it computes, so
    both cores work, and one interpreter means no second copy of the models in memory). The
    second half seeks and starts ``pose_chunk_overlap_s`` early, unkept, to warm its graphs
    up. Tracking runs afterwards over the joined detections, so there is no seam in identities.
    """
    expected = expected_frames(video)
    duration = _duration_s(video)
    origin = first_frame_time(video)
    width, height = display_size(video)
    # Frames are scaled before they are converted to RGB (see to_rgb's fast path): no
    # full-size RGB frame is ever allocated.
    small = model_size(width, height, max_side)
    long_clip = expected > 0 and duration >= settings.pose_parallel_min_s
    try:
        if settings.pose_workers >= 2 and long_clip and origin is not None:
            found = _detect_parallel(video, settings, expected, duration, origin, progress, small)
        else:
            found = _detect_single(video, expected, settings, progress, small)
    finally:
        # The closed graphs' memory (~110 MB each) goes back to the system for later stages.
        trim_heap()
    return _to_video_pixels(found, width, height, small), width, height


def model_size(width: int, height: int, max_side: int | None) -> tuple[int, int] | None:
    """The size the model sees a ``width`` x ``height`` video at (None: as it is).

    Frames with a side over ``max_side`` are shrunk, by the smallest whole factor that fits
    them where that keeps at least 3/4 of ``max_side``: the model's own input is a 256 px
    crop of the person, and a whole factor makes the shrink an exact average of pixel blocks.
    A 1080p frame goes to 960x540 in ~0.2 ms of plane scaling instead of ~0.9 ms to 1280x720,
    and on 1080p ground-truth clips the knee angle's RMSE was the same (3.33 deg vs 3.31).
    Other sizes (1366x768: a factor of 2 would leave 683) are fitted to ``max_side``.
    """
    longer = max(width, height)
    if not max_side or longer <= max_side:
        return None
    factor = -(-longer // max_side)
    whole = longer // factor
    return fit_size(width, height, whole if whole * 4 >= max_side * 3 else max_side)


def _to_video_pixels(
    found: list[FrameDetections], width: int, height: int, small: tuple[int, int] | None
) -> list[FrameDetections]:
    """Detections made on shrunk frames, in the video's own pixels."""
    if small is None:
        return found
    scale = np.array([width / small[0], height / small[1], 1.0, 1.0], dtype=np.float32)
    return [replace(d, people=[Detection(p.keypoints * scale) for p in d.people]) for d in found]


def _detect_single(
    video: Path,
    expected: int,
    settings: Settings,
    progress: Callable[[float], None],
    size: tuple[int, int] | None,
) -> list[FrameDetections]:
    def frames() -> Iterator[tuple[int, float, RGB]]:
        decoded = iter_frames(video, size=size, threads=_DECODE_THREADS, fast_scale=True)
        for frame in prefetch(decoded):
            yield frame.index, frame.time_s, frame.image

    out: list[FrameDetections] = []
    for found in iter_detections(frames(), settings):
        out.append(found)
        if expected and len(out) % _PROGRESS_EVERY == 0:
            progress(min(len(out) / expected, 0.99))
    return out


def _duration_s(video: Path) -> float:
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return float(container.duration or 0) / av.time_base


class _Cancelled(Exception):
    """The other half failed: this one stops early."""


def _detect_half(
    video: Path,
    settings: Settings,
    origin: float,
    span: tuple[float, float, float | None],
    back: Backtracker,
    counts: list[int],
    slot: int,
    stop: threading.Event,
    size: tuple[int, int] | None,
    tick: Callable[[], None] = lambda: None,
) -> list[FrameDetections]:
    """Detections of the frames with warm_s <= time < stop_s, kept from keep_s on; ``index``
    counts from 0 within the kept frames (the caller renumbers)."""
    warm_s, keep_s, stop_s = span

    def frames() -> Iterator[tuple[int, float, RGB]]:
        kept = 0
        decoded = iter_frames_from(
            video, warm_s, origin, threads=_DECODE_THREADS, size=size, fast_scale=True
        )
        for time_s, image in prefetch(decoded):
            if stop.is_set():
                raise _Cancelled
            if stop_s is not None and time_s >= stop_s - _EPS:
                return
            counts[slot] += 1
            if counts[slot] % _PROGRESS_EVERY == 0:
                tick()
            # Warm-up frames get negative numbers, so they are told apart below.
            yield (kept if time_s >= keep_s - _EPS else -1), time_s, image
            kept += time_s >= keep_s - _EPS

    return [d for d in iter_detections(frames(), settings, back) if d.index >= 0]


def _detect_parallel(
    video: Path,
    settings: Settings,
    expected: int,
    duration: float,
    origin: float,
    progress: Callable[[float], None],
    size: tuple[int, int] | None,
) -> list[FrameDetections]:
    # Split by time, not frame number: after a seek only timestamps say where a frame is, and a
    # variable-frame-rate clip has no fixed frames-per-second to convert with. The tail also
    # decodes its warm-up frames: splitting after the middle by half the overlap gives both
    # threads as many frames, and the pass ends when the later one does.
    overlap = min(settings.pose_chunk_overlap_s, duration / 2)
    mid = (duration + overlap) / 2
    counts = [0, 0]
    stop = threading.Event()

    def tick() -> None:
        progress(min(sum(counts) / expected, 0.99))

    back = new_backtracker(settings)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pose-half") as pool:
        tail_span = (max(0.0, mid - overlap), mid, None)
        second = pool.submit(
            _detect_half, video, settings, origin, tail_span, back, counts, 1, stop, size
        )
        try:
            head = _detect_half(
                video, settings, origin, (0.0, 0.0, mid), back, counts, 0, stop, size, tick
            )
        except BaseException:
            stop.set()
            raise
        finally:
            # Once the tail is done too (the pool's exit waits for it).
            pool.submit(back.close)
        tail = second.result()
    progress(0.99)
    # Frame numbers as one pass from the start gives them.
    return head + [replace(d, index=len(head) + d.index) for d in tail]
