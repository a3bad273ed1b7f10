"""Clips composed from real footage: a fixture person pasted onto a white canvas in shots with
hard cuts, or a moving box drawn over a fixture to hide its person for a moment.

The people stay real (decoded from the fixture clips), only their framing changes: that is what
a tutorial edited from several takes looks like to the detector.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from formcoach.kit.video_io import RGB, H264Writer, iter_frames

WHITE = 250


@dataclass(frozen=True)
class Shot:
    """Source frames [start, stop) scaled by ``scale``, placed with the frame's centre at
    (``cx``, ``cy``) as shares of the canvas; ``mirror`` flips it (the camera on the other side)."""

    start: int
    stop: int
    scale: float
    cx: float = 0.5
    cy: float = 0.5
    mirror: bool = False


def whiten(image: RGB, plate: RGB, level: int = 40) -> RGB:
    """Everything that matches the empty scene (``plate``, a frame of the tripod clip with
    nobody in it) becomes plain white; the person stays as filmed."""
    diff = np.abs(image.astype(np.int16) - plate.astype(np.int16)).max(axis=2)
    moved = (diff > level).astype(np.uint8)
    # Dark trousers over a dark floor differ little from it: a tall closing fills that band
    # of the legs from the parts above and below it.
    moved = cv2.morphologyEx(moved, cv2.MORPH_CLOSE, np.ones((61, 9), np.uint8))
    person = cv2.dilate(moved, np.ones((9, 9), np.uint8)) > 0
    out = np.full_like(image, WHITE)
    out[person] = image[person]
    return out


def place(image: RGB, shot: Shot, width: int, height: int) -> RGB:
    canvas = np.full((height, width, 3), WHITE, dtype=np.uint8)
    src = image[:, ::-1] if shot.mirror else image
    h, w = src.shape[:2]
    sw, sh = max(2, round(w * shot.scale)), max(2, round(h * shot.scale))
    scaled = cv2.resize(np.ascontiguousarray(src), (sw, sh), interpolation=cv2.INTER_AREA)
    x0, y0 = round(shot.cx * width - sw / 2), round(shot.cy * height - sh / 2)
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(width, x0 + sw), min(height, y0 + sh)
    canvas[cy0:cy1, cx0:cx1] = scaled[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    return canvas


def cut_clip(
    source: Path,
    out: Path,
    shots: list[Shot],
    size: tuple[int, int] = (1280, 720),
    fps: int = 30,
    plate: int | None = None,
) -> Path:
    """The shots one after the other, each a hard cut from the last; with ``plate`` (the index
    of an empty frame) the background is whitened."""
    decoded = [f.image for f in iter_frames(source)]
    frames = decoded if plate is None else [whiten(im, decoded[plate]) for im in decoded]
    width, height = size
    with H264Writer(out, width, height, fps) as writer:
        for shot in shots:
            for i in range(shot.start, min(shot.stop, len(frames))):
                writer.write(place(frames[i], shot, width, height))
    return out


def occluded_clip(
    source: Path,
    out: Path,
    hide: tuple[int, int],
    box_x: tuple[float, float],
    box_w: float,
    fps: int = 30,
    stop: int | None = None,
) -> Path:
    """The source with an opaque grey box, full height and ``box_w`` of the width wide, sliding
    from ``box_x[0]`` to ``box_x[1]`` (shares of the width) over frames [hide[0], hide[1]):
    someone walking in front of the camera for a moment."""
    first = True
    writer: H264Writer | None = None
    try:
        for f in iter_frames(source):
            if stop is not None and f.index >= stop:
                break
            image = f.image
            if first:
                writer = H264Writer(out, image.shape[1], image.shape[0], fps)
                first = False
            if hide[0] <= f.index < hide[1]:
                share = (f.index - hide[0]) / max(1, hide[1] - hide[0] - 1)
                left = (box_x[0] + share * (box_x[1] - box_x[0])) * image.shape[1]
                x0 = max(0, round(left))
                x1 = min(image.shape[1], round(left + box_w * image.shape[1]))
                image = image.copy()
                image[:, x0:x1] = (70, 70, 80)
            assert writer is not None
            writer.write(image)
    finally:
        if writer is not None:
            writer.close()
    return out


def crossing_clip(
    source: Path,
    out: Path,
    back: tuple[int, int],
    front: tuple[int, int],
    plate: int,
    scale: float = 0.8,
    size: tuple[int, int] = (1280, 720),
    fps: int = 30,
) -> Path:
    """Two real walkers on white crossing each other: frames ``back`` of the source as filmed,
    and frames ``front`` mirrored (walking the other way) pasted over them, so the one behind
    is hidden for as long as they overlap."""
    decoded = [f.image for f in iter_frames(source)]
    width, height = size
    n = min(back[1] - back[0], front[1] - front[0])
    with H264Writer(out, width, height, fps) as writer:
        for i in range(n):
            behind = place(whiten(decoded[back[0] + i], decoded[plate]), Shot(0, 1, scale), *size)
            ahead = place(
                whiten(decoded[front[0] + i], decoded[plate]), Shot(0, 1, scale, mirror=True), *size
            )
            person = (ahead < WHITE - 5).any(axis=2)
            behind[person] = ahead[person]
            writer.write(behind)
    return out
