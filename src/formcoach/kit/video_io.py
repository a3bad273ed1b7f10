"""Video decoding and H.264 encoding with PyAV (FFmpeg), frames streamed one at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np
from numpy.typing import NDArray

RGB = NDArray[np.uint8]
# Time base used when frames come with their own timestamps (variable frame rate): 90 kHz, the
# MPEG clock, represents every common frame interval (1/24 .. 1/240 s, NTSC rates) exactly.
VFR_TIME_BASE = Fraction(1, 90000)


@dataclass(frozen=True)
class DecodedFrame:
    index: int
    time_s: float
    image: RGB  # H x W x 3, RGB


def rotate_image(image: RGB, rotation: int) -> RGB:
    """Apply a display-matrix rotation (degrees counter-clockwise, as FFmpeg reports it)."""
    turns = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k=turns)) if turns else image


def iter_frames(path: Path, apply_rotation: bool = True) -> Iterator[DecodedFrame]:
    """Decode every frame with its presentation time (real timestamps, so VFR clips stay right)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        first_pts: float | None = None
        for index, frame in enumerate(container.decode(stream)):
            t = (
                float(frame.time)
                if frame.time is not None
                else index / float(stream.average_rate or 30)
            )
            if first_pts is None:
                first_pts = t
            image: RGB = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
            if apply_rotation and frame.rotation:
                image = rotate_image(image, frame.rotation)
            yield DecodedFrame(index=index, time_s=t - first_pts, image=image)


class H264Writer:
    """Writes RGB frames to a browser-playable MP4 (H.264, yuv420p, faststart)."""

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: float,
        crf: int = 23,
        preset: str = "veryfast",
        x264_params: str | None = None,
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

    def write(self, image: RGB, time_s: float | None = None) -> None:
        """Write one RGB frame; ``time_s`` (for every frame or none) keeps real timestamps."""
        if image.shape[0] != self.height or image.shape[1] != self.width:
            image = np.ascontiguousarray(image[: self.height, : self.width])
        # OpenCV's SIMD RGB->I420 (BT.601, like swscale's default) is many times faster than
        # PyAV's per-frame swscale conversion.
        yuv = np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420), dtype=np.uint8)
        self.write_yuv420(yuv, time_s)

    def write_yuv420(self, yuv: NDArray[np.uint8], time_s: float | None = None) -> None:
        """Write one planar I420 frame (shape height*3/2 x width), optionally at ``time_s``."""
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        if time_s is not None:
            if self.frames == 0:
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
        self.frames += 1

    def close(self) -> None:
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
