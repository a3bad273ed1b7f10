"""The pose and features stages on the real fixture clips (one MediaPipe pass per clip)."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from formcoach.feature_extraction import jobs as feature_jobs
from formcoach.feature_extraction.schemas import SERIES_NAMES, FeaturesDocument
from formcoach.kit.pipeline import (
    ANGLES_CSV,
    FEATURES,
    KEYPOINTS_CSV,
    POSE,
    POSE_META,
    PROXY,
    RunOptions,
    StageContext,
)
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage
from formcoach.pose_estimation import jobs as pose_jobs
from formcoach.pose_estimation.schemas import LANDMARK_NAMES, PoseResult

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "videos"
CLIPS = {
    # name: (file, width, height, fps, frames)
    "single_person": ("pose2sim-single-person-cam01.mp4", 1080, 1920, 60.0, 100),
    "two_people": ("sports2d-demo-two-people.mp4", 1768, 994, 30.0, 230),
}


@dataclass
class Stage:
    ctx: StageContext
    pose: PoseResult
    pose_progress: list[float]


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Stage]:
    """Both clips run through the pose and features jobs, as the pipeline would."""
    root = tmp_path_factory.mktemp("real")
    settings = Settings(data_dir=root / "data")
    storage = LocalStorage(settings.files_dir)
    out: dict[str, Stage] = {}
    for run_id, (name, (file, *_)) in enumerate(CLIPS.items(), start=1):
        progress: list[float] = []
        ctx = StageContext(run_id, RunOptions(), storage, settings, progress.append)
        source = FIXTURES / file
        assert source.is_file(), f"missing fixture clip {source}"
        # The fixtures stand in for proxy.mp4: same container and codec family.
        shutil.copyfile(source, storage.root / "tmp-proxy.mp4")
        storage.put_file(ctx.key(PROXY), storage.root / "tmp-proxy.mp4")
        pose_jobs.run(ctx)
        pose_progress = list(progress)
        feature_jobs.run(ctx)
        pose = PoseResult.load(storage.local_path(ctx.key(POSE)))
        out[name] = Stage(ctx, pose, pose_progress)
    return out


@pytest.mark.parametrize("name", CLIPS)
def test_pose_meta_matches_clip(staged: dict[str, Stage], name: str) -> None:
    _, width, height, fps, frames = CLIPS[name]
    stage = staged[name]
    meta = stage.ctx.read_json(POSE_META)
    assert meta == stage.pose.meta
    assert meta["model"] == "mediapipe-pose-full" and meta["landmarks"] == "mediapipe-33"
    assert (meta["width"], meta["height"], meta["frames"]) == (width, height, frames)
    assert meta["fps"] == pytest.approx(fps, rel=1e-3)
    assert stage.pose.keypoints.shape == (frames, 33, 4)
    assert stage.pose.keypoints.dtype == np.float32
    assert stage.pose_progress[-1] == 1.0
    assert all(a <= b for a, b in zip(stage.pose_progress, stage.pose_progress[1:], strict=False))


def test_single_person_is_found_in_nearly_every_frame(staged: dict[str, Stage]) -> None:
    meta = staged["single_person"].ctx.read_json(POSE_META)
    assert meta["frames_with_subject"] >= 97
    assert meta["detection_rate"] >= 0.97


def test_two_people_clip_is_mostly_detected(staged: dict[str, Stage]) -> None:
    # The subject is the woman who walks across (issue 19 item 6), in view from ~1.2 s to
    # ~6.7 s of 7.7 s (SOURCES.md): ~0.71 of the frames. 0.8 was the man's share, seen longer.
    assert staged["two_people"].pose.detection_rate >= 0.65


@pytest.mark.parametrize("name", CLIPS)
def test_times_are_real_and_increasing(staged: dict[str, Stage], name: str) -> None:
    _, _, _, fps, frames = CLIPS[name]
    times = staged[name].pose.times
    assert times[0] == 0.0
    assert np.all(np.diff(times) > 0)
    assert times[-1] == pytest.approx((frames - 1) / fps, abs=1e-3)


@pytest.mark.parametrize("name", CLIPS)
def test_keypoints_lie_in_the_image(staged: dict[str, Stage], name: str) -> None:
    pose = staged[name].pose
    kp = pose.keypoints[pose.detected]
    assert np.isnan(pose.keypoints[~pose.detected]).all()
    assert np.isfinite(kp).all()
    visible = kp[:, :, 3] >= 0.5
    x, y = kp[:, :, 0][visible], kp[:, :, 1][visible]
    inside = (x >= 0) & (x < pose.width) & (y >= 0) & (y < pose.height)
    assert inside.mean() >= 0.95
    assert ((kp[:, :, 3] >= 0) & (kp[:, :, 3] <= 1)).all()


@pytest.mark.parametrize("name", CLIPS)
def test_keypoints_csv_has_one_row_per_frame(staged: dict[str, Stage], name: str) -> None:
    stage = staged[name]
    path = stage.ctx.storage.local_path(stage.ctx.key(KEYPOINTS_CSV))
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    assert len(body) == stage.pose.frames
    assert len(header) == 3 + 33 * 4
    assert header[:3] == ["frame", "time_s", "detected"]
    assert f"{LANDMARK_NAMES[25]}_x_px" == "left_knee_x_px" and "left_knee_x_px" in header
    col = header.index("left_knee_y_px")
    first = next(i for i, d in enumerate(stage.pose.detected) if d)
    assert float(body[first][col]) == pytest.approx(stage.pose.keypoints[first, 25, 1], abs=0.01)


@pytest.mark.parametrize("name", CLIPS)
def test_features_series_are_finite_and_full_length(staged: dict[str, Stage], name: str) -> None:
    stage = staged[name]
    data = stage.ctx.read_json(FEATURES)
    doc = FeaturesDocument.model_validate(data)
    n = stage.pose.frames
    assert data["schema"] == "formcoach.features/1"
    assert len(doc.times) == n
    assert set(doc.series) == set(SERIES_NAMES)
    for series_name, values in doc.series.items():
        assert len(values) == n
        present = [v for v in values if v is not None]
        assert all(np.isfinite(present)), series_name
        assert doc.summary.stats[series_name].valid_frames == len(present)
    # Of the frames the subject is in: the two-people clip's walker is in ~0.71 of them.
    share = 0.8 if name == "single_person" else 0.6
    for flexion in ("left_knee_flexion_deg", "right_hip_flexion_deg", "trunk_lean_deg"):
        assert doc.summary.stats[flexion].valid_frames >= share * n
    knee = [v for v in doc.series["left_knee_flexion_deg"] if v is not None]
    assert min(knee) >= 0.0 and max(knee) <= 180.0
    angles = stage.ctx.storage.local_path(stage.ctx.key(ANGLES_CSV))
    assert len(angles.read_text(encoding="utf-8").splitlines()) == n + 1


def test_features_job_is_idempotent(staged: dict[str, Stage]) -> None:
    ctx = staged["single_person"].ctx
    before = ctx.storage.get_bytes(ctx.key(FEATURES)), ctx.storage.get_bytes(ctx.key(ANGLES_CSV))
    feature_jobs.run(ctx)
    after = ctx.storage.get_bytes(ctx.key(FEATURES)), ctx.storage.get_bytes(ctx.key(ANGLES_CSV))
    assert before == after
    json.loads(before[0])
