"""Every person in every frame: MediaPipe Pose run again after masking out the people found.

MediaPipe's pose graph follows one person. To see several, each frame goes through a chain of
graphs: graph k sees the frame with the people found by graphs 0..k-1 painted over, so it
follows someone else. Each graph keeps its own tracking state, which makes the chain cheap
(the person detector only runs when a graph has lost its person). Which detection belongs to
which person is decided afterwards, by the tracker, from continuity alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
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
    DecodedFrame,
    first_frame_time,
    fit_size,
    iter_frames,
    iter_frames_from,
    prefetch,
    trim_heap,
)
from formcoach.pose_estimation.backfill import Backtracker, Buffer, Recent
from formcoach.pose_estimation.schemas import N_LANDMARKS, VISIBILITY

# The landmarks that outline the body (shoulders, elbows, wrists, hips, knees, ankles).
CORE = (11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
# The box painted over a found person grows by this share of its size on every side: the
# landmarks are joint centres, the body's outline (and hair, clothes) reaches further.
_MASK_MARGIN = 0.2
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


Box = tuple[float, float, float, float]


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
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    mx, my = _MASK_MARGIN * (x1 - x0), _MASK_MARGIN * (y1 - y0)
    # The head sits above the highest landmark (eyes): extend upward more.
    c0, c1 = max(int(x0 - mx), 0), min(int(x1 + mx) + 1, w)
    r0, r1 = max(int(y0 - 2 * my), 0), min(int(y1 + my) + 1, h)
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

    A graph other than the first that has found nobody for ``search_grace_s`` then only looks
    again every ``search_every_s``: with one person in view the chain costs little more than a
    single graph, someone walking in is picked up within that interval, and a person hidden
    for a moment (two runners crossing) is still looked for on every frame meanwhile, so their
    track does not split.
    """

    def __init__(
        self,
        graphs: list[mp_pose.Pose],
        min_quality: float,
        search_every_s: float,
        search_grace_s: float = 0.0,
    ):
        self.graphs = graphs
        self.min_quality = min_quality
        self.search_every_s = search_every_s
        self.search_grace_s = search_grace_s
        self._resting_until = [0.0] * len(graphs)
        # When each graph last found someone (or started looking).
        self._last_found: list[float | None] = [None] * len(graphs)
        self._following = [False] * len(graphs)
        # People an extra graph found in the last frame that it was not following before,
        # each with the (masked) image it saw: what the look-back starts from.
        self.newcomers: list[tuple[Detection, RGB]] = []

    def _idle(self, k: int, time_s: float, found: bool) -> None:
        last = self._last_found[k]
        if found or last is None:
            self._last_found[k] = time_s
        elif time_s - last >= self.search_grace_s:
            self._resting_until[k] = time_s + self.search_every_s

    def detect(self, image: RGB, time_s: float) -> list[Detection]:
        """People in one frame, each found with the previous ones masked out.

        Low-quality finds are masked too (so the next graph looks elsewhere) but not returned.
        """
        people: list[Detection] = []
        self.newcomers = []
        source = image
        for k, graph in enumerate(self.graphs):
            if k > 0 and time_s < self._resting_until[k]:
                self._following[k] = False
                continue
            found = _run(graph, source)
            if k > 0:
                self._idle(k, time_s, found is not None)
                fresh = found is not None and not self._following[k]
                if fresh and found is not None and found.quality >= self.min_quality:
                    self.newcomers.append((found, source.copy()))
            self._following[k] = found is not None
            if found is None:
                # Another graph may still be following someone this one lost.
                continue
            # A doubtful find keeps its graph busy: a person half hidden behind a tree now
            # is often fully visible a few frames later.
            if found.quality >= self.min_quality:
                people.append(found)
            if k + 1 < len(self.graphs):
                if source is image:
                    source = image.copy()
                _mask(source, found.box)
        return people


def crop_person(image: RGB, person: Detection) -> RGB:
    """The person's box (with head room), scaled to CROP_HEIGHT px tall."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = person.box
    mx, my = _MASK_MARGIN * (x1 - x0), _MASK_MARGIN * (y1 - y0)
    c0, c1 = max(int(x0 - mx), 0), min(int(x1 + mx) + 1, w)
    r0, r1 = max(int(y0 - 2 * my), 0), min(int(y1 + my) + 1, h)
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
) -> Iterator[FrameDetections]:
    """Detections of every frame, frames streamed one at a time (a short buffer of
    ``pose_backfill_s`` stays in memory for looking back at newcomers)."""
    graphs = [new_graph(settings) for _ in range(max(1, settings.pose_max_people))]
    chain = GraphChain(
        graphs,
        settings.pose_min_person_quality,
        settings.pose_search_every_s,
        settings.pose_search_grace_s,
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

    try:
        for index, time_s, image in frames:
            people = chain.detect(image, time_s)
            earlier = list(buffer.frames)
            for found, seen in chain.newcomers if earlier else []:
                back.follow(earlier, seen, found)
            for done in buffer.push(Recent(index, time_s, image, people)):
                yield release(done)
        for done in buffer.flush():
            yield release(done)
    finally:
        for graph in graphs:
            graph.close()
        if own:
            back.close()


def new_backtracker(settings: Settings) -> Backtracker:
    return Backtracker(lambda: new_graph(settings), _run, _mask, settings.pose_min_person_quality)


def detect_video(
    video: Path,
    settings: Settings,
    progress: Callable[[float], None] = lambda _f: None,
    max_side: int | None = None,
) -> tuple[list[FrameDetections], int, int]:
    """All detections of a video, with the frame width and height.

    With ``max_side``, larger frames are shrunk to it for the model (see ``shrink``) and the
    detections come back in the video's own pixels.

    Clips of ``pose_parallel_min_s`` or more are split in two halves at mid-time, each run by
    its own graph chain in its own thread (MediaPipe releases the GIL while it computes, so
    both cores work, and one interpreter means no second copy of the models in memory). The
    second half seeks and starts ``pose_chunk_overlap_s`` early, unkept, to warm its graphs
    up. Tracking runs afterwards over the joined detections, so there is no seam in identities.
    """
    limit = max_side or 1 << 30
    expected = expected_frames(video)
    duration = _duration_s(video)
    origin = first_frame_time(video)
    long_clip = expected > 0 and duration >= settings.pose_parallel_min_s
    try:
        if settings.pose_workers >= 2 and long_clip and origin is not None:
            found, width, height = _detect_parallel(
                video, settings, expected, duration, origin, progress, limit
            )
        else:
            found, width, height = _detect_single(video, expected, settings, progress, limit)
    finally:
        # The closed graphs' memory (~110 MB each) goes back to the system for later stages.
        trim_heap()
    return _to_video_pixels(found, width, height, limit)


def shrink(image: RGB, max_side: int) -> RGB:
    """The frame pose estimation sees: at most ``max_side`` px. Bilinear, which costs ~1.4 ms
    for a 1080p frame against ~6 ms for area averaging: the model's own input is 256 px,
    reached by its own bilinear sampling of whatever it gets."""
    h, w = image.shape[:2]
    if max(w, h) <= max_side:
        return image
    size = fit_size(w, h, max_side)
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_LINEAR), dtype=np.uint8)


def _to_video_pixels(
    found: list[FrameDetections], width: int, height: int, max_side: int
) -> tuple[list[FrameDetections], int, int]:
    """Detections made on shrunk frames, in the video's own pixels (and its size)."""
    if max(width, height) <= max_side or width == 0:
        return found, width, height
    small_w, small_h = fit_size(width, height, max_side)
    scale = np.array([width / small_w, height / small_h, 1.0, 1.0], dtype=np.float32)
    out = [replace(d, people=[Detection(p.keypoints * scale) for p in d.people]) for d in found]
    return out, width, height


def _detect_single(
    video: Path,
    expected: int,
    settings: Settings,
    progress: Callable[[float], None],
    max_side: int,
) -> tuple[list[FrameDetections], int, int]:
    size = [0, 0]

    def frames() -> Iterator[tuple[int, float, RGB]]:
        for frame in prefetch(_shrunk(iter_frames(video, threads=_DECODE_THREADS), max_side)):
            size[0], size[1] = frame.size
            yield frame.index, frame.time_s, frame.image

    out: list[FrameDetections] = []
    for found in iter_detections(frames(), settings):
        out.append(found)
        if expected and len(out) % _PROGRESS_EVERY == 0:
            progress(min(len(out) / expected, 0.99))
    return out, size[0], size[1]


@dataclass(frozen=True)
class _Shrunk:
    index: int
    time_s: float
    image: RGB
    size: tuple[int, int]  # width, height of the decoded frame


def _shrunk(frames: Iterator[DecodedFrame], max_side: int) -> Iterator[_Shrunk]:
    # A generator run by the prefetch thread: decoding and shrinking both leave the GIL.
    for f in frames:
        yield _Shrunk(
            f.index, f.time_s, shrink(f.image, max_side), (f.image.shape[1], f.image.shape[0])
        )


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
    max_side: int,
    tick: Callable[[], None] = lambda: None,
) -> tuple[list[FrameDetections], int, int]:
    """Detections of the frames with warm_s <= time < stop_s, kept from keep_s on; ``index``
    counts from 0 within the kept frames (the caller renumbers)."""
    warm_s, keep_s, stop_s = span
    size = [0, 0]

    def frames() -> Iterator[tuple[int, float, RGB]]:
        kept = 0
        decoded = iter_frames_from(video, warm_s, origin, threads=_DECODE_THREADS)
        shrunk = (
            (t, image.shape[1], image.shape[0], shrink(image, max_side)) for t, image in decoded
        )
        for time_s, width, height, image in prefetch(shrunk):
            if stop.is_set():
                raise _Cancelled
            if stop_s is not None and time_s >= stop_s - _EPS:
                return
            size[0], size[1] = width, height
            counts[slot] += 1
            if counts[slot] % _PROGRESS_EVERY == 0:
                tick()
            # Warm-up frames get negative numbers, so they are told apart below.
            yield (kept if time_s >= keep_s - _EPS else -1), time_s, image
            kept += time_s >= keep_s - _EPS

    found = [d for d in iter_detections(frames(), settings, back) if d.index >= 0]
    return found, size[0], size[1]


def _detect_parallel(
    video: Path,
    settings: Settings,
    expected: int,
    duration: float,
    origin: float,
    progress: Callable[[float], None],
    max_side: int,
) -> tuple[list[FrameDetections], int, int]:
    # Split by time, not frame number: after a seek only timestamps say where a frame is, and a
    # variable-frame-rate clip has no fixed frames-per-second to convert with.
    mid = duration / 2
    counts = [0, 0]
    stop = threading.Event()

    def tick() -> None:
        progress(min(sum(counts) / expected, 0.99))

    back = new_backtracker(settings)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pose-half") as pool:
        tail_span = (max(0.0, mid - settings.pose_chunk_overlap_s), mid, None)
        second = pool.submit(
            _detect_half, video, settings, origin, tail_span, back, counts, 1, stop, max_side
        )
        try:
            head, width, height = _detect_half(
                video, settings, origin, (0.0, 0.0, mid), back, counts, 0, stop, max_side, tick
            )
        except BaseException:
            stop.set()
            raise
        finally:
            # Once the tail is done too (the pool's exit waits for it).
            pool.submit(back.close)
        tail, _, _ = second.result()
    progress(0.99)
    # Frame numbers as one pass from the start gives them.
    joined = head + [replace(d, index=len(head) + d.index) for d in tail]
    return joined, width, height
