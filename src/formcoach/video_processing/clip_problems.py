"""Named clip problems from the scan and the person's box (thresholds in clip_scan.yaml).

Cuts split the clip into scenes; a still scene without the person is a title card; the camera
moves when the background (tiles clear of the person, with texture) travels or scales; the
clip is too dark when the person's region is. Each problem carries the span it covers.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from formcoach.video_processing.clip_scan import ClipScan, Floats, ScanConfig, scan_config


@dataclass(frozen=True)
class Problem:
    code: str
    start_s: float
    end_s: float


def person_boxes(
    keypoints: NDArray[np.float32], width: int, height: int, min_visibility: float = 0.5
) -> Floats:
    """(N, 4) box of the visible landmarks as frame shares x0, y0, x1, y1; NaN without one."""
    out = np.full((keypoints.shape[0], 4), np.nan)
    if width <= 0 or height <= 0:
        return out
    for i, frame in enumerate(keypoints):
        seen = frame[np.isfinite(frame[:, 0]) & (np.nan_to_num(frame[:, 3]) >= min_visibility)]
        if seen.shape[0] >= 4:
            x, y = seen[:, 0] / width, seen[:, 1] / height
            out[i] = (x.min(), y.min(), x.max(), y.max())
    return out


def cut_frames(scan: ClipScan, config: ScanConfig) -> list[int]:
    """Indexes of the first frame after each cut."""
    hits = np.flatnonzero((scan.hist_change > config.cut_hist) & (scan.diff > config.cut_diff))
    cuts: list[int] = []
    for i in hits:
        if cuts and scan.times[i] - scan.times[cuts[-1]] < config.cut_merge_s:
            continue
        cuts.append(int(i))
    return cuts


def scenes(scan: ClipScan, config: ScanConfig | None = None) -> list[tuple[int, int]]:
    """Frame ranges [start, stop) between cuts."""
    config = config or scan_config()
    bounds = [0, *cut_frames(scan, config), scan.times.size]
    return [(a, b) for a, b in pairwise(bounds) if b > a]


def _frame_s(scan: ClipScan) -> float:
    steps = np.diff(scan.times)
    steps = steps[steps > 0]
    return float(np.median(steps)) if steps.size else 1 / 30


def _end(scan: ClipScan, stop: int) -> float:
    return round(float(scan.times[stop - 1]) + _frame_s(scan), 3)


def _tile_mask(box: Floats, grid: int, margin: float) -> NDArray[np.bool_]:
    """Tiles overlapping the (widened) box."""
    mask = np.zeros((grid, grid), dtype=np.bool_)
    if not np.isfinite(box).all():
        return mask
    pad = margin * (box[3] - box[1])
    x0, y0 = max(box[0] - pad, 0.0), max(box[1] - pad, 0.0)
    x1, y1 = min(box[2] + pad, 1.0), min(box[3] + pad, 1.0)
    c0, c1 = int(x0 * grid), min(int(np.ceil(x1 * grid)), grid)
    r0, r1 = int(y0 * grid), min(int(np.ceil(y1 * grid)), grid)
    mask[r0:r1, c0:c1] = True
    return mask


def camera_motion(scan: ClipScan, boxes: Floats, config: ScanConfig) -> tuple[Floats, Floats]:
    """Per frame: background speed (frame widths/s) and zoom rate (1/s); NaN where unread."""
    n, g = scan.times.size, config.grid
    speed, zoom = np.full(n, np.nan), np.full(n, np.nan)
    tw, th = scan.width / g, scan.height / g
    cols, rows = np.meshgrid((np.arange(g) + 0.5) * tw, (np.arange(g) + 0.5) * th)
    rx, ry = cols - scan.width / 2, rows - scan.height / 2
    dt = _frame_s(scan)
    for i in range(1, n):
        if not np.isfinite(scan.flow[i]).all():
            continue
        box = boxes[i] if i < boxes.shape[0] else np.full(4, np.nan)
        keep = (scan.tile_texture[i] >= config.min_texture) & ~_tile_mask(
            box, g, config.person_margin
        )
        if int(keep.sum()) < config.min_background_tiles:
            continue
        fx, fy = scan.flow[i, :, :, 0][keep], scan.flow[i, :, :, 1][keep]
        tx, ty = float(np.median(fx)), float(np.median(fy))
        px, py = rx[keep], ry[keep]
        scale = float(((fx - tx) * px + (fy - ty) * py).sum() / max((px**2 + py**2).sum(), 1e-9))
        speed[i] = float(np.hypot(tx, ty)) / scan.width / dt
        zoom[i] = scale / dt
    return _smooth(speed, dt, config.smooth_s), _smooth(zoom, dt, config.smooth_s)


def _smooth(values: Floats, dt: float, window_s: float) -> Floats:
    half = max(1, round(window_s / dt / 2))
    out = np.full_like(values, np.nan)
    for i in range(values.size):
        part = values[max(0, i - half) : i + half + 1]
        part = part[np.isfinite(part)]
        if part.size > half:
            out[i] = float(part.mean())
    return out


def _runs(flags: NDArray[np.bool_]) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=False))


def _person_luma(scan: ClipScan, boxes: Floats, config: ScanConfig) -> Floats:
    out = scan.luma.copy()
    for i in range(min(out.size, boxes.shape[0])):
        mask = _tile_mask(boxes[i], config.grid, 0.0)
        if mask.any():
            out[i] = float(scan.tile_luma[i][mask].mean())
    return out


def problems(
    scan: ClipScan, boxes: Floats, config: ScanConfig | None = None
) -> tuple[list[Problem], list[tuple[int, int]]]:
    """The clip's problems, and the scenes worth analysing (not title cards)."""
    config = config or scan_config()
    n = scan.times.size
    if boxes.shape[0] < n:
        boxes = np.vstack([boxes, np.full((n - boxes.shape[0], 4), np.nan)])
    found: list[Problem] = []
    footage: list[tuple[int, int]] = []
    parts = scenes(scan, config)
    has_person = np.isfinite(boxes[:n, 0])
    for a, b in parts:
        still = float(np.median(scan.diff[a + 1 : b])) if b - a > 1 else 0.0
        card = (
            float(has_person[a:b].mean()) < config.title_person_share
            and still < config.title_static_diff
            and len(parts) > 1
            and scan.times[b - 1] - scan.times[a] >= config.title_min_s - _frame_s(scan)
        )
        if card:
            found.append(Problem("title_card", round(float(scan.times[a]), 3), _end(scan, b)))
        else:
            footage.append((a, b))
    for left, right in pairwise(footage):
        if left[1] == right[0]:  # two footage scenes meet at a cut
            t = round(float(scan.times[right[0]]), 3)
            found.append(Problem("cuts_in_clip", t, t))
    if not footage:
        return found, footage
    in_footage = np.zeros(n, dtype=np.bool_)
    for a, b in footage:
        in_footage[a:b] = True
    speed, zoom = camera_motion(scan, boxes[:n], config)
    for a, _b in footage:
        # A scene's first frame compares with the previous scene: no camera motion there.
        speed[a], zoom[a] = np.nan, np.nan
    moving = (np.nan_to_num(speed) > config.pan_speed) | (
        np.abs(np.nan_to_num(zoom)) > config.zoom_rate
    )
    for a, b in _runs(moving & in_footage):
        if scan.times[b - 1] - scan.times[a] >= config.moving_min_s:
            found.append(Problem("camera_moving", round(float(scan.times[a]), 3), _end(scan, b)))
    luma = _person_luma(scan, boxes[:n], config)
    dark = (luma < config.dark_luma) & in_footage
    if dark.sum() >= config.dark_min_share * in_footage.sum():
        idx = np.flatnonzero(dark)
        found.append(
            Problem("too_dark", round(float(scan.times[idx[0]]), 3), _end(scan, idx[-1] + 1))
        )
    return sorted(found, key=lambda p: (p.start_s, p.code)), footage
