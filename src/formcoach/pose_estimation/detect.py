"""Every person in every frame: MediaPipe Pose run again after masking out the people found.

MediaPipe's pose graph follows one person. To see several, each frame goes through a chain of
graphs: graph k sees the frame with the people found by graphs 0..k-1 painted over, so it
follows someone else. Each graph keeps its own tracking state, which makes the chain cheap
(the person detector only runs when a graph has lost its person). Which detection belongs to
which person is decided afterwards, by the tracker, from continuity alone.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from mediapipe.python.solutions import pose as mp_pose
from numpy.typing import NDArray

from formcoach.kit.settings import Settings
from formcoach.kit.video_io import RGB, iter_frames
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


@dataclass(frozen=True)
class Detection:
    keypoints: NDArray[np.float32]  # (33, 4): x px, y px, z, visibility

    @property
    def box(self) -> tuple[float, float, float, float]:
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


def _mask(image: RGB, box: tuple[float, float, float, float]) -> None:
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

    A graph other than the first that finds nobody rests for ``search_every_s`` before looking
    again: with one person in view the chain then costs little more than a single graph,
    and someone walking in is picked up within that interval.
    """

    def __init__(self, graphs: list[mp_pose.Pose], min_quality: float, search_every_s: float):
        self.graphs = graphs
        self.min_quality = min_quality
        self.search_every_s = search_every_s
        self._resting_until = [0.0] * len(graphs)

    def detect(self, image: RGB, time_s: float) -> list[Detection]:
        """People in one frame, each found with the previous ones masked out.

        Low-quality finds are masked too (so the next graph looks elsewhere) but not returned.
        """
        people: list[Detection] = []
        source = image
        for k, graph in enumerate(self.graphs):
            if k > 0 and time_s < self._resting_until[k]:
                continue
            found = _run(graph, source)
            if found is None:
                if k > 0:
                    self._resting_until[k] = time_s + self.search_every_s
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
) -> Iterator[FrameDetections]:
    """Detections of every frame, frames streamed one at a time."""
    graphs = [new_graph(settings) for _ in range(max(1, settings.pose_max_people))]
    chain = GraphChain(graphs, settings.pose_min_person_quality, settings.pose_search_every_s)
    next_crop = 0.0
    try:
        for index, time_s, image in frames:
            people = chain.detect(image, time_s)
            crops = None
            if people and time_s >= next_crop:
                crops = [crop_person(image, p) for p in people]
                next_crop = time_s + _CROP_EVERY_S
            yield FrameDetections(index, time_s, people, crops)
    finally:
        for graph in graphs:
            graph.close()


def _detect_range(
    video: Path, settings: Settings, warmup: int, start: int, stop: int | None
) -> tuple[list[FrameDetections], int, int]:
    """Detections of frames [start, stop). Frames from ``warmup`` are run but not kept, so the
    graphs enter the range already following their people; earlier frames are only decoded
    (real timestamps and frame numbers stay exactly those of a single pass)."""
    size = [0, 0]

    def frames() -> Iterator[tuple[int, float, RGB]]:
        for frame in iter_frames(video):
            if stop is not None and frame.index >= stop:
                return
            size[0], size[1] = frame.image.shape[1], frame.image.shape[0]
            if frame.index >= warmup:
                yield frame.index, frame.time_s, frame.image

    kept = [d for d in iter_detections(frames(), settings) if d.index >= start]
    return kept, size[0], size[1]


def detect_video(
    video: Path,
    settings: Settings,
    progress: Callable[[float], None] = lambda _f: None,
) -> tuple[list[FrameDetections], int, int]:
    """All detections of a video, with the frame width and height.

    Long clips are split in two halves run in two processes (one pose graph chain each, on
    both cores); the second half starts ``pose_chunk_overlap_s`` early to warm its graphs up.
    Tracking runs afterwards over the joined detections, so there is no seam in identities.
    """
    expected = expected_frames(video)
    duration = _duration_s(video)
    # A daemonic process (e.g. a prefork task worker) may not start children of its own.
    can_fork = not multiprocessing.current_process().daemon
    long_clip = expected > 0 and duration >= settings.pose_parallel_min_s
    if settings.pose_workers >= 2 and long_clip and can_fork:
        return _detect_parallel(video, settings, expected, duration, progress)
    size = [0, 0]

    def frames() -> Iterator[tuple[int, float, RGB]]:
        for frame in iter_frames(video):
            size[0], size[1] = frame.image.shape[1], frame.image.shape[0]
            yield frame.index, frame.time_s, frame.image

    out: list[FrameDetections] = []
    for found in iter_detections(frames(), settings):
        out.append(found)
        if expected and len(out) % _PROGRESS_EVERY == 0:
            progress(min(len(out) / expected, 0.99))
    return out, size[0], size[1]


def _duration_s(video: Path) -> float:
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return float(container.duration or 0) / av.time_base


def _detect_parallel(
    video: Path,
    settings: Settings,
    expected: int,
    duration: float,
    progress: Callable[[float], None],
) -> tuple[list[FrameDetections], int, int]:
    mid = expected // 2
    overlap = round(settings.pose_chunk_overlap_s * expected / max(duration, 1e-6))
    # Spawned, not forked: MediaPipe and the job runner's threads do not survive a fork. The
    # first half runs here, so only one extra interpreter (~0.4 GB) is ever alive.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        second = pool.submit(_detect_range, video, settings, max(0, mid - overlap), mid, None)
        head, width, height = _detect_range(video, settings, 0, 0, mid)
        progress(0.5)
        tail, _, _ = second.result()
    progress(0.99)
    return head + tail, width, height
