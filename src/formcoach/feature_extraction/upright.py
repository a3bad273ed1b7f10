"""Keypoints turned into the gravity frame when the camera's tilt is known (issue 21 item 4).

The recording page stores the device's roll with the run (`camera_roll_deg`: the true
vertical's direction in the image, degrees clockwise from the image's up axis). Every angle
taken "from vertical" (trunk lean, shank and thigh segments, the floor line) is measured in
the image's axes; a camera rolled 16–32° put 24–44° of error into trunk lean on lab footage.
Turning the points by the roll about the frame centre makes the image's up the true up, so
the same measuring code measures against gravity. The exports in pixels stay in the image's
own coordinates (they must overlay the video); metres and every angle use the upright ones.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel

from formcoach.feature_extraction.filters import FloatArray

VerticalSource = Literal["device_sensor", "camera_axes"]


class Vertical(BaseModel):
    """features.json "vertical": where the vertical the angles are measured from came from."""

    source: VerticalSource = "camera_axes"
    camera_roll_deg: float | None = None


def to_upright(xy: FloatArray, width: int, height: int, roll_deg: float) -> FloatArray:
    """(…, 2) image px -> px in the gravity frame: the true vertical becomes the image's up.
    Image coordinates have y down, so this turns the points counter-clockwise on screen."""
    c, s = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
    cx, cy = width / 2.0, height / 2.0
    x, y = xy[..., 0] - cx, xy[..., 1] - cy
    out = np.empty_like(xy)
    out[..., 0] = cx + c * x + s * y
    out[..., 1] = cy - s * x + c * y
    return out


def vertical(roll_deg: float | None) -> Vertical:
    if roll_deg is None or not math.isfinite(roll_deg):
        return Vertical()
    return Vertical(source="device_sensor", camera_roll_deg=round(roll_deg, 1))
