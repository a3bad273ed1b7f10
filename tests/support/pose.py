"""Shared, cached MediaPipe passes for the pose/features/ground-truth tests (no tests here).

Every clip goes through the real detector once per test session; tests then re-run the cheap
tracking, cleaning and measuring steps on the cached detections as often as they like.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from formcoach.feature_extraction import jobs as feature_jobs
from formcoach.kit.pipeline import PROXY, RunOptions, StageContext
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage
from formcoach.pose_estimation import jobs as pose_jobs
from formcoach.pose_estimation.detect import FrameDetections, detect_video
from formcoach.testbed.groundtruth import GroundTruth, Movement, render_clip

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "videos"
TWO_PEOPLE = FIXTURES / "sports2d-demo-two-people.mp4"
SINGLE_PERSON = FIXTURES / "pose2sim-single-person-cam01.mp4"

# name: (movement, fps, (width, height), facing); short clips keep the suite quick.
GT_CLIPS: dict[str, tuple[Movement, float, tuple[int, int], str]] = {
    "running_30_landscape": ("running", 30.0, (1280, 720), "right"),
    "running_60_portrait": ("running", 60.0, (720, 1280), "left"),
    "squat_30_landscape": ("squat", 30.0, (1280, 720), "left"),
    "plank_60_landscape": ("plank", 60.0, (1280, 720), "right"),
}
GT_SECONDS = 3.0


def make_test_settings() -> Settings:
    return Settings(data_dir=_workdir() / "data")


@cache
def _workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="formcoach-pose-tests-"))


@cache
def detections(video: Path) -> tuple[list[FrameDetections], int, int]:
    assert video.is_file(), f"missing clip {video}"
    found: tuple[list[FrameDetections], int, int] = detect_video(video, make_test_settings())
    return found


@cache
def ground_truth(name: str) -> tuple[Path, GroundTruth]:
    movement, fps, size, facing = GT_CLIPS[name]
    path = _workdir() / f"{name}.mp4"
    truth = render_clip(
        path,
        movement,
        fps=fps,
        size=size,
        seconds=GT_SECONDS,
        facing="left" if facing == "left" else "right",
    )
    return path, truth


@cache
def pipeline_run(name: str, height_cm: float | None = 175.0) -> tuple[StageContext, GroundTruth]:
    """A ground-truth clip through the real pose and features stages, as a run would."""
    path, truth = ground_truth(name)
    settings = make_test_settings()
    storage = LocalStorage(settings.files_dir)
    run_id = len(GT_CLIPS) + sorted(GT_CLIPS).index(name) + (0 if height_cm else 100)
    ctx = StageContext(run_id, RunOptions(height_cm=height_cm), storage, settings)
    storage.put_file(ctx.key(PROXY), path)
    pose_jobs.run(ctx)
    feature_jobs.run(ctx)
    return ctx, truth
