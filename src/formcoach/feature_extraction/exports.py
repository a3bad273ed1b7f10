"""Exports for other tools: OpenSim marker (.trc) and motion (.mot) files, keypoints JSON/CSV.

Formats follow OpenSim's file documentation ("Marker (.trc) files", "Storage (.sto/.mot)
files"): tab-separated, a fixed header, NaN for a missing value. 2D data has Z = 0.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from formcoach.feature_extraction.filters import FloatArray
from formcoach.pose_estimation.schemas import LANDMARK_NAMES


def _num(value: float, digits: int) -> str:
    return "NaN" if not math.isfinite(value) else f"{value:.{digits}f}"


def write_trc(
    path: Path, times: FloatArray, points: FloatArray, units: str, rate: float, digits: int
) -> None:
    """Markers (N, 33, 2) as an OpenSim .trc (Z = 0): one marker per MediaPipe landmark."""
    n, m = points.shape[0], points.shape[1]
    rate_text = f"{rate:.3f}"
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\t"
        "OrigDataStartFrame\tOrigNumFrames",
        f"{rate_text}\t{rate_text}\t{n}\t{m}\t{units}\t{rate_text}\t1\t{n}",
        "Frame#\tTime\t" + "\t\t\t".join(LANDMARK_NAMES[:m]) + "\t\t",
        "\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, m + 1)),
        "",
    ]
    for i in range(n):
        cells = [str(i + 1), f"{times[i]:.6f}"]
        for j in range(m):
            x, y = float(points[i, j, 0]), float(points[i, j, 1])
            z = 0.0 if math.isfinite(x) and math.isfinite(y) else float("nan")
            cells += [_num(x, digits), _num(y, digits), _num(z, digits)]
        lines.append("\t".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_mot(path: Path, times: FloatArray, series: Mapping[str, FloatArray]) -> None:
    """Angles as an OpenSim motion file (degrees), one column per series."""
    names = list(series)
    lines = [
        "Coordinates",
        "version=1",
        f"nRows={times.size}",
        f"nColumns={len(names) + 1}",
        "inDegrees=yes",
        "",
        "Units are S.I. units (second, meters, Newtons, ...)",
        "Angles are in degrees.",
        "",
        "endheader",
        "time\t" + "\t".join(names),
    ]
    for i in range(times.size):
        cells = [f"{times[i]:.6f}"] + [_num(float(series[k][i]), 4) for k in names]
        lines.append("\t".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _json_num(value: float, digits: int) -> float | None:
    return round(value, digits) if math.isfinite(value) else None


def keypoint_frames(
    times: FloatArray,
    detected: Sequence[bool],
    xy_px: FloatArray,
    xy_m: FloatArray,
    confidence: FloatArray,
) -> list[dict[str, Any]]:
    """Per frame: time, whether the subject is seen, and each landmark in px and metres."""
    frames: list[dict[str, Any]] = []
    for i in range(times.size):
        points = {}
        for j, name in enumerate(LANDMARK_NAMES):
            points[name] = {
                "x_px": _json_num(float(xy_px[i, j, 0]), 2),
                "y_px": _json_num(float(xy_px[i, j, 1]), 2),
                "x_m": _json_num(float(xy_m[i, j, 0]), 4),
                "y_m": _json_num(float(xy_m[i, j, 1]), 4),
                "confidence": _json_num(float(confidence[i, j]), 3),
            }
        frames.append(
            {
                "frame": i,
                "time_s": round(float(times[i]), 6),
                "subject": bool(detected[i]),
                "keypoints": points,
            }
        )
    return frames


def write_keypoints_json(path: Path, meta: Mapping[str, Any], frames: list[dict[str, Any]]) -> None:
    doc = {"schema": "formcoach.keypoints/1", **meta, "frames": frames}
    path.write_text(json.dumps(doc, ensure_ascii=False, allow_nan=False), encoding="utf-8")


def write_keypoints_csv(path: Path, frames: list[dict[str, Any]]) -> None:
    """The same content as the JSON, flat: one row per frame, empty cells where missing."""
    fields = ("x_px", "y_px", "x_m", "y_m", "confidence")
    header = ["frame", "time_s", "subject"]
    header += [f"{name}_{f}" for name in LANDMARK_NAMES for f in fields]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for frame in frames:
            row: list[Any] = [frame["frame"], f"{frame['time_s']:.6f}", int(frame["subject"])]
            for name in LANDMARK_NAMES:
                point = frame["keypoints"][name]
                row += ["" if point[f] is None else point[f] for f in fields]
            writer.writerow(row)
