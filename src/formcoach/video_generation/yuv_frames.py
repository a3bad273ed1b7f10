"""Encoder-ready I420 frames of a clip, redrawing and converting only what changes.

Between frames only the figure (with its shadow) and the counter badge change. Their two
rectangles are fixed for the whole clip and aligned to even pixels, so each 2x2 chroma block
lies wholly inside or outside them: converting just those rectangles and pasting them into
the background's I420 planes gives exactly the bytes a full-frame conversion would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
from numpy.typing import NDArray

from formcoach.video_generation.scene import Camera, Image, draw_figure, draw_shadow

if TYPE_CHECKING:  # render imports this module to encode its clips
    from formcoach.video_generation.render import Clip

YUV = NDArray[np.uint8]


@dataclass(frozen=True)
class Rect:
    x0: int
    y0: int
    x1: int
    y1: int


def _even_rect(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> Rect:
    left = max(math.floor(x0) // 2 * 2, 0)
    top = max(math.floor(y0) // 2 * 2, 0)
    right = min((math.ceil(x1) + 1) // 2 * 2, width)
    bottom = min((math.ceil(y1) + 1) // 2 * 2, height)
    return Rect(left, top, right, bottom)


def to_i420(image: Image) -> YUV:
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420), dtype=np.uint8)


def _paste(frame: YUV, patch: YUV, rect: Rect, width: int, height: int) -> None:
    """Put an I420 patch of ``rect`` into a full I420 frame (planes Y, U, V)."""
    h, w = rect.y1 - rect.y0, rect.x1 - rect.x0
    frame[rect.y0 : rect.y1, rect.x0 : rect.x1] = patch[:h]
    chroma = frame[height:].reshape(2, height // 2, width // 2)
    small = patch[h:].reshape(2, h // 2, w // 2)
    chroma[:, rect.y0 // 2 : rect.y1 // 2, rect.x0 // 2 : rect.x1 // 2] = small


class YuvFrames:
    def __init__(self, clip: Clip) -> None:
        self.clip = clip
        self.height, self.width = clip.background.shape[:2]
        cam = clip.camera
        boxes = np.array([f.bounds() for f in clip.figures[clip.demo_start : clip.demo_end]])
        # Outline width, antialiasing and the contact shadow reach a little past the bounds.
        pad = 4.0 + cam.scale * 0.05
        x0 = cam.origin_x + cam.scale * boxes[:, 0].min() - pad
        x1 = cam.origin_x + cam.scale * boxes[:, 2].max() + pad
        y0 = cam.floor_y - cam.scale * boxes[:, 3].max() - pad
        y1 = cam.floor_y - cam.scale * min(boxes[:, 1].min(), 0.0) + pad
        self.figure_rect = _even_rect(x0, y0, x1, y1, self.width, self.height)
        badge = clip.badges.box()
        self.badge_rect = _even_rect(*badge, self.width, self.height)
        rect = self.figure_rect
        self.camera = Camera(cam.scale, cam.origin_x - rect.x0, cam.floor_y - rect.y0)
        backgrounds = clip.backgrounds or [clip.background]
        self._planes = [to_i420(bg) for bg in backgrounds]
        self._cards: dict[int, YUV] = {}
        self._badges: dict[str, YUV] = {}

    def frame(self, i: int) -> YUV:
        clip = self.clip
        card = clip.cards.get(i)
        if card is not None:
            key = id(card)
            if key not in self._cards:
                self._cards[key] = to_i420(card)
            return self._cards[key]
        cue = clip.cue_of[i] if clip.backgrounds else 0
        out = self._planes[cue].copy()
        background = clip.backgrounds[cue] if clip.backgrounds else clip.background
        r = self.figure_rect
        crop = background[r.y0 : r.y1, r.x0 : r.x1].copy()
        draw_shadow(crop, clip.figures[i], self.camera)
        draw_figure(crop, clip.figures[i], self.camera)
        _paste(out, to_i420(crop), r, self.width, self.height)
        text = clip.texts[i]
        badge = self._badges.get(text)
        if badge is None:
            b = self.badge_rect
            area = background[b.y0 : b.y1, b.x0 : b.x1].copy()
            patch = clip.badges.patch(text)
            bx, by = clip.badges.origin()
            area[by - b.y0 : by - b.y0 + patch.shape[0], bx - b.x0 : bx - b.x0 + patch.shape[1]] = (
                patch
            )
            badge = self._badges[text] = to_i420(area)
        _paste(out, badge, self.badge_rect, self.width, self.height)
        return out
