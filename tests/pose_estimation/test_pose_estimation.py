"""pose_estimation: no-person clips, the pose.npz / keypoints.csv formats, idempotent job."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from mediapipe.python.solutions import pose as mp_pose

from formcoach.kit.errors import AppError
from formcoach.kit.pipeline import KEYPOINTS_CSV, POSE, POSE_META, PROXY, RunOptions, StageContext
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage
from formcoach.kit.video_io import H264Writer, iter_frames
from formcoach.pose_estimation import jobs
from formcoach.pose_estimation.schemas import LANDMARK_NAMES, PoseResult
from formcoach.pose_estimation.service import check_detection, estimate

SINGLE = (
    Path(__file__).resolve().parents[3] / "shared/fixtures/videos/pose2sim-single-person-cam01.mp4"
)


def _pose(n: int = 5) -> PoseResult:
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(0, 500, (n, 33, 4)).astype(np.float32)
    keypoints[..., 3] = rng.uniform(0, 1, (n, 33))
    detected = np.ones(n, dtype=bool)
    keypoints[1] = np.nan
    detected[1] = False
    times = np.arange(n, dtype=np.float64) / 30.0
    return PoseResult(times, keypoints, detected, width=640, height=480, fps=30.0)


def test_landmark_names_follow_mediapipe() -> None:
    assert tuple(lm.name.lower() for lm in mp_pose.PoseLandmark) == LANDMARK_NAMES


def test_save_load_round_trip(tmp_path: Path) -> None:
    pose = _pose()
    pose.save(tmp_path / "pose.npz")
    loaded = PoseResult.load(tmp_path / "pose.npz")
    np.testing.assert_array_equal(loaded.keypoints, pose.keypoints)  # NaN == NaN here
    np.testing.assert_array_equal(loaded.times, pose.times)
    np.testing.assert_array_equal(loaded.detected, pose.detected)
    assert loaded.keypoints.dtype == np.float32 and loaded.times.dtype == np.float64
    assert loaded.meta == pose.meta
    assert pose.meta["frames"] == 5 and pose.meta["frames_with_subject"] == 4
    assert pose.meta["detection_rate"] == pytest.approx(0.8)
    with np.load(tmp_path / "pose.npz") as data:
        assert {"times", "keypoints", "detected"} <= set(data.files)


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError):
        PoseResult(np.zeros(3), np.zeros((3, 17, 4), np.float32), np.ones(3, bool), 1, 1, 30.0)


def test_csv_cells(tmp_path: Path) -> None:
    pose = _pose()
    pose.write_csv(tmp_path / "k.csv")
    with (tmp_path / "k.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5
    assert rows[1]["detected"] == "0" and rows[1]["nose_x_px"] == ""
    assert rows[0]["detected"] == "1"
    assert float(rows[2]["right_foot_index_visibility"]) == pytest.approx(
        pose.keypoints[2, 32, 3], abs=1e-4
    )
    assert float(rows[3]["time_s"]) == pytest.approx(0.1)
    assert rows[0]["nose_x_px"] == f"{pose.keypoints[0, 0, 0]:.2f}"
    assert rows[0]["nose_z"] == f"{pose.keypoints[0, 0, 2]:.4f}"
    # Every row as long as the header, lost frames included; lines end like the csv module's.
    text = (tmp_path / "k.csv").read_bytes().decode()
    lines = text.split("\r\n")
    assert lines[-1] == "" and len(lines) == 7
    assert {line.count(",") for line in lines[:-1]} == {3 + 33 * 4 - 1}


def test_detection_threshold(settings: Settings) -> None:
    check_detection(_pose(), settings)  # 80 % >= 30 %
    with pytest.raises(AppError) as err:
        check_detection(_pose(), settings.model_copy(update={"min_detection_rate": 0.9}))
    assert err.value.code == "no_person_detected"


@pytest.mark.slow
def test_clip_without_a_person_is_rejected(tmp_path: Path, settings: Settings) -> None:
    video = tmp_path / "empty.mp4"
    rng = np.random.default_rng(1)
    ramp = np.linspace(0, 255, 320, dtype=np.float64)[None, :, None]
    with H264Writer(video, 320, 240, 15.0) as writer:
        for i in range(20):
            noise = rng.normal(0, 8, (240, 320, 3))
            image = np.clip(ramp + noise + 3 * i, 0, 255).astype(np.uint8)
            writer.write(image)
    seen: list[float] = []
    with pytest.raises(AppError) as err:
        estimate(video, settings, seen.append)
    assert err.value.code == "no_person_detected"
    assert err.value.params["rate"] < settings.min_detection_rate
    assert err.value.status == 422
    assert seen[-1] == 1.0


def _short_clip(path: Path, frames: int = 16) -> None:
    """The start of the single-person clip at a quarter size, as a quick proxy."""
    with H264Writer(path, 270, 480, 60.0) as writer:
        for frame in iter_frames(SINGLE):
            if frame.index >= frames:
                break
            writer.write(np.ascontiguousarray(frame.image[::4, ::4]))


@pytest.mark.slow
def test_pose_job_is_idempotent(tmp_path: Path, settings: Settings) -> None:
    storage = LocalStorage(settings.files_dir)
    ctx = StageContext(7, RunOptions(), storage, settings)
    _short_clip(tmp_path / "proxy.mp4")
    storage.put_file(ctx.key(PROXY), tmp_path / "proxy.mp4")
    jobs.run(ctx)
    first = PoseResult.load(storage.local_path(ctx.key(POSE)))
    first_csv = storage.get_bytes(ctx.key(KEYPOINTS_CSV))
    jobs.run(ctx)
    second = PoseResult.load(storage.local_path(ctx.key(POSE)))
    np.testing.assert_array_equal(first.keypoints, second.keypoints)
    assert storage.get_bytes(ctx.key(KEYPOINTS_CSV)) == first_csv
    meta = ctx.read_json(POSE_META)
    assert (meta["width"], meta["height"], meta["frames"]) == (270, 480, 16)
    assert meta["detection_rate"] >= 0.9
    # x, y are pixels of this (quarter-size) video, not fractions.
    assert np.nanmax(first.keypoints[..., 1]) > 100
    assert sorted(storage.list("runs/7")) == [
        "runs/7/keypoints.csv",
        "runs/7/pose.json",
        "runs/7/pose.npz",
        "runs/7/proxy.mp4",
    ]
