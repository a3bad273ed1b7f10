"""video_generation HTTP API: the seed's generate/status routes and serving the videos."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import formcoach.runs.models  # noqa: F401  (registers the runs tables)
from formcoach.accounts.users import User, hash_password
from formcoach.advice_generation.service import list_drills
from formcoach.kit.api import install_error_handlers
from formcoach.kit.db import Base, get_engine, session_scope
from formcoach.kit.settings import Settings
from formcoach.pipeline.runners import IdHandler, JobRunner
from formcoach.runs.models import Run
from formcoach.video_generation.api import router
from formcoach.video_generation.service import pending_job_ids, process_job

PREFIX = "/api/video-generation"
SEED_REQUEST = {
    "run_id": 0,
    "drill_text": "Plank: a basic exercise that strengthens the core...",
    "size": "1280x720",
    "seconds": "4",
}


def auth(username: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:pw-{username}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture()
def app_and_runs(tmp_path: Path) -> Iterator[tuple[TestClient, JobRunner, dict[str, int]]]:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    Base.metadata.create_all(get_engine(settings.db_url))
    runs: dict[str, int] = {}
    with session_scope(settings.db_url) as session:
        for name, language in (("alice", "en"), ("bob", "ja")):
            user = User(username=name, password_hash=hash_password(f"pw-{name}"), language=language)
            session.add(user)
            session.flush()
            run = Run(user_id=user.id, language=language)
            session.add(run)
            session.flush()
            runs[name] = run.id
    runner = JobRunner(1)
    runner.register(
        "drill_video",
        IdHandler(partial(process_job, settings=settings)),
        partial(pending_job_ids, settings),
    )
    app = FastAPI()
    app.state.settings = settings
    app.state.jobs = runner
    install_error_handlers(app)
    app.include_router(router, prefix=PREFIX)
    runner.start()
    with TestClient(app) as client:
        yield client, runner, runs
    runner.stop()
    get_engine(settings.db_url).dispose()


def test_seed_flow_generate_then_status_then_video(
    app_and_runs: tuple[TestClient, JobRunner, dict[str, int]],
) -> None:
    client, runner, runs = app_and_runs
    assert client.get(f"{PREFIX}/").status_code == 401
    assert client.get(f"{PREFIX}/", headers=auth("alice")).json()["service"] == "video_generation"

    body = {**SEED_REQUEST, "run_id": runs["alice"]}
    created = client.post(f"{PREFIX}/generate", json=body, headers=auth("alice"))
    assert created.status_code == 202
    job = created.json()
    assert job["status"] in ("queued", "running", "success")
    assert set(job) >= {"run_id", "job_id", "status", "message", "video_url", "error"}
    assert runner.wait_idle(timeout=120)

    status = client.get(f"{PREFIX}/status/{runs['alice']}", headers=auth("alice")).json()
    assert status["status"] == "success" and status["error"] is None
    assert status["message"] == "Video generation completed"
    assert status["video_url"] == f"{PREFIX}/videos/{job['job_id']}"
    assert [j["job_id"] for j in status["jobs"]] == [job["job_id"]]

    video = client.get(status["video_url"], headers=auth("alice"))
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.headers["accept-ranges"] == "bytes"
    part = client.get(status["video_url"], headers={**auth("alice"), "Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == video.content[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(video.content)}"
    thumb = client.get(status["thumbnail_url"], headers=auth("alice"))
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"

    # Another user sees none of it.
    for url in (f"{PREFIX}/status/{runs['alice']}", status["video_url"], status["thumbnail_url"]):
        assert client.get(url, headers=auth("bob")).status_code == 404


def test_language_defaults_to_the_run_and_seconds_may_be_a_number(
    app_and_runs: tuple[TestClient, JobRunner, dict[str, int]],
) -> None:
    client, runner, runs = app_and_runs
    body = {"run_id": runs["bob"], "drill_text": "プランク", "size": "720x1280", "seconds": 4}
    job = client.post(f"{PREFIX}/generate", json=body, headers=auth("bob")).json()
    assert job["language"] == "ja" and job["seconds"] == "4" and job["drill_id"] == "plank"
    assert job["message"] in ("動画の生成を待っています", "動画を生成しています")
    runner.wait_idle(timeout=120)


def test_errors_have_codes(app_and_runs: tuple[TestClient, JobRunner, dict[str, int]]) -> None:
    client, _, runs = app_and_runs
    headers = auth("alice")
    unknown = {**SEED_REQUEST, "run_id": runs["alice"], "drill_text": "Underwater basket weaving"}
    response = client.post(f"{PREFIX}/generate", json=unknown, headers=headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "unknown_drill" and "Suggestions:" in error["message"]
    # Messages follow the caller's language (bob's account is in Japanese).
    theirs_unknown = {**unknown, "run_id": runs["bob"]}
    response = client.post(f"{PREFIX}/generate", json=theirs_unknown, headers=auth("bob"))
    assert "候補" in response.json()["error"]["message"]

    bad_size = {**SEED_REQUEST, "run_id": runs["alice"], "size": "640x480"}
    response = client.post(f"{PREFIX}/generate", json=bad_size, headers=headers)
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"

    theirs = {**SEED_REQUEST, "run_id": runs["bob"]}
    response = client.post(f"{PREFIX}/generate", json=theirs, headers=headers)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert client.get(f"{PREFIX}/status/{runs['alice']}", headers=headers).status_code == 404
    assert client.get(f"{PREFIX}/videos/999", headers=headers).status_code == 404


def test_the_same_request_is_answered_from_the_cache(
    app_and_runs: tuple[TestClient, JobRunner, dict[str, int]],
) -> None:
    client, runner, runs = app_and_runs
    body = {**SEED_REQUEST, "run_id": runs["alice"]}
    first = client.post(f"{PREFIX}/generate", json=body, headers=auth("alice")).json()
    assert runner.wait_idle(timeout=120)
    # Bob asks for the same drill, size, length and language: the stored video, at once.
    again = {**body, "run_id": runs["bob"], "language": "en"}
    cached = client.post(f"{PREFIX}/generate", json=again, headers=auth("bob"))
    assert cached.status_code == 202 and cached.json()["status"] == "success"
    mine = client.get(f"{PREFIX}/videos/{first['job_id']}", headers=auth("alice")).content
    theirs = client.get(cached.json()["video_url"], headers=auth("bob")).content
    assert theirs == mine and len(mine) > 10_000
    # A different language is a different video (the captions differ).
    other = client.post(f"{PREFIX}/generate", json={**again, "language": "ja"}, headers=auth("bob"))
    assert other.json()["status"] in ("queued", "running")
    assert runner.wait_idle(timeout=120)


def test_drills_lists_what_can_be_generated(
    app_and_runs: tuple[TestClient, JobRunner, dict[str, int]],
) -> None:
    client, _, _ = app_and_runs
    assert client.get(f"{PREFIX}/drills").status_code == 401
    drills = client.get(f"{PREFIX}/drills?lang=ja", headers=auth("alice")).json()
    by_id = {d["drill_id"]: d for d in drills}
    assert len(drills) == len(list_drills()) and by_id["plank"]["name"] == "プランク"
    assert by_id["plank"]["own_motion"] is True and by_id["plank"]["motion"] == "plank"
    assert by_id["plank"]["sizes"] == ["1280x720", "720x1280"]
    assert by_id["plank"]["seconds"] == ["4", "8", "12"]
    assert by_id["plank"]["generators"] == ["local"]
