"""Colours of the figure and the set (RGB, since frames go to the encoder as RGB)."""

from __future__ import annotations

Colour = tuple[int, int, int]

SKIN: Colour = (226, 178, 146)
HAIR: Colour = (52, 38, 30)
EYE: Colour = (46, 36, 32)
LIPS: Colour = (176, 104, 94)
SHIRT: Colour = (34, 120, 196)
LEGWEAR: Colour = (38, 42, 58)
SHOE: Colour = (236, 96, 48)
BAND: Colour = (222, 62, 92)  # a pink-red mini band, unlike the orange shoes

WALL_TOP: Colour = (226, 232, 238)
WALL_BOTTOM: Colour = (204, 212, 222)
SKIRTING: Colour = (168, 176, 188)
FLOOR_NEAR: Colour = (188, 170, 146)
FLOOR_FAR: Colour = (170, 152, 128)
SHADOW: Colour = (146, 130, 110)

CAPTION_BG: Colour = (24, 32, 44)
CAPTION_TEXT: Colour = (255, 255, 255)
CAPTION_ACCENT: Colour = (255, 196, 64)


def darker(colour: Colour, k: float) -> Colour:
    r, g, b = (max(0, min(255, round(c * k))) for c in colour)
    return (r, g, b)


def shade(depth: float) -> float:
    """Brightness factor for a part at this depth: limbs behind the body are up to 22% darker."""
    behind = min(max(-depth / 0.1, 0.0), 1.0)
    return 1.0 - 0.22 * behind


def outline_of(colour: Colour) -> Colour:
    return darker(colour, 0.62)
