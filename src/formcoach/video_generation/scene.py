"""The set and the camera: a plain room (wall, skirting, floor), props, and the figure drawn in it.

The camera is orthographic and level, so the floor plane is seen edge-on as the floor line:
world y = 0 maps to one pixel row and a figure resting on the floor touches that row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from formcoach.video_generation.figure import Figure
from formcoach.video_generation.keyframes import Prop
from formcoach.video_generation.palette import (
    FLOOR_FAR,
    FLOOR_NEAR,
    SKIRTING,
    WALL_BOTTOM,
    WALL_TOP,
    Colour,
    darker,
    outline_of,
)

Image = NDArray[np.uint8]  # H x W x 3 RGB
_SHIFT = 4  # cv2 fixed-point bits: polygons are placed with 1/16 pixel precision
_ONE = 1 << _SHIFT
WALL_PROP = (236, 238, 240)
STEP = (150, 116, 82)


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    right: float
    bottom: float


@dataclass(frozen=True)
class Camera:
    scale: float  # pixels per body height
    origin_x: float  # pixel column of world x = 0
    floor_y: float  # pixel row of the floor line (world y = 0)

    def to_px(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.empty_like(points)
        out[:, 0] = self.origin_x + self.scale * points[:, 0]
        out[:, 1] = self.floor_y - self.scale * points[:, 1]
        return out

    def fixed(self, points: NDArray[np.float64]) -> NDArray[np.int32]:
        fixed: NDArray[np.int32] = np.round(self.to_px(points) * _ONE).astype(np.int32)
        return fixed


def fit_camera(bounds: tuple[float, float, float, float], box: Box) -> Camera:
    """A fixed camera for the whole clip: everything the figure reaches stays inside ``box``.

    The figure is centred across the box; vertically, spare room goes 60/40 above/below so
    a low figure (a plank in a portrait frame) sits a little below the middle, not at the edge.
    """
    x0, y0, x1, y1 = bounds
    y0 = min(y0, 0.0)
    width, height = max(x1 - x0, 0.2), max(y1 - y0, 0.2)
    scale = min((box.right - box.left) / width, (box.bottom - box.top) / height)
    origin_x = (box.left + box.right) / 2.0 - scale * (x0 + x1) / 2.0
    spare = (box.bottom - box.top) - scale * height
    floor_y = box.bottom - 0.4 * spare + scale * y0
    # Pixel-aligned floor keeps the floor line crisp (no half-covered row).
    return Camera(scale=scale, origin_x=origin_x, floor_y=float(math.floor(floor_y)))


def _vertical_gradient(height: int, width: int, top: Colour, bottom: Colour) -> Image:
    if height <= 0:
        return np.zeros((0, width, 3), dtype=np.uint8)
    t = np.linspace(0.0, 1.0, height)[:, None]
    column = np.array(top, dtype=np.float64) * (1.0 - t) + np.array(bottom, dtype=np.float64) * t
    return np.repeat(np.round(column).astype(np.uint8)[:, None, :], width, axis=1)


def make_set(width: int, height: int, camera: Camera, props: tuple[Prop, ...] = ()) -> Image:
    """The static background, drawn once per video: wall, skirting board, floor, props."""
    floor = int(camera.floor_y)
    img = np.empty((height, width, 3), dtype=np.uint8)
    floor_row = min(max(floor, 0), height)
    img[:floor_row] = _vertical_gradient(floor_row, width, WALL_TOP, WALL_BOTTOM)
    img[floor_row:] = _vertical_gradient(height - floor_row, width, FLOOR_FAR, FLOOR_NEAR)
    skirting = max(2, round(camera.scale * 0.035))
    top = max(floor - skirting, 0)
    img[top:floor_row] = SKIRTING
    if 0 <= floor < height:
        img[floor] = darker(SKIRTING, 0.8)
    for prop in props:
        _draw_prop(img, camera, prop)
    return img


def _draw_prop(img: Image, camera: Camera, prop: Prop) -> None:
    floor = int(camera.floor_y)
    left = round(camera.origin_x + camera.scale * prop.x0)
    right = img.shape[1] if math.isinf(prop.x1) else round(camera.origin_x + camera.scale * prop.x1)
    top = 0 if math.isinf(prop.top) else round(camera.floor_y - camera.scale * prop.top)
    colour = WALL_PROP if prop.kind == "wall" else STEP
    cv2.rectangle(img, (left, top), (right, floor), colour, cv2.FILLED)
    edge = outline_of(colour)
    line = max(2, round(camera.scale * 0.004))
    if prop.kind == "wall":
        cv2.line(img, (left, 0), (left, floor), edge, line, cv2.LINE_AA)
    else:
        cv2.rectangle(img, (left, top), (right, floor), edge, line, cv2.LINE_AA)
        # A lighter strip along the top reads as the tread of the step.
        cv2.line(
            img, (left + line, top + line), (right - line, top + line), darker(STEP, 1.15), line
        )


def draw_shadow(img: Image, figure: Figure, camera: Camera) -> None:
    """A soft contact shadow under the parts of the body near the floor."""
    pts = np.concatenate([layer.polygon for part in figure.parts for layer in part.layers])
    near = pts[pts[:, 1] < 0.12]
    if near.size == 0:
        return
    xs = camera.to_px(near)[:, 0]
    lo, hi = float(xs.min()), float(xs.max())
    half_h = max(3.0, camera.scale * 0.018)
    cx, cy = (lo + hi) / 2.0, camera.floor_y + half_h * 0.3
    half_w = (hi - lo) / 2.0 + half_h
    x0, x1 = max(int(cx - half_w) - 2, 0), min(int(cx + half_w) + 3, img.shape[1])
    y0, y1 = max(int(cy - half_h) - 2, 0), min(int(cy + half_h) + 3, img.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    centre = (round((cx - x0) * _ONE), round((cy - y0) * _ONE))
    axes = (round(half_w * _ONE), round(half_h * _ONE))
    cv2.ellipse(mask, centre, axes, 0.0, 0.0, 360.0, (70,), cv2.FILLED, cv2.LINE_AA, _SHIFT)
    roi = img[y0:y1, x0:x1].astype(np.uint16)
    img[y0:y1, x0:x1] = ((roi * (256 - mask[:, :, None].astype(np.uint16))) >> 8).astype(np.uint8)


def draw_figure(img: Image, figure: Figure, camera: Camera) -> None:
    line = max(1, round(camera.scale * 0.0035))
    # The outline straddles the polygon edge: lift everything by half its width so the drawn
    # soles (not the geometric ones) stand on the floor line.
    raise_by = np.array([0, round(line * _ONE / 2)], dtype=np.int32)
    for part in figure.parts:
        for layer in part.layers:
            pts = camera.fixed(layer.polygon) - raise_by
            cv2.fillPoly(img, [pts], layer.colour, cv2.LINE_AA, _SHIFT)
            cv2.polylines(img, [pts], True, outline_of(layer.colour), line, cv2.LINE_AA, _SHIFT)
