"""Drill figures with the user's own proportions, measured in one of their runs.

Uses the session's completed runs (the real fixture clips through the whole pipeline).
"""

from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from formcoach.accounts.users import User, hash_password
from formcoach.advice_generation.service import get_drill
from formcoach.feature_extraction.service import compute_all
from formcoach.kit.db import session_scope
from formcoach.kit.settings import Settings
from formcoach.kit.storage import get_storage
from formcoach.kit.video_io import is_playable_h264
from formcoach.pose_estimation.schemas import LANDMARK_NAMES
from formcoach.pose_estimation.service import estimate
from formcoach.runs.models import Run
from formcoach.testbed.selfcheck import self_check
from formcoach.video_generation.figure import STANDARD_BODY, Body
from formcoach.video_generation.keyframes import lowest
from formcoach.video_generation.proportions import (
    body_for_run,
    body_from_code,
    body_from_points,
    figure_code,
)
from formcoach.video_generation.render import prepare_clip, write_clip
from tests.support.apputil import ADMIN, basic, run_folder_key

PREFIX = "/api/video-generation"
S = STANDARD_BODY
# The extremes the settings allow (±15% per segment): long legs and short arms, and the reverse.
EXTREMES = {
    "long_legs": Body(
        S.trunk * 0.85, S.thigh * 1.15, S.shank * 1.15, S.upper_arm * 0.85, S.forearm * 0.85
    ),
    "long_trunk": Body(
        S.trunk * 1.15, S.thigh * 0.85, S.shank * 0.85, S.upper_arm * 1.15, S.forearm * 1.15
    ),
}


def _wait_for_job(client: TestClient, run_id: int, job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status = client.get(f"{PREFIX}/status/{run_id}", headers=ADMIN).json()
        job = next(j for j in status["jobs"] if j["job_id"] == job_id)
        if job["status"] in ("success", "failed"):
            return dict(job)
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} did not finish")


def test_the_figure_takes_the_proportions_measured_in_a_run(
    live_app: tuple[TestClient, Settings], completed_runs: dict[str, dict[str, Any]]
) -> None:
    _, settings = live_app
    run = completed_runs["single_person"]
    assert run["status"] == "completed"
    body = body_for_run(get_storage(settings), run_folder_key(settings.db_url, run["id"]), settings)
    assert body != STANDARD_BODY
    band = settings.drill_figure_max_deviation
    for f in fields(Body):
        value, standard = getattr(body, f.name), getattr(STANDARD_BODY, f.name)
        assert standard * (1 - band) - 6e-4 <= value <= standard * (1 + band) + 6e-4, f.name
    code = figure_code(body)
    assert len(code) <= 32 and body_from_code(code) == body
    assert body_from_code("standard") == STANDARD_BODY


def test_generate_with_the_figure_of_a_run(
    live_app: tuple[TestClient, Settings], completed_runs: dict[str, dict[str, Any]]
) -> None:
    client, settings = live_app
    run_id = completed_runs["single_person"]["id"]
    body = body_for_run(get_storage(settings), run_folder_key(settings.db_url, run_id), settings)
    request = {"run_id": run_id, "drill_text": "glute bridge", "size": "1280x720", "seconds": "4"}
    own = client.post(
        f"{PREFIX}/generate", json=request | {"figure_from_run": run_id}, headers=ADMIN
    )
    assert own.status_code == 202, own.text
    assert own.json()["figure"] == figure_code(body)
    standard = client.post(f"{PREFIX}/generate", json=request | {"language": "en"}, headers=ADMIN)
    assert standard.json()["figure"] == "standard"
    done = _wait_for_job(client, run_id, own.json()["job_id"])
    plain = _wait_for_job(client, run_id, standard.json()["job_id"])
    assert done["status"] == plain["status"] == "success", (done, plain)
    video = client.get(done["video_url"], headers=ADMIN)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    path = Path(settings.data_dir) / "own.mp4"
    path.write_bytes(video.content)
    assert is_playable_h264(path)
    # The same request again is answered from the cache, whose key includes the figure.
    again = client.post(
        f"{PREFIX}/generate", json=request | {"figure_from_run": run_id}, headers=ADMIN
    )
    assert again.json()["status"] == "success"
    assert client.get(again.json()["video_url"], headers=ADMIN).content == video.content
    # The standard figure is a different video (language aside, the figure differs).
    en_own = client.post(
        f"{PREFIX}/generate",
        json=request | {"language": "en", "figure_from_run": run_id},
        headers=ADMIN,
    )
    en_done = _wait_for_job(client, run_id, en_own.json()["job_id"])
    other = client.get(plain["video_url"], headers=ADMIN).content
    assert client.get(en_done["video_url"], headers=ADMIN).content != other


def test_the_figure_of_another_users_run_is_not_found(
    live_app: tuple[TestClient, Settings], completed_runs: dict[str, dict[str, Any]]
) -> None:
    client, settings = live_app
    with session_scope(settings.db_url) as session:
        user = User(username="carol-figure", password_hash=hash_password("pw-carol"), language="en")
        session.add(user)
        session.flush()
        run = Run(user_id=user.id, language="en")
        session.add(run)
        session.flush()
        carol_run = run.id
    carol = basic("carol-figure", "pw-carol")
    request = {"run_id": carol_run, "drill_text": "plank", "size": "1280x720", "seconds": "4"}
    admins = completed_runs["single_person"]["id"]
    theirs = client.post(
        f"{PREFIX}/generate", json=request | {"figure_from_run": admins}, headers=carol
    )
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "not_found"
    # Her own run has no measured keypoints yet: a clear error, in her language.
    empty = client.post(
        f"{PREFIX}/generate", json=request | {"figure_from_run": carol_run}, headers=carol
    )
    assert empty.status_code == 409
    error = empty.json()["error"]
    assert error["code"] == "figure_unavailable" and "proportions" in error["message"]


@pytest.mark.parametrize("name", list(EXTREMES))
def test_a_proportioned_figure_keeps_its_floor_contacts(name: str) -> None:
    body = EXTREMES[name]
    for drill_id, group_a, group_b in (
        ("plank", ("arm_r", "arm_l"), ("leg_r", "leg_l")),
        ("glute_bridge", ("shirt",), ("leg_r", "leg_l")),
        ("bird_dog", ("arm_r", "arm_l"), ("leg_r", "leg_l")),
    ):
        clip = prepare_clip(get_drill(drill_id), "en", "1280x720", "4", body)
        first = clip.figures[clip.demo_start]
        assert lowest(first, group_a) == pytest.approx(0.0, abs=2e-3), (drill_id, name)
        assert lowest(first, group_b) == pytest.approx(0.0, abs=2e-3), (drill_id, name)
        standard = prepare_clip(get_drill(drill_id), "en", "1280x720", "4")
        knee, hip = first.joints["knee_r"], first.joints["hip_r"]
        ref = standard.figures[standard.demo_start].joints
        thigh = float(np.hypot(*(knee - hip)))
        assert thigh == pytest.approx(body.thigh, rel=0.02) and thigh != pytest.approx(
            float(np.hypot(*(ref["knee_r"] - ref["hip_r"]))), rel=0.05
        )


def test_a_proportioned_figure_passes_its_self_check(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, pose_max_people=1)
    result = self_check(get_drill("box_squat"), settings, body=EXTREMES["long_legs"])
    assert result.passed, (result.problems, result.measured)
    assert result.reps_seen == result.reps_rendered >= 1


def test_the_pipeline_measures_the_standard_figure_back(tmp_path: Path) -> None:
    """End to end: the standard figure's encoded video, through pose estimation and feature
    extraction, gives back the standard proportions (the landmark calibration holds)."""
    settings = Settings(data_dir=tmp_path, pose_max_people=1)
    clip = prepare_clip(get_drill("high_knees"), "en", "720x1280", "4")
    write_clip(clip, tmp_path / "standard.mp4")
    pose = estimate(tmp_path / "standard.mp4", settings)
    _, clean = compute_all(pose, settings, pose.fps)
    assert clean.scale.m_per_px is not None and clean.scale.height_cm is not None
    points = {name: clean.xy[:, i] * clean.scale.m_per_px for i, name in enumerate(LANDMARK_NAMES)}
    body = body_from_points(points, clean.scale.height_cm / 100.0, settings)
    assert body is not None
    for f in fields(Body):
        standard = getattr(STANDARD_BODY, f.name)
        assert getattr(body, f.name) == pytest.approx(standard, rel=0.05), f.name
