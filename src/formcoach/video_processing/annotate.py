"""The annotated video: the proxy with the pose skeleton and the knee/hip flexion angles drawn on.

Its texts are in the run's language only (one language per view, issue 20); without a font
with Japanese glyphs a Japanese run falls back to English rather than showing empty boxes.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from formcoach.kit.i18n import Language
from formcoach.kit.video_io import RGB, H264Writer, fit_size, iter_frames, prefetch

Colour = tuple[int, int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

# Blue/orange stay distinguishable for the common colour-vision deficiencies.
LEFT: Colour = (66, 135, 245)
RIGHT: Colour = (245, 130, 48)
CENTRE: Colour = (235, 235, 235)
LEGEND_BG: Colour = (20, 20, 20)
SUBJECT: Colour = (255, 221, 87)
# Shown while the subject is out of view (the other people in the frame are not analysed).
LOST_TEXT = "被写体なし / Subject not in view"
# The camera view read from the footage per ~1 s window (features.json `view`, issue 18).
VIEW_TEXT = {
    "side": "撮影方向: 真横 / View: side",
    "oblique": "撮影方向: 斜め / View: oblique",
    "front": "撮影方向: 正面 / View: front",
    "back": "撮影方向: 後方 / View: back",
    "unknown": "撮影方向: 不明 / View: unknown",
}


def view_windows(features: dict[str, Any]) -> list[tuple[float, float, str]]:
    doc = features.get("view")
    windows = doc.get("windows", []) if isinstance(doc, dict) else []
    return [(float(w["start_s"]), float(w["end_s"]), str(w["view"])) for w in windows]


def _view_at(windows: list[tuple[float, float, str]], t: float) -> str | None:
    return next((v for a, b, v in windows if a <= t < b), None)


PROGRESS_EVERY = 10
# Largest side of the annotated video (the proxy's own size when smaller).
MAX_SIDE = 1280

# (series, MediaPipe landmark index, side) for the values printed beside joints.
JOINT_VALUES: tuple[tuple[str, int, str], ...] = (
    ("left_knee_flexion_deg", 25, "left"),
    ("right_knee_flexion_deg", 26, "right"),
    ("left_hip_flexion_deg", 23, "left"),
    ("right_hip_flexion_deg", 24, "right"),
)


@dataclass(frozen=True)
class Skeleton:
    edges: list[tuple[int, int, Colour]]
    joint_colours: list[Colour]


@lru_cache(maxsize=1)
def skeleton() -> Skeleton:
    """MediaPipe's own 33-landmark topology, coloured by body side."""
    # Imported here: mediapipe takes about a second to import and only this stage needs it.
    from mediapipe.python.solutions.pose import POSE_CONNECTIONS, PoseLandmark

    def side(index: int) -> Colour:
        name = PoseLandmark(index).name
        return LEFT if name.startswith("LEFT_") else RIGHT if name.startswith("RIGHT_") else CENTRE

    colours = [side(i) for i in range(len(PoseLandmark))]
    edges = [
        (a, b, colours[a] if colours[a] == colours[b] else CENTRE)
        for a, b in sorted(POSE_CONNECTIONS)
    ]
    return Skeleton(edges=edges, joint_colours=colours)


@lru_cache(maxsize=1)
def _cjk_font_path() -> Path | None:
    # IPAex Gothic ships with japanize-matplotlib; located without importing it (that would
    # import matplotlib and change its global settings).
    spec = importlib.util.find_spec("japanize_matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "fonts" / "ipaexg.ttf"
        if path.is_file():
            return path
    return None


def _font(size: int) -> tuple[Font, bool]:
    """A font and whether it has Japanese glyphs."""
    path = _cjk_font_path()
    if path is not None:
        return ImageFont.truetype(str(path), size), True
    return ImageFont.load_default(size), False


Label = tuple[tuple[int, int], str, Colour]


class Sprites:
    """Texts rendered once (PIL, with their outline) and alpha-blended into frames with numpy:
    the same few dozen strings ("34°", "ID 1", the legend) recur on every frame, and drawing
    them with PIL meant copying every frame into a PIL image and back."""

    def __init__(self, font: Font, stroke: int = 2) -> None:
        self.font = font
        self.stroke = stroke
        self._cache: dict[tuple[str, Colour, bool], tuple[int, int, RGB, NDArray[np.uint16]]] = {}

    def _render(self, text: str, colour: Colour, outline: bool) -> tuple[int, int, RGB, Any]:
        key = (text, colour, outline)
        if key not in self._cache:
            stroke = self.stroke if outline else 0
            left, top, right, bottom = self.font.getbbox(text, stroke_width=stroke)
            w, h = max(1, math.ceil(right - left)), max(1, math.ceil(bottom - top))
            canvas = Image.new("RGBA", (w, h), (0, 0, 0, 0))
            ImageDraw.Draw(canvas).text(
                (-left, -top),
                text,
                fill=(*colour, 255),
                font=self.font,
                stroke_width=stroke,
                stroke_fill=(0, 0, 0, 255),
            )
            rgba = np.asarray(canvas, dtype=np.uint8)
            alpha = rgba[:, :, 3:].astype(np.uint16)
            self._cache[key] = (int(left), int(top), np.ascontiguousarray(rgba[:, :, :3]), alpha)
        return self._cache[key]

    def draw(
        self, image: RGB, position: tuple[int, int], text: str, colour: Colour, outline: bool = True
    ) -> None:
        """Like PIL's draw.text at ``position``, in place."""
        left, top, rgb, alpha = self._render(text, colour, outline)
        blend(image, (position[0] + left, position[1] + top), rgb, alpha)


def blend(image: RGB, origin: tuple[int, int], rgb: RGB, alpha: NDArray[np.uint16]) -> None:
    """Alpha-blend a patch into image at origin (x, y), clipped to the frame."""
    x, y = origin
    h, w = rgb.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, image.shape[1]), min(y + h, image.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    region = image[y0:y1, x0:x1]
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x]
    src = rgb[y0 - y : y1 - y, x0 - x : x1 - x]
    region[:] = ((src * a + region * (255 - a) + 127) // 255).astype(np.uint8)


class Legend:
    """A small box: L/R colour key, the current knee and hip flexion, and what the numbers mean."""

    def __init__(
        self,
        font: Font,
        size: int,
        japanese: bool,
        origin: tuple[int, int],
        language: Language = "ja",
    ) -> None:
        self.font = font
        self.origin = origin
        if japanese and language == "ja":
            self.header = ("左", "右")
            self.rows = (("膝", "knee"), ("股関節", "hip"))
            self.notes: tuple[str, ...] = ("屈曲角（0° = まっすぐ）",)
        else:
            self.header = ("L", "R")
            self.rows = (("Knee", "knee"), ("Hip", "hip"))
            self.notes = ("Flexion angle (0° = straight)",)
        self.pad = max(4, size // 3)
        self.line = size + self.pad // 2
        name_w = max(self._width(label) for label, _ in self.rows)
        value_w = max(self._width(t) for t in (*self.header, "180°"))
        self.columns = (0, name_w + self.pad, name_w + value_w + 2 * self.pad)
        table_w = self.columns[2] + value_w
        notes_w = max(self._width(n) for n in self.notes)
        lines = 1 + len(self.rows) + len(self.notes)
        self.size = (max(table_w, notes_w) + 2 * self.pad, lines * self.line + 2 * self.pad)
        self.sprites = Sprites(font)
        self._static: tuple[RGB, NDArray[np.uint16]] | None = None

    def _width(self, text: str) -> int:
        left, _, right, _ = self.font.getbbox(text)
        return math.ceil(right - left)

    def shade(self, image: RGB) -> None:
        """Darken the box area in place, so the text stays readable on any background."""
        x, y = self.origin
        w, h = self.size
        region = image[y : y + h, x : x + w]
        # Integer arithmetic: 90/256 of the picture + 166/256 of the box colour.
        tint = (np.array(LEGEND_BG, dtype=np.uint16) * 166 + 128) >> 8
        region[:] = ((region.astype(np.uint16) * 90 >> 8) + tint).astype(np.uint8)

    def _static_texts(self) -> list[tuple[tuple[int, int], str, Colour]]:
        x0, y0 = self.pad, self.pad
        texts = [
            ((x0 + self.columns[1], y0), self.header[0], LEFT),
            ((x0 + self.columns[2], y0), self.header[1], RIGHT),
        ]
        for row, (label, _) in enumerate(self.rows, start=1):
            texts.append(((x0, y0 + row * self.line), label, CENTRE))
        for i, note in enumerate(self.notes, start=1 + len(self.rows)):
            texts.append(((x0, y0 + i * self.line), note, CENTRE))
        return texts

    def draw(self, image: RGB, values: dict[str, float | None]) -> None:
        """Shade the box, then its fixed texts (rendered once) and the current values."""
        self.shade(image)
        if self._static is None:
            w, h = self.size
            canvas = Image.new("RGBA", (w, h), (0, 0, 0, 0))
            draw = ImageDraw.Draw(canvas)
            for position, text, colour in self._static_texts():
                draw.text(position, text, fill=(*colour, 255), font=self.font)
            rgba = np.asarray(canvas, dtype=np.uint8)
            self._static = (np.ascontiguousarray(rgba[:, :, :3]), rgba[:, :, 3:].astype(np.uint16))
        blend(image, self.origin, *self._static)
        x0, y0 = self.origin[0] + self.pad, self.origin[1] + self.pad
        for row, (_, joint) in enumerate(self.rows, start=1):
            y = y0 + row * self.line
            for col, (side, colour) in enumerate((("left", LEFT), ("right", RIGHT)), start=1):
                text = _degrees(values.get(f"{side}_{joint}_flexion_deg"))
                self.sprites.draw(image, (x0 + self.columns[col], y), text, colour, outline=False)


def _degrees(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}°"


def _series_value(series: Sequence[float | None] | None, index: int) -> float | None:
    if series is None or index >= len(series):
        return None
    value = series[index]
    return float(value) if value is not None and math.isfinite(value) else None


def _visible(kp: NDArray[np.float32], min_visibility: float) -> NDArray[np.bool_]:
    finite: NDArray[np.bool_] = np.isfinite(kp[:, :2]).all(axis=1)
    confident: NDArray[np.bool_] = np.nan_to_num(kp[:, 3], nan=0.0) >= min_visibility
    return finite & confident


def draw_skeleton(image: RGB, kp: NDArray[np.float32], visible: NDArray[np.bool_]) -> None:
    """Bones then joints, in place; only landmarks that are detected and visible enough."""
    sk = skeleton()
    thickness = max(2, round(min(image.shape[:2]) / 300))
    # Clipped: a wild off-screen estimate must not overflow int32 (cv2 clips the drawing itself).
    xy = np.clip(np.where(visible[:, None], kp[:, :2], 0), -1e5, 1e5)
    points = np.round(xy).astype(np.int32)
    for a, b, colour in sk.edges:
        if visible[a] and visible[b]:
            pa = (int(points[a, 0]), int(points[a, 1]))
            pb = (int(points[b, 0]), int(points[b, 1]))
            cv2.line(image, pa, pb, colour, thickness, cv2.LINE_AA)
    for j in np.flatnonzero(visible):
        centre = (int(points[j, 0]), int(points[j, 1]))
        cv2.circle(image, centre, thickness + 2, sk.joint_colours[j], -1, cv2.LINE_AA)


def _joint_label(
    point: NDArray[np.float32], side: str, value: float, size: int, frame: tuple[int, int]
) -> Label:
    """Where and how to print a joint's angle, kept inside the frame."""
    # Left labels go above the joint and right ones below: in a side view both knees (and both
    # hips) sit close together.
    offset = max(6, size // 2)
    dy = -offset - size if side == "left" else offset
    x = min(int(point[0]) + offset, frame[0] - 3 * size)
    y = min(int(point[1]) + dy, frame[1] - size - 2)
    return (max(x, 0), max(y, 0)), _degrees(value), LEFT if side == "left" else RIGHT


def _subject_id(path: Path) -> int | None:
    """The subject's track id stored in pose.npz (absent from single-person files)."""
    with np.load(path, allow_pickle=False) as data:
        value = int(data["subject"]) if "subject" in data.files else -1
    return value if value >= 0 else None


def _id_label(
    kp: NDArray[np.float32], visible: NDArray[np.bool_], subject: int, size: int
) -> Label | None:
    """The "ID n" tag just above the head, so the viewer sees whom the numbers belong to."""
    head = [i for i in range(11) if visible[i]]
    points = kp[head, :2] if head else kp[visible, :2]
    if points.size == 0:
        return None
    x = int(np.min(points[:, 0]))
    y = int(np.min(points[:, 1])) - 3 * size
    return (max(x, 0), max(y, 0)), f"ID {subject}", SUBJECT


def load_pose(path: Path) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """keypoints (N, 33, 4) and detected (N,) from pose.npz."""
    with np.load(path, allow_pickle=False) as data:
        keypoints = np.asarray(data["keypoints"], dtype=np.float32)
        detected = np.asarray(data["detected"], dtype=bool)
    if (
        keypoints.ndim != 3
        or keypoints.shape[1:] != (33, 4)
        or detected.shape != keypoints.shape[:1]
    ):
        raise ValueError(f"pose.npz has keypoints {keypoints.shape}, detected {detected.shape}")
    return keypoints, detected


def annotate(
    proxy: Path,
    pose_npz: Path,
    features: dict[str, Any],
    dst: Path,
    progress: Callable[[float], None],
    min_visibility: float = 0.3,
    max_side: int = MAX_SIDE,
    language: Language = "ja",
) -> None:
    """Write dst: every proxy frame with the skeleton, joint angle labels and a legend.

    A proxy larger than ``max_side`` (one copied from a 1080p upload) is annotated at that
    size: an overlay to watch needs no more, and encoding a 1080p frame costs twice as much.
    """
    keypoints, detected = load_pose(pose_npz)
    subject = _subject_id(pose_npz)
    series: dict[str, list[float | None]] = features.get("series", {})
    windows = view_windows(features)
    with av.open(str(proxy)) as container:
        stream = container.streams.video[0]
        src_w, src_h = stream.codec_context.width, stream.codec_context.height
        fps = float(stream.average_rate or 30)
        total = max(int(stream.frames or 0) or len(keypoints), 1)
    width, height = fit_size(src_w, src_h, max_side)
    if (width, height) != (src_w, src_h):
        # Pose coordinates are proxy pixels: bring them to the annotated size.
        keypoints = keypoints.copy()
        keypoints[:, :, 0] *= width / src_w
        keypoints[:, :, 1] *= height / src_h
    # Texts of at least 3 % of the frame's short side: readable on a tablet (issue 20).
    size = max(12, math.ceil(min(width, height) * 0.031))
    font, japanese = _font(size)
    japanese = japanese and language == "ja"
    legend = Legend(font, size, japanese, origin=(8, 8), language=language)
    sprites = Sprites(font)
    # An overlay video, encoded for speed: x264's ultrafast preset with CABAC put back, at
    # CRF 27, against superfast/26 on the single-person fixture: 33 % less encoding time,
    # 0.2 dB lower PSNR (38.1 dB), 18 % larger. The encoder set the pace of this stage.
    with H264Writer(
        dst, width, height, fps, crf=27, preset="ultrafast", x264_params="cabac=1", background=True
    ) as writer:
        size_arg = None if (width, height) == (src_w, src_h) else (width, height)
        for frame in prefetch(iter_frames(proxy, size=size_arg, fast_scale=True)):
            image = frame.image if frame.image.flags.writeable else frame.image.copy()
            i = frame.index
            view = _view_at(windows, frame.time_s)
            values = {name: _series_value(series.get(name), i) for name, _, _ in JOINT_VALUES}
            if view is not None and view != "side":
                # Flexion angles in the image are joint angles only side-on: none are shown
                # where the footage is oblique, frontal or unknown.
                values = dict.fromkeys(values)
            labels: list[Label] = []
            if i < len(keypoints) and detected[i]:
                kp = keypoints[i]
                visible = _visible(kp, min_visibility)
                draw_skeleton(image, kp, visible)
                for name, joint, side in JOINT_VALUES:
                    value = values[name]
                    if value is not None and visible[joint]:
                        labels.append(_joint_label(kp[joint], side, value, size, (width, height)))
                tag = None if subject is None else _id_label(kp, visible, subject, size)
                if tag is not None:
                    labels.append(tag)
            elif subject is not None:
                lost = LOST_TEXT.split(" / ")[0 if japanese else 1]
                labels.append(((8, height - 2 * size), lost, SUBJECT))
            if view is not None:
                text = VIEW_TEXT.get(view, view)
                labels.append(
                    ((8, height - 4 * size), text if japanese else text.split(" / ")[1], CENTRE)
                )
            for position, text, colour in labels:
                sprites.draw(image, position, text, colour)
            legend.draw(image, values)
            writer.write(image, frame.time_s)
            if (i + 1) % PROGRESS_EVERY == 0:
                progress(min((i + 1) / total, 0.99))
    progress(1.0)
