"""Video decoding and H.264 encoding with PyAV (FFmpeg), frames streamed one at a time."""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import queue
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import av
import cv2
import numpy as np
from numpy.typing import NDArray

from formcoach.kit.planes import planes_scalable, scale_i420

RGB = NDArray[np.uint8]
T = TypeVar("T")
# Time base used when frames come with their own timestamps (variable frame rate): 90 kHz, the
# MPEG clock, represents every common frame interval (1/24 .. 1/240 s, NTSC rates) exactly.
VFR_TIME_BASE = Fraction(1, 90000)


# mallopt's parameter numbers (glibc malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
# Blocks from this size on are mmapped: full-size 1080p RGB frames (6.2 MB) and larger, which
# go back to the system as soon as they are freed. Below it: the frames pose estimation works
# on (at most 1280 px a side: 2.7-4.9 MB) and MediaPipe's copy of each.
_MMAP_FROM = 5 << 20
# A heap keeps this much free memory at its top instead of returning it at every free: the
# next frame reuses it instead of being faulted in page by page.
_KEEP_FREE_TOP = 16 << 20
# Heaps ("arenas") threads may allocate from. glibc's default, 8 per core, lets each of the
# pose pass's threads (decoding, two graphs per half, MediaPipe's own) hold frames and free
# space in a heap of its own: capped at 4, the 60 s clip's pose pass peaked 35-50 MB lower
# (833-845 MB in four runs against 864-881 MB in three) at the same speed.
_ARENAS = 4


def _tune_allocator() -> None:
    """Fixed thresholds for frame-sized blocks.

    glibc's own moving mmap threshold lets full-size frames of several threads fragment the
    heap (~130 MB more at the peak of a two-thread pose pass), while mmapping every frame
    (a 1 MiB threshold) costs ~1,400 page faults per frame, ~10 % of the pose stage's CPU,
    most of them in MediaPipe's copy of each input frame.
    """
    # Not glibc (OSError, AttributeError): nothing to set, the allocator is another one.
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_FROM)
        libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_FREE_TOP)
        libc.mallopt(_M_ARENA_MAX, _ARENAS)


def trim_heap() -> None:
    """Hand freed heap memory back to the system (glibc keeps it otherwise)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


# Once per process, before any frame is decoded: every frame of every stage goes through here.
_tune_allocator()


@dataclass(frozen=True)
class DecodedFrame:
    index: int
    time_s: float
    image: RGB  # H x W x 3, RGB


def rotate_image(image: RGB, rotation: int) -> RGB:
    """Apply a display-matrix rotation (degrees counter-clockwise, as FFmpeg reports it)."""
    turns = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k=turns)) if turns else image


def fit_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Fit within max_side keeping the aspect ratio, with the even sizes yuv420p needs."""
    scale = min(1.0, max_side / max(width, height))

    def even(x: float) -> int:
        return max(2, 2 * round(x * scale / 2))

    return even(width), even(height)


def to_rgb(frame: av.VideoFrame, size: tuple[int, int] | None = None, fast: bool = False) -> RGB:
    """The frame as RGB, scaled to ``size`` (width, height, as stored: before rotation).

    Scaled by swscale's area filter in the colour conversion pass, or with ``fast`` plane by
    plane first where planes.py can (a third of the cost).
    """
    if size is None or size == (frame.width, frame.height):
        return np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
    if fast and planes_scalable(frame, size):
        return np.asarray(cv2.cvtColor(scale_i420(frame, size), cv2.COLOR_YUV2RGB_I420), np.uint8)
    scaled = frame.to_ndarray(width=size[0], height=size[1], format="rgb24", interpolation="AREA")
    return np.asarray(scaled, dtype=np.uint8)


def _stored_size(size: tuple[int, int] | None, rotation: int) -> tuple[int, int] | None:
    """A displayed (rotated) size as the decoder stores it."""
    if size is None or (rotation // 90) % 2 == 0:
        return size
    return size[1], size[0]


def _threads(stream: av.video.stream.VideoStream, threads: int) -> None:
    """0: FFmpeg's frame threading over all cores. 1: one thread, for callers whose other
    threads keep the cores busy anyway: each frame thread holds its own 1080p frame pool
    (the two pose halves decoding a 1080p proxy peaked ~85 MB higher with it)."""
    if threads == 1:
        stream.thread_count = 1
    else:
        stream.thread_type = "AUTO"


def iter_frames(
    path: Path,
    apply_rotation: bool = True,
    size: tuple[int, int] | None = None,
    threads: int = 0,
    fast_scale: bool = False,
) -> Iterator[DecodedFrame]:
    """Decode every frame with its presentation time (real timestamps, so VFR clips stay right).

    ``size`` (width, height as displayed) scales every frame to it while converting to RGB
    (``fast_scale``: see to_rgb's ``fast``); ``threads`` see ``_threads``.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        _threads(stream, threads)
        first_pts: float | None = None
        for index, frame in enumerate(container.decode(stream)):
            t = (
                float(frame.time)
                if frame.time is not None
                else index / float(stream.average_rate or 30)
            )
            if first_pts is None:
                first_pts = t
            rotation = frame.rotation if apply_rotation else 0
            image = to_rgb(frame, _stored_size(size, rotation), fast_scale)
            if rotation:
                image = rotate_image(image, rotation)
            yield DecodedFrame(index=index, time_s=t - first_pts, image=image)


def prefetch(items: Iterator[T], depth: int = 3) -> Generator[T, None, None]:
    """``items`` produced by a background thread, up to ``depth`` ahead: decoding (FFmpeg
    releases the GIL) then overlaps with what the consumer does with each frame. Closing
    this generator stops the thread, and closes ``items`` in it (so a prefetch of a prefetch
    stops both)."""
    slots: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                slots.put((True, item))
            slots.put((False, None))
        except BaseException as exc:  # handed to the consumer
            slots.put((False, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = slots.get()
            if not ok:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        # Unblock a producer waiting for room, then let it finish its current item.
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                slots.get(timeout=0.05)
        worker.join()


def first_frame_time(path: Path) -> float | None:
    """Presentation time (s) of the first frame: the origin of every ``time_s``; None when the
    stream carries no timestamps (then only a pass from the start can number the frames)."""
    with av.open(str(path)) as container:
        frame = next(container.decode(container.streams.video[0]), None)
        return None if frame is None or frame.time is None else float(frame.time)


def display_size(path: Path) -> tuple[int, int]:
    """Width and height of the first frame as shown (its rotation applied)."""
    with av.open(str(path)) as container:
        frame = next(container.decode(container.streams.video[0]), None)
        if frame is None:
            return 0, 0
        turned = (frame.rotation // 90) % 2 == 1
        return (frame.height, frame.width) if turned else (frame.width, frame.height)


def iter_frames_from(
    path: Path,
    start_s: float,
    origin_s: float,
    apply_rotation: bool = True,
    threads: int = 0,
    size: tuple[int, int] | None = None,
    fast_scale: bool = False,
) -> Iterator[tuple[float, RGB]]:
    """(time_s, image) of the frames from ``start_s`` on, decoding from the keyframe before it
    instead of from the start; times are relative to ``origin_s`` (see first_frame_time), so
    they equal those of iter_frames exactly. ``size`` and ``fast_scale`` as for iter_frames."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        _threads(stream, threads)
        base = stream.time_base or Fraction(1, 90000)
        if start_s > 0:
            # backward=True lands on the keyframe at or before the target.
            container.seek(int((origin_s + start_s) / base), stream=stream, backward=True)
        frames = container.decode(stream)
        first = next(frames, None)
        if first is not None and (first.time is None or first.time - origin_s > start_s + 1e-6):
            # The seek overshot (a sparse or missing index): decode from the start instead.
            container.seek(0, stream=stream, backward=True)
            frames = container.decode(stream)
            first = None
        for frame in frames if first is None else itertools.chain((first,), frames):
            if frame.time is None:
                raise ValueError(f"{path}: a frame without a timestamp")
            t = float(frame.time) - origin_s
            if t < start_s - 1e-6:
                continue  # decoded only to reach the start (frames depend on earlier ones)
            rotation = frame.rotation if apply_rotation else 0
            image = to_rgb(frame, _stored_size(size, rotation), fast_scale)
            if rotation:
                image = rotate_image(image, rotation)
            yield t, image


class H264Writer:
    """Writes RGB frames to a browser-playable MP4 (H.264, yuv420p, faststart).

    With ``background=True`` colour conversion, encoding and muxing run in a thread of their
    own (OpenCV and FFmpeg release the GIL), so a caller that decodes and draws frames keeps
    the second core busy; the output is byte-identical. The writer then keeps each array it
    is given until encoded: pass a fresh one every time, never a reused buffer.
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: float,
        crf: int = 23,
        preset: str = "veryfast",
        x264_params: str | None = None,
        background: bool = False,
    ) -> None:
        # yuv420p needs even dimensions.
        self.width = width - width % 2
        self.height = height - height % 2
        self.path = path
        self._container = av.open(
            str(path), mode="w", format="mp4", options={"movflags": "+faststart"}
        )
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width = self.width
        self._stream.height = self.height
        self._stream.pix_fmt = "yuv420p"
        # A fixed thread count keeps the output byte-identical from run to run.
        options = {"crf": str(crf), "preset": preset, "threads": "2"}
        if x264_params:
            options["x264-params"] = x264_params
        self._stream.codec_context.options = options
        self._stream.codec_context.thread_count = 2
        self.frames = 0
        self._last_pts = -1
        self._error: BaseException | None = None
        self._queue: queue.Queue[tuple[bool, NDArray[np.uint8], float | None] | None] | None = None
        self._worker: threading.Thread | None = None
        if background:
            # A few frames of slack absorb the jitter between drawing and encoding.
            self._queue = queue.Queue(maxsize=4)
            self._worker = threading.Thread(target=self._drain, name="h264-writer", daemon=True)
            self._worker.start()

    def _drain(self) -> None:
        assert self._queue is not None
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep taking frames so the producer never blocks; it raises soon
            rgb, array, time_s = item
            try:
                if rgb:
                    self._encode_rgb(array, time_s)
                else:
                    self._encode_yuv420(array, time_s)
            except BaseException as exc:  # re-raised in the producer's thread
                self._error = exc

    def _hand_over(self, rgb: bool, array: NDArray[np.uint8], time_s: float | None) -> bool:
        """Queue the frame for the background thread; False when there is none."""
        if self._queue is None:
            return False
        if self._error is not None:
            raise self._error
        self._queue.put((rgb, array, time_s))
        self.frames += 1
        return True

    def _stop(self) -> None:
        if self._queue is not None and self._worker is not None:
            self._queue.put(None)
            self._worker.join()
            self._queue = None
        if self._error is not None:
            raise self._error

    def write(self, image: RGB, time_s: float | None = None) -> None:
        """Write one RGB frame; ``time_s`` (for every frame or none) keeps real timestamps."""
        if not self._hand_over(True, image, time_s):
            self._encode_rgb(image, time_s)
            self.frames += 1

    def write_yuv420(self, yuv: NDArray[np.uint8], time_s: float | None = None) -> None:
        """Write one planar I420 frame (shape height*3/2 x width), optionally at ``time_s``."""
        if not self._hand_over(False, yuv, time_s):
            self._encode_yuv420(yuv, time_s)
            self.frames += 1

    def _encode_rgb(self, image: RGB, time_s: float | None) -> None:
        if image.shape[0] != self.height or image.shape[1] != self.width:
            image = np.ascontiguousarray(image[: self.height, : self.width])
        # OpenCV's SIMD RGB->I420 (BT.601, like swscale's default) is many times faster than
        # PyAV's per-frame swscale conversion.
        yuv = np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420), dtype=np.uint8)
        self._encode_yuv420(yuv, time_s)

    def _encode_yuv420(self, yuv: NDArray[np.uint8], time_s: float | None) -> None:
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        if time_s is not None:
            if self._last_pts < 0:
                # The codec opens on the first frame: a fine time base set now keeps variable
                # frame intervals exact instead of rounding them to the nominal rate.
                self._stream.codec_context.time_base = VFR_TIME_BASE
                self._stream.time_base = VFR_TIME_BASE
            # Encoders need strictly increasing timestamps; a repeated one moves up a tick.
            pts = max(round(time_s / VFR_TIME_BASE), self._last_pts + 1)
            self._last_pts = pts
            frame.pts = pts
            frame.time_base = VFR_TIME_BASE
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        try:
            self._stop()
        except BaseException:
            self._container.close()
            raise
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            with contextlib.suppress(Exception):
                self._stop()  # the original exception matters more than the writer's
            self._container.close()


def is_playable_h264(path: Path) -> bool:
    """True when the file is an MP4 whose first video stream is H.264 yuv420p with frames."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            ok = stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
            return ok and next(container.decode(stream), None) is not None
    except (av.FFmpegError, IndexError, OSError):
        return False
