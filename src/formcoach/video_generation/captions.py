"""Captions in Japanese or English, drawn with Pillow in IPAexGothic.

The font ships inside the japanize-matplotlib wheel; it is located without importing that
package (importing it would pull in matplotlib).
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

from formcoach.video_generation.palette import CAPTION_ACCENT, CAPTION_BG, CAPTION_TEXT
from formcoach.video_generation.scene import Box, Image

# Characters that must not begin a Japanese line (kinsoku shori), and must not end one.
_NO_LINE_START = set("、。，．,.)）」』】〕・ー…！？!?ぁぃぅぇぉっゃゅょァィゥェォッャュョ")
_NO_LINE_END = set("(（「『【〔")
_TOKEN = re.compile(r"[A-Za-z0-9'’.,:;!?%()\-–/×+]+\s*|\s+|.", re.UNICODE)
PANEL_ALPHA = 0.82


@cache
def font_path() -> Path:
    spec = importlib.util.find_spec("japanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the japanize-matplotlib package (IPAexGothic font) is not installed")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "fonts" / "ipaexg.ttf"
        if path.is_file():
            return path
    raise RuntimeError("ipaexg.ttf not found inside japanize_matplotlib")


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path()), size)


def wrap(text: str, face: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Greedy line breaking: at spaces for Latin words, between any two characters for Japanese
    (respecting kinsoku), so both languages fill the width naturally."""
    lines: list[str] = []
    line = ""
    for token in _TOKEN.findall(text.strip()):
        candidate = line + token
        if not line or face.getlength(candidate.rstrip()) <= max_width:
            line = candidate
            continue
        if len(line) > 1 and (token[0] in _NO_LINE_START or line[-1] in _NO_LINE_END):
            # Move one character across the break instead of breaking before this token.
            line, carry = line[:-1], line[-1]
            lines.append(line.rstrip())
            line = (carry + token).lstrip()
            continue
        lines.append(line.rstrip())
        line = token.lstrip()
    if line.strip():
        lines.append(line.rstrip())
    return lines


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    unit: float  # 1.0 at 720 px on the short side
    margin: int
    title_lines: tuple[str, ...]
    cue_lines: tuple[str, ...]
    title_size: int
    cue_size: int
    badge_size: int
    panel: Box
    badge: Box
    figure_box: Box


def make_layout(width: int, height: int, title: str, cue: str, badge_sample: str) -> Layout:
    """Where the title panel, the counter badge and the figure go, for either orientation."""
    unit = min(width, height) / 720.0
    margin = round(32 * unit)
    pad = round(18 * unit)
    title_size, cue_size, badge_size = round(44 * unit), round(30 * unit), round(40 * unit)
    text_width = width - 2 * margin - 2 * pad
    title_lines = tuple(wrap(title, font(title_size), text_width))
    cue_lines = tuple(wrap(cue, font(cue_size), text_width))
    title_h = len(title_lines) * round(title_size * 1.25)
    cue_h = len(cue_lines) * round(cue_size * 1.35)
    widest = max(
        [font(title_size).getlength(t) for t in title_lines]
        + [font(cue_size).getlength(c) for c in cue_lines]
    )
    panel = Box(
        margin,
        margin,
        margin + 2 * pad + widest,
        margin + 2 * pad + title_h + round(10 * unit) + cue_h,
    )
    # Long badge texts (a distance drill's dose) get a smaller font rather than leave the frame.
    while badge_size > 16 and font(badge_size).getlength(badge_sample) > text_width:
        badge_size -= 2
    badge_w = font(badge_size).getlength(badge_sample) + 2 * pad
    badge_h = round(badge_size * 1.2) + 2 * round(10 * unit)
    if width >= height:
        badge = Box(
            width - margin - badge_w, height - margin - badge_h, width - margin, height - margin
        )
    else:
        left = (width - badge_w) / 2.0
        badge = Box(left, height - margin - badge_h, left + badge_w, height - margin)
    figure_box = Box(
        margin,
        panel.bottom + round(40 * unit),
        width - margin,
        badge.top - round(24 * unit),
    )
    return Layout(
        width,
        height,
        unit,
        margin,
        title_lines,
        cue_lines,
        title_size,
        cue_size,
        badge_size,
        panel,
        badge,
        figure_box,
    )


def _panel(draw: ImageDraw.ImageDraw, box: Box, unit: float) -> None:
    fill = (*CAPTION_BG, round(255 * PANEL_ALPHA))
    xy = (round(box.left), round(box.top), round(box.right), round(box.bottom))
    draw.rounded_rectangle(xy, radius=round(14 * unit), fill=fill)


def draw_captions(background: Image, layout: Layout) -> Image:
    """The background with the title and cue panel composited on it (done once per video)."""
    base = PILImage.fromarray(background).convert("RGBA")
    overlay = PILImage.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    _panel(draw, layout.panel, layout.unit)
    pad = round(18 * layout.unit)
    x, y = layout.panel.left + pad, layout.panel.top + pad
    title_face = font(layout.title_size)
    for line in layout.title_lines:
        # A hairline stroke in the text colour stands in for the bold weight the font lacks.
        draw.text(
            (x, y),
            line,
            font=title_face,
            fill=(*CAPTION_TEXT, 255),
            stroke_width=1,
            stroke_fill=(*CAPTION_TEXT, 255),
        )
        y += round(layout.title_size * 1.25)
    y += round(10 * layout.unit)
    for line in layout.cue_lines:
        draw.text((x, y), line, font=font(layout.cue_size), fill=(*CAPTION_ACCENT, 255))
        y += round(layout.cue_size * 1.35)
    return np.asarray(PILImage.alpha_composite(base, overlay).convert("RGB")).copy()


class BadgeCache:
    """The counter/timer badge, rendered once per distinct text and pasted into frames."""

    def __init__(self, background: Image, layout: Layout) -> None:
        self._layout = layout
        box = layout.badge
        self._x0, self._y0 = int(box.left), int(box.top)
        self._x1, self._y1 = int(np.ceil(box.right)), int(np.ceil(box.bottom))
        self._under = background[self._y0 : self._y1, self._x0 : self._x1].copy()
        self._cache: dict[str, Image] = {}

    def _render(self, text: str) -> Image:
        layout = self._layout
        base = PILImage.fromarray(self._under).convert("RGBA")
        overlay = PILImage.new("RGBA", base.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        _panel(draw, Box(0, 0, base.size[0] - 1, base.size[1] - 1), layout.unit)
        face = font(layout.badge_size)
        draw.text(
            (base.size[0] / 2.0, base.size[1] / 2.0),
            text,
            font=face,
            fill=(*CAPTION_TEXT, 255),
            anchor="mm",
        )
        return np.asarray(PILImage.alpha_composite(base, overlay).convert("RGB")).copy()

    def patch(self, text: str) -> Image:
        patch = self._cache.get(text)
        if patch is None:
            patch = self._cache[text] = self._render(text)
        return patch

    def box(self) -> tuple[int, int, int, int]:
        """Pixel rectangle (x0, y0, x1, y1) the badge covers."""
        return self._x0, self._y0, self._x1, self._y1

    def origin(self) -> tuple[int, int]:
        return self._x0, self._y0

    def paste(self, frame: Image, text: str) -> None:
        frame[self._y0 : self._y1, self._x0 : self._x1] = self.patch(text)


def with_cue(layout: Layout, cue: str) -> Layout:
    """The same layout (panel size kept, so the figure never moves) showing another cue."""
    pad = round(18 * layout.unit)
    text_width = layout.width - 2 * layout.margin - 2 * pad
    return replace(layout, cue_lines=tuple(wrap(cue, font(layout.cue_size), text_width)))


def draw_card(scene: Image, unit: float, title: str, lines: list[str]) -> Image:
    """A title or end card: the scene dimmed, the drill's name large and centred, lines below."""
    height, width = scene.shape[:2]
    base = PILImage.fromarray(scene).convert("RGBA")
    overlay = PILImage.new("RGBA", base.size, (*CAPTION_BG, round(255 * 0.78)))
    draw = ImageDraw.Draw(overlay)
    margin = round(48 * unit)
    title_size, line_size = round(64 * unit), round(34 * unit)
    title_lines = wrap(title, font(title_size), width - 2 * margin)
    body = [part for line in lines for part in wrap(line, font(line_size), width - 2 * margin)]
    total = len(title_lines) * round(title_size * 1.25) + round(24 * unit)
    total += len(body) * round(line_size * 1.4)
    y = (height - total) / 2.0
    for line in title_lines:
        draw.text(
            (width / 2.0, y),
            line,
            font=font(title_size),
            fill=(*CAPTION_TEXT, 255),
            anchor="ma",
            stroke_width=1,
            stroke_fill=(*CAPTION_TEXT, 255),
        )
        y += round(title_size * 1.25)
    y += round(24 * unit)
    for line in body:
        draw.text(
            (width / 2.0, y), line, font=font(line_size), fill=(*CAPTION_ACCENT, 255), anchor="ma"
        )
        y += round(line_size * 1.4)
    return np.asarray(PILImage.alpha_composite(base, overlay).convert("RGB")).copy()
