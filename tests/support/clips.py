"""Clips with known problems made from the real fixture clips (FFmpeg through PyAV: decode,
edit the frames, encode with the app's H.264 writer): a cut, a title card, a pan, a dark copy,
a small subject, a short trim."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from formcoach.kit.video_io import RGB, H264Writer, iter_frames

Edit = Callable[[int, RGB], RGB]


def _frames(src: Path, start_s: float, end_s: float) -> Iterator[RGB]:
    for frame in iter_frames(src):
        if frame.time_s >= end_s:
            break
        if frame.time_s >= start_s:
            yield frame.image


def _fit(image: RGB, size: tuple[int, int]) -> RGB:
    if (image.shape[1], image.shape[0]) == size:
        return image
    return np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def derive(
    src: Path,
    dst: Path,
    start_s: float = 0.0,
    end_s: float = 1e9,
    edit: Edit | None = None,
    size: tuple[int, int] = (1280, 720),
    fps: float = 30.0,
) -> Path:
    """``src`` from start_s to end_s, each frame edited, at ``size``."""
    with H264Writer(dst, *size, fps) as writer:
        for i, image in enumerate(_frames(src, start_s, end_s)):
            writer.write(_fit(edit(i, image) if edit else image, size))
    return dst


def concat(
    parts: list[tuple[Path, float, float]], dst: Path, size: tuple[int, int] = (1280, 720)
) -> Path:
    """Segments of clips played one after the other: a hard cut at each join."""
    with H264Writer(dst, *size, 30.0) as writer:
        for src, start_s, end_s in parts:
            for image in _frames(src, start_s, end_s):
                writer.write(_fit(image, size))
    return dst


def title_card(
    src: Path, dst: Path, seconds: float = 2.0, start_s: float = 0.0, end_s: float = 1e9
) -> Path:
    """A still dark-blue card with white text, then the clip."""
    size = (1280, 720)
    card = np.zeros((size[1], size[0], 3), np.uint8)
    card[:] = (20, 30, 90)
    for row, text in enumerate(("WALKING DRILL", "Episode 3 - formcoach test")):
        cv2.putText(
            card, text, (120, 300 + 110 * row), cv2.FONT_HERSHEY_SIMPLEX, 2.4 - row, (255,) * 3, 4
        )
    with H264Writer(dst, *size, 30.0) as writer:
        for _ in range(round(seconds * 30)):
            writer.write(card.copy())
        for image in _frames(src, start_s, end_s):
            writer.write(_fit(image, size))
    return dst


def pan(src: Path, dst: Path, start_s: float, end_s: float, px_per_s: float) -> Path:
    """A window of half the width moving across the frame: a camera panning."""
    out = (640, 720)

    def edit(i: int, image: RGB) -> RGB:
        x = min(int(i / 30.0 * px_per_s), image.shape[1] - out[0])
        return np.ascontiguousarray(image[:, x : x + out[0]])

    return derive(src, dst, start_s, end_s, edit, size=out)


def darken(src: Path, dst: Path, gain: float, start_s: float = 0.0, end_s: float = 1e9) -> Path:
    """Every pixel scaled by ``gain``: an underexposed copy (ffmpeg's eq=brightness idea)."""
    return derive(src, dst, start_s, end_s, lambda _i, im: (im * gain).astype(np.uint8))


def shrink(src: Path, dst: Path, share: float, start_s: float = 0.0, end_s: float = 1e9) -> Path:
    """The picture scaled by ``share`` and padded with grey to the full size, standing on the
    bottom edge: the person far from the camera."""
    size = (1280, 720)

    def edit(_i: int, image: RGB) -> RGB:
        small = cv2.resize(image, None, fx=share, fy=share, interpolation=cv2.INTER_AREA)
        canvas = np.full((size[1], size[0], 3), 128, np.uint8)
        h, w = small.shape[:2]
        x = (size[0] - w) // 2
        canvas[size[1] - h - 40 : size[1] - 40, x : x + w] = small
        return canvas

    return derive(src, dst, start_s, end_s, edit)
