"""The clip's own problems, frame by frame (issue 19 item 4, issue 18 item 6).

A cheap second pass over the proxy at a small size (``clip_scan.yaml``: 160 px wide, grey)
keeps per frame: mean luma, the luma and texture of an 8x8 grid of tiles, the change from the
previous frame (histogram distance and pixel difference) and Farnebäck optical flow averaged
per tile. ``problems`` turns these into named problems once the pose track is known, because
camera motion is read from the background only and darkness from the person's region:
`cuts_in_clip`, `title_card`, `camera_moving`, `too_dark`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import av
import cv2
import numpy as np
import yaml
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

SCAN_FILE = Path(__file__).with_name("clip_scan.yaml")
Floats = NDArray[np.float64]


class ScanConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    width: int = Field(ge=32)
    grid: int = Field(ge=2)
    cut_hist: float = Field(gt=0, le=1)
    cut_diff: float = Field(gt=0, le=1)
    cut_merge_s: float = Field(ge=0)
    title_person_share: float = Field(ge=0, le=1)
    title_static_diff: float = Field(gt=0)
    title_min_s: float = Field(ge=0)
    min_texture: float = Field(ge=0)
    person_margin: float = Field(ge=0)
    min_background_tiles: int = Field(ge=3)
    smooth_s: float = Field(gt=0)
    pan_speed: float = Field(gt=0)
    zoom_rate: float = Field(gt=0)
    moving_min_s: float = Field(ge=0)
    dark_luma: float = Field(gt=0, le=255)
    dark_min_share: float = Field(gt=0, le=1)


@cache
def scan_config(path: Path = SCAN_FILE) -> ScanConfig:
    with path.open(encoding="utf-8") as handle:
        return ScanConfig.model_validate(yaml.safe_load(handle))


@dataclass(frozen=True)
class ClipScan:
    """Per-frame measures of the proxy at the scan size (``width`` x ``height`` px)."""

    times: Floats  # (N,) s from the first frame
    luma: Floats  # (N,) mean 0..255
    luma_std: Floats  # (N,)
    tile_luma: Floats  # (N, G, G)
    tile_texture: Floats  # (N, G, G) mean gradient magnitude
    hist_change: Floats  # (N,) total-variation distance of the grey histograms, 0..1
    diff: Floats  # (N,) mean |frame - previous| / 255
    flow: Floats  # (N, G, G, 2) mean optical flow per tile, scan px per frame; NaN at frame 0
    width: int
    height: int

    def save(self, path: Path) -> None:
        with path.open("wb") as handle:
            np.savez_compressed(
                handle,
                times=self.times,
                luma=self.luma,
                luma_std=self.luma_std,
                tile_luma=self.tile_luma,
                tile_texture=self.tile_texture,
                hist_change=self.hist_change,
                diff=self.diff,
                flow=self.flow.astype(np.float32),
                size=np.array([self.width, self.height]),
            )

    @classmethod
    def load(cls, path: Path) -> ClipScan:
        with np.load(path) as data:
            width, height = (int(v) for v in data["size"])
            return cls(
                times=data["times"],
                luma=data["luma"],
                luma_std=data["luma_std"],
                tile_luma=data["tile_luma"],
                tile_texture=data["tile_texture"],
                hist_change=data["hist_change"],
                diff=data["diff"],
                flow=data["flow"].astype(np.float64),
                width=width,
                height=height,
            )


def _tiles(plane: NDArray[np.float32], grid: int) -> Floats:
    h, w = plane.shape[:2]
    th, tw = h // grid, w // grid
    cropped = plane[: th * grid, : tw * grid]
    shape = (grid, th, grid, tw, *plane.shape[2:])
    return np.asarray(cropped.reshape(shape).mean(axis=(1, 3)), np.float64)


def scan(path: Path, config: ScanConfig | None = None) -> ClipScan:
    """Decode ``path`` once at the scan size and measure every frame."""
    config = config or scan_config()
    g = config.grid
    rows: dict[str, list[object]] = {k: [] for k in ClipScan.__dataclass_fields__}
    prev: NDArray[np.uint8] | None = None
    prev_hist: Floats | None = None
    width = height = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        first: float | None = None
        for index, frame in enumerate(container.decode(stream)):
            if not width:
                width = config.width
                height = max(2 * g, round(frame.height * width / frame.width / 2) * 2)
            gray = np.asarray(
                frame.reformat(width=width, height=height, format="gray").to_ndarray(), np.uint8
            )
            t = float(frame.time) if frame.time is not None else index / 30.0
            first = t if first is None else first
            plane = gray.astype(np.float32)
            grad = np.abs(cv2.Sobel(plane, cv2.CV_32F, 1, 0)) + np.abs(
                cv2.Sobel(plane, cv2.CV_32F, 0, 1)
            )
            hist = np.bincount(gray.ravel() >> 3, minlength=32).astype(np.float64)
            hist /= max(hist.sum(), 1.0)
            if prev is None or prev_hist is None:
                change, diff = 0.0, 0.0
                flow = np.full((g, g, 2), np.nan)
            else:
                change = 0.5 * float(np.abs(hist - prev_hist).sum())
                diff = float(np.abs(plane - prev.astype(np.float32)).mean()) / 255.0
                dense = np.asarray(
                    cv2.calcOpticalFlowFarneback(prev, gray, None, 0.5, 3, 13, 3, 5, 1.1, 0),  # type: ignore[call-overload]
                    np.float32,
                )
                flow = _tiles(dense, g)
            rows["times"].append(t - first)
            rows["luma"].append(float(plane.mean()))
            rows["luma_std"].append(float(plane.std()))
            rows["tile_luma"].append(_tiles(plane, g))
            rows["tile_texture"].append(_tiles(grad, g))
            rows["hist_change"].append(change)
            rows["diff"].append(diff)
            rows["flow"].append(flow)
            prev, prev_hist = gray, hist
    arrays = {k: np.asarray(v, np.float64) for k, v in rows.items() if k not in ("width", "height")}
    return ClipScan(**arrays, width=width, height=height)
