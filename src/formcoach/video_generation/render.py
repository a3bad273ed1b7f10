"""Render a drill's demonstration video: the figure doing the drill, captions, H.264 MP4.

Deterministic by construction: the motion is a pure function of time, drawing has no
randomness and the encoder runs with a fixed thread count, so the same request gives the
same bytes.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image as PILImage

from formcoach.advice_generation.schemas import Drill
from formcoach.kit.i18n import Language, pick
from formcoach.kit.video_io import H264Writer
from formcoach.video_generation.band import with_band
from formcoach.video_generation.captions import (
    BadgeCache,
    draw_captions,
    draw_card,
    font,
    make_layout,
    with_cue,
)
from formcoach.video_generation.figure import STANDARD_BODY, Body, Figure, build_figure, using_body
from formcoach.video_generation.keyframes import Motion, Prop
from formcoach.video_generation.motions import motion_for
from formcoach.video_generation.scene import (
    Camera,
    Image,
    draw_figure,
    draw_shadow,
    fit_camera,
    make_set,
)
from formcoach.video_generation.yuv_frames import YuvFrames

FPS = 30
SIZES: dict[str, tuple[int, int]] = {"1280x720": (1280, 720), "720x1280": (720, 1280)}
SECONDS = ("4", "8", "12")
_AHEAD = 4  # frames drawn ahead of the encoder
_PAD = 0.04  # free space around everything the figure reaches, body heights
_LABELS = {
    "hold": {"ja": "キープ", "en": "Hold"},
    "reps": {"ja": "回数", "en": "Reps"},
    "end": {"ja": "おつかれさまでした！", "en": "Well done!"},
}
CARD_S = 0.5  # title card before the demonstration and end card after it
_CUE_MIN_S = 1.5  # a cue stays up at least this long, time to read it


@dataclass(frozen=True)
class RenderResult:
    path: Path
    thumbnail: Path
    width: int
    height: int
    fps: int
    frames: int
    duration_s: float
    motion: str
    elapsed_s: float


def parse_size(size: str) -> tuple[int, int]:
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}")
    return SIZES[size]


def parse_seconds(seconds: str) -> int:
    if seconds not in SECONDS:
        raise ValueError(f"seconds must be one of {', '.join(SECONDS)}")
    return int(seconds)


def badge_text(drill: Drill, motion: Motion, language: Language, t: float) -> str:
    """The live caption: a hold timer, a rep counter, or (distance drills) the dose."""
    if drill.kind == "hold":
        whole = int(t + 1e-6)
        return f"{pick(_LABELS['hold'], language)} {whole // 60}:{whole % 60:02d}"
    if drill.kind == "reps" and motion.rep_times:
        return f"{pick(_LABELS['reps'], language)} {motion.reps_done(t + 1e-6)}"
    return pick(drill.dose.model_dump(), language)


def _union_bounds(figures: list[Figure]) -> tuple[float, float, float, float]:
    b = np.array([f.bounds() for f in figures])
    return (
        float(b[:, 0].min()) - _PAD,
        float(b[:, 1].min()),
        float(b[:, 2].max()) + _PAD,
        float(b[:, 3].max()) + _PAD,
    )


def _with_props(
    bounds: tuple[float, float, float, float], props: tuple[Prop, ...]
) -> tuple[float, float, float, float]:
    """The camera must also see the props: all of a step, a strip of a wall."""
    x0, y0, x1, y1 = bounds
    for prop in props:
        x0 = min(x0, prop.x0 - _PAD)
        x1 = max(x1, prop.x1 + _PAD if math.isfinite(prop.x1) else prop.x0 + 0.1)
        if math.isfinite(prop.top):
            y1 = max(y1, prop.top + _PAD)
    return x0, y0, x1, y1


def _thumbnail_index(motion: Motion, frames: int, start: int = 0) -> int:
    # The second key is the drill's working position (top of the bridge, the reach, the knee
    # drive), the clearest single picture of it.
    at = motion.keys[1].t if len(motion.keys) > 1 else 0.0
    return min(start + round(at * FPS), frames - 1)


@dataclass
class Clip:
    """Everything needed to draw any frame of a drill video; the static parts drawn once.

    Frames before ``demo_start`` and from ``demo_end`` on are the title and end cards; in
    between, the figure moves with the cue of its moment (``cue_of``) and the live badge.
    """

    motion: Motion
    figures: list[Figure]
    texts: list[str]
    camera: Camera
    background: Image
    badges: BadgeCache
    backgrounds: list[Image] = field(default_factory=list)  # one per cue
    cue_of: list[int] = field(default_factory=list)
    cards: dict[int, Image] = field(default_factory=dict)  # frame -> title/end card
    demo_start: int = 0
    demo_end: int = 0

    def draw(self, i: int, out: Image | None = None) -> Image:
        img = out if out is not None else np.empty_like(self.background)
        card = self.cards.get(i)
        if card is not None:
            np.copyto(img, card)
            return img
        np.copyto(img, self.backgrounds[self.cue_of[i]] if self.backgrounds else self.background)
        draw_shadow(img, self.figures[i], self.camera)
        draw_figure(img, self.figures[i], self.camera)
        self.badges.paste(img, self.texts[i])
        return img


def demo_time(i: int, start: int, end: int) -> float:
    """Seconds into the demonstration at frame i (held at the ends during the cards)."""
    return min(max(i - start, 0), max(end - start - 1, 0)) / FPS


def _figures(motion: Motion, count: int, body: Body) -> list[Figure]:
    with using_body(body):
        figures = [build_figure(motion.pose_at(k / FPS)) for k in range(count)]
    if motion.band is not None:
        figures = [with_band(figure, motion.band) for figure in figures]
    return figures


def prepare_clip(
    drill: Drill, language: Language, size: str, seconds: str, body: Body = STANDARD_BODY
) -> Clip:
    """The clip of the drill; ``body`` gives the figure a user's proportions."""
    width, height = parse_size(size)
    frames = parse_seconds(seconds) * FPS
    card = round(CARD_S * FPS)
    start, end = card, frames - card
    motion = motion_for(drill, body)
    # Motions loop over a whole number of frames, so each distinct pose is built only once.
    period = motion.loop * FPS
    demo = end - start
    period_frames = round(period) if abs(period - round(period)) < 1e-9 else demo
    unique = _figures(motion, min(period_frames, demo), body)
    steps = [round(demo_time(i, start, end) * FPS) for i in range(frames)]
    figures = [unique[k % period_frames] for k in steps]
    texts = [badge_text(drill, motion, language, k / FPS) for k in steps]
    title = pick(drill.name.model_dump(), language)
    cues = pick(drill.cues.model_dump(), language) or [""]
    shown = cues[: max(1, min(len(cues), int(demo / FPS // _CUE_MIN_S)))]
    cue_of = [min(k * len(shown) // demo, len(shown) - 1) for k in steps]
    longest = max(shown, key=lambda c: len(c))
    layout = make_layout(width, height, title, longest, max(texts, key=font(40).getlength))
    bounds = _with_props(_union_bounds(figures), motion.props)
    camera = fit_camera(bounds, layout.figure_box)
    scene = make_set(width, height, camera, motion.props)
    backgrounds = [draw_captions(scene, with_cue(layout, cue)) for cue in shown]
    clip = Clip(
        motion,
        figures,
        texts,
        camera,
        backgrounds[0],
        BadgeCache(backgrounds[0], layout),
        backgrounds,
        cue_of,
        {},
        start,
        end,
    )
    dose = pick(drill.dose.model_dump(), language)
    opening = draw_card(clip.draw(start), layout.unit, title, [dose])
    closing = draw_card(
        clip.draw(end - 1), layout.unit, pick(_LABELS["end"], language), [title, dose]
    )
    clip.cards = {i: opening for i in range(start)} | {i: closing for i in range(end, frames)}
    return clip


def render_drill_video(
    drill: Drill,
    language: Language,
    size: str,
    seconds: str,
    out: Path,
    thumbnail: Path | None = None,
    progress: Callable[[float], None] | None = None,
    body: Body = STANDARD_BODY,
) -> RenderResult:
    """Write the drill's MP4 (30 fps, H.264 yuv420p, faststart) and a JPEG thumbnail.

    ``thumbnail`` defaults to ``out`` with a .jpg suffix. Raises ValueError for a size or
    length the generator does not offer. ``body``: the figure's proportions (figure.Body).
    """
    started = time.perf_counter()
    clip = prepare_clip(drill, language, size, seconds, body)
    return write_clip(clip, out, thumbnail, progress, started)


def write_clip(
    clip: Clip,
    out: Path,
    thumbnail: Path | None = None,
    progress: Callable[[float], None] | None = None,
    started: float | None = None,
) -> RenderResult:
    """Encode a prepared clip (render_drill_video; the self-check keeps the clip's figures)."""
    started = time.perf_counter() if started is None else started
    height, width = clip.background.shape[:2]
    frames = len(clip.figures)
    thumb_path = thumbnail if thumbnail is not None else out.with_suffix(".jpg")
    thumb_at = _thumbnail_index(clip.motion, clip.demo_end, clip.demo_start)
    frames_yuv = YuvFrames(clip)

    def draw(i: int) -> tuple[NDArray[np.uint8], Image | None]:
        return frames_yuv.frame(i), clip.draw(i) if i == thumb_at else None

    # Frames are drawn one thread ahead of the encoder (which releases the GIL), in order; only
    # the figure's and the badge's rectangles are redrawn (see yuv_frames). Flat-shaded frames
    # compress well even with x264's fastest preset, which halves the encoding time.
    writer = H264Writer(out, width, height, FPS, preset="ultrafast")
    with writer, ThreadPoolExecutor(1, thread_name_prefix="drill-draw") as pool:
        ahead: deque[Future[tuple[NDArray[np.uint8], Image | None]]] = deque(
            pool.submit(draw, i) for i in range(min(_AHEAD, frames))
        )
        for i in range(frames):
            yuv, still = ahead.popleft().result()
            if i + _AHEAD < frames:
                ahead.append(pool.submit(draw, i + _AHEAD))
            writer.write_yuv420(yuv)
            if still is not None:
                PILImage.fromarray(still).save(thumb_path, format="JPEG", quality=88)
            if progress is not None and (i % FPS == FPS - 1 or i == frames - 1):
                progress((i + 1) / frames)
    return RenderResult(
        path=out,
        thumbnail=thumb_path,
        width=width,
        height=height,
        fps=FPS,
        frames=frames,
        duration_s=frames / FPS,
        motion=clip.motion.id,
        elapsed_s=time.perf_counter() - started,
    )
