"""The exports open: OpenSim .trc/.mot read back by a reader that follows OpenSim's format."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from formcoach.feature_extraction.angles import JOINT_SERIES, SEGMENT_SERIES
from formcoach.kit.pipeline import (
    ANGLES_MOT,
    KEYPOINTS_JSON,
    KEYPOINTS_M_CSV,
    MARKERS_TRC_M,
    MARKERS_TRC_PX,
    TRACKS_JPG,
    StageContext,
)
from formcoach.pose_estimation.schemas import LANDMARK_NAMES
from tests.support.pose import pipeline_run

pytestmark = pytest.mark.slow


def read_trc(path: Path) -> tuple[dict[str, str], list[str], NDArray[Any], NDArray[Any]]:
    """OpenSim's TRC layout: 3 header lines, marker names, X/Y/Z labels, then frames."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t")[:2] == ["PathFileType", "4"]
    keys, values = lines[1].split("\t"), lines[2].split("\t")
    header = dict(zip(keys, values, strict=True))
    names_row = lines[3].split("\t")
    assert names_row[:2] == ["Frame#", "Time"]
    markers = [n for n in names_row[2:] if n]
    n_markers = int(header["NumMarkers"])
    assert len(markers) == n_markers
    labels = lines[4].split("\t")[2:]
    assert labels == [f"{a}{i}" for i in range(1, n_markers + 1) for a in "XYZ"]
    rows = [line.split("\t") for line in lines[5:] if line.strip()]
    assert len(rows) == int(header["NumFrames"])
    assert all(len(r) == 2 + 3 * n_markers for r in rows)
    assert [int(r[0]) for r in rows] == list(range(1, len(rows) + 1))
    times = np.array([float(r[1]) for r in rows])
    data = np.array([[float(v) for v in r[2:]] for r in rows]).reshape(len(rows), n_markers, 3)
    return header, markers, times, data


def read_mot(path: Path) -> tuple[dict[str, str], list[str], NDArray[Any]]:
    """OpenSim's storage layout: key=value header lines up to "endheader", then a table."""
    lines = path.read_text(encoding="utf-8").splitlines()
    end = lines.index("endheader")
    header = dict(line.split("=", 1) for line in lines[:end] if "=" in line)
    columns = lines[end + 1].split("\t")
    table = np.array([[float(v) for v in line.split("\t")] for line in lines[end + 2 :]])
    assert table.shape == (int(header["nRows"]), int(header["nColumns"]))
    assert len(columns) == int(header["nColumns"])
    return header, columns, table


def _ctx() -> StageContext:
    ctx, _ = pipeline_run("running_30_landscape")
    return ctx


def test_trc_in_pixels_and_metres() -> None:
    ctx, truth = pipeline_run("running_30_landscape")
    header_px, markers, times, px = read_trc(ctx.storage.local_path(ctx.key(MARKERS_TRC_PX)))
    header_m, _, times_m, m = read_trc(ctx.storage.local_path(ctx.key(MARKERS_TRC_M)))
    assert markers == list(LANDMARK_NAMES)
    assert header_px["Units"] == "px" and header_m["Units"] == "m"
    assert float(header_px["DataRate"]) == pytest.approx(30.0)
    assert np.allclose(times, truth.times, atol=1e-6) and np.allclose(times_m, times)
    assert np.all(px[:, :, 2][np.isfinite(px[:, :, 2])] == 0.0)
    # Metric heights for a 1.75 m runner: the nose near 1.6 m, the ankles near the floor.
    nose = m[:, LANDMARK_NAMES.index("nose"), 1]
    ankle = m[:, LANDMARK_NAMES.index("right_ankle"), 1]
    assert 1.45 < np.nanmedian(nose) < 1.75
    assert -0.05 < np.nanmin(ankle) < 0.15


def test_mot_holds_every_angle_in_degrees() -> None:
    ctx = _ctx()
    header, columns, table = read_mot(ctx.storage.local_path(ctx.key(ANGLES_MOT)))
    assert header["inDegrees"] == "yes"
    assert columns == ["time", *JOINT_SERIES, *SEGMENT_SERIES]
    knee = table[:, columns.index("right_knee_angle_deg")]
    assert np.nanmin(knee) > 0 and np.nanmax(knee) < 130


def test_keypoints_json_and_csv_agree() -> None:
    ctx = _ctx()
    doc = json.loads(ctx.storage.get_bytes(ctx.key(KEYPOINTS_JSON)))
    assert doc["schema"] == "formcoach.keypoints/1" and doc["subject"] == 1
    assert doc["scale"]["height_source"] == "user"
    frame = doc["frames"][10]
    knee = frame["keypoints"]["right_knee"]
    assert set(knee) == {"x_px", "y_px", "x_m", "y_m", "confidence"}
    assert 0.0 <= knee["confidence"] <= 1.0
    path = ctx.storage.local_path(ctx.key(KEYPOINTS_M_CSV))
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(doc["frames"])
    assert float(rows[10]["right_knee_x_m"]) == pytest.approx(knee["x_m"], abs=1e-4)
    assert float(rows[10]["time_s"]) == pytest.approx(frame["time_s"])


def test_tracks_contact_sheet_is_written() -> None:
    ctx = _ctx()
    sheet = Image.open(ctx.storage.local_path(ctx.key(TRACKS_JPG)))
    # One tracked person: one thumbnail with its caption below.
    assert sheet.format == "JPEG" and sheet.height > 96 and sheet.width >= 60
