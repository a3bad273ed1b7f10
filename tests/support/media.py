"""Synthetic clips for tests, written with the same PyAV encoder the app uses."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from formcoach.kit.video_io import H264Writer


def gradient_clip(
    path: Path, seconds: float = 2.0, fps: int = 30, size: tuple[int, int] = (320, 240)
) -> Path:
    """A moving colour gradient: a real, decodable video with no person in it."""
    width, height = size
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    with H264Writer(path, width, height, fps) as writer:
        for i in range(int(seconds * fps)):
            img = np.stack(
                [
                    (x + 3 * i) % 256 + 0 * y,
                    (y + 2 * i) % 256 + 0 * x,
                    np.full((height, width), 90.0),
                ],
                axis=-1,
            )
            writer.write(img.astype(np.uint8))
    return path


def long_clip(path: Path, seconds: float, frames: int = 6, size: int = 32) -> Path:
    """A tiny clip whose frames are spread over ``seconds`` (a 4-hour video in a few KB)."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=1)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        step = seconds * 1000 / (frames - 1)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(
                np.full((size, size, 3), 40 * i % 255, np.uint8), format="rgb24"
            )
            frame.pts = int(i * step)
            frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def top_atoms(path: Path) -> list[bytes]:
    """The MP4's top-level boxes in file order (faststart: moov before mdat)."""
    data = path.read_bytes()
    atoms, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        atoms.append(kind)
        if size < 8:
            break
        pos += size
    return atoms
