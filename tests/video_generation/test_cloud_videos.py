"""The /v1/videos cloud generator, driven through the real openai SDK against a local fake.

Every scenario checks the provider-side effect that costs money: how many generation jobs
exist at the provider after formcoach is done.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import formcoach.runs.models  # noqa: F401  (registers the runs tables)
from formcoach.accounts.users import User, hash_password
from formcoach.kit.api import install_error_handlers
from formcoach.kit.db import Base, get_engine, session_scope
from formcoach.kit.errors import AppError
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage
from formcoach.kit.video_io import is_playable_h264
from formcoach.pipeline.runners import IdHandler, JobRunner
from formcoach.runs.models import Run
from formcoach.video_generation import service
from formcoach.video_generation.api import router
from formcoach.video_generation.cloud_jobs import budget_used, cancel_cloud_job
from formcoach.video_generation.models import VideoJob
from tests.support.fake_videos_server import FakeServer, FakeVideos, Scenario, make_mp4

KEY = "sk-test-formcoach"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeServer]:
    mp4 = make_mp4(tmp_path_factory.mktemp("fake") / "clip.mp4")
    with FakeServer(mp4) as running:
        yield running


def cloud_settings(tmp_path: Path, server: FakeServer, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "video_generator": "openai-videos",
        "openai_videos_base_url": server.base_url,
        "openai_videos_api_key": KEY,
        "openai_videos_model": "sora-2",
        "cloud_request_timeout_s": 2.0,
        "cloud_poll_interval_s": 0.05,
        "cloud_backoff_s": 0.05,
        "cloud_attempts": 3,
        "video_budget_seconds_per_day": 40,
    }
    values.update(overrides)
    settings = Settings(**values)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    Base.metadata.create_all(get_engine(settings.db_url))
    return settings


@pytest.fixture()
def db(tmp_path: Path, server: FakeServer) -> Iterator[Settings]:
    settings = cloud_settings(tmp_path, server)
    yield settings
    get_engine(settings.db_url).dispose()


def make_run(settings: Settings, username: str = "alice") -> tuple[int, int]:
    with session_scope(settings.db_url) as session:
        user = User(username=username, password_hash="x", language="en")
        session.add(user)
        session.flush()
        run = Run(user_id=user.id, language="en", movement="plank")
        session.add(run)
        session.flush()
        return user.id, run.id


def new_job(settings: Settings, text: str = "plank", seconds: str = "4", lang: str = "en") -> int:
    user_id, run_id = make_run(settings, f"u{time.monotonic_ns()}")
    with session_scope(settings.db_url) as session:
        job = service.create_job(
            session, user_id, run_id, text, "1280x720", seconds, lang, settings=settings
        )
        return int(job.id)


def load(settings: Settings, job_id: int) -> VideoJob:
    with session_scope(settings.db_url) as session:
        job = session.get(VideoJob, job_id)
        assert job is not None
        session.expunge(job)
        return job


def run_with(
    server: FakeServer, settings: Settings, scenario: Scenario
) -> tuple[VideoJob, FakeVideos]:
    fake = server.reset(scenario)
    job_id = new_job(settings)
    service.process_job(job_id, settings)
    return load(settings, job_id), fake


def test_a_job_is_generated_once_downloaded_verified_and_served(
    db: Settings, server: FakeServer
) -> None:
    job, fake = run_with(server, db, Scenario(polls_to_finish=3))
    assert job.status == "completed", job.error_message
    assert (fake.creates, len(fake.jobs)) == (1, 1)
    assert job.provider_job_id == "video_0001" and job.provider_status == "completed"
    assert job.billed_seconds == 4
    # The wire format the protocol wants: seconds as a string, the configured model.
    form = fake.forms[0]
    assert (form["seconds"], form["size"], form["model"]) == ("4", "1280x720", "sora-2")
    assert "Plank" in form["prompt"] and job.request_marker in form["prompt"]
    assert "Camera:" in form["prompt"] and "no text" in form["prompt"]
    assert all(a == f"Bearer {KEY}" for a in fake.auth)
    storage = LocalStorage(db.files_dir)
    path = service.video_path(storage, job)
    assert is_playable_h264(path) and path.read_bytes() == fake.mp4
    assert service.thumbnail_path(storage, job).read_bytes()[:2] == b"\xff\xd8"
    view = service.job_view(job)
    assert view["status"] == "success" and view["generator"] == "openai-videos"
    assert view["video_url"] == f"/api/video-generation/videos/{job.id}"


def test_a_create_that_times_out_is_found_again_not_sent_twice(
    tmp_path: Path, server: FakeServer
) -> None:
    settings = cloud_settings(tmp_path, server, cloud_request_timeout_s=0.4)
    job, fake = run_with(server, settings, Scenario(create_delay_s=[1.5]))
    assert job.status == "completed", job.error_message
    assert fake.creates == 1 and len(fake.jobs) == 1 and fake.lists >= 1
    assert job.provider_job_id == "video_0001" and job.billed_seconds == 4


def test_a_5xx_after_the_job_was_made_is_looked_up(db: Settings, server: FakeServer) -> None:
    job, fake = run_with(server, db, Scenario(create_errors_after=[500]))
    assert job.status == "completed"
    assert (fake.creates, len(fake.jobs)) == (1, 1)


def test_a_5xx_before_anything_was_made_is_retried(db: Settings, server: FakeServer) -> None:
    job, fake = run_with(server, db, Scenario(create_errors=[503]))
    assert job.status == "completed"
    assert (fake.creates, len(fake.jobs)) == (2, 1)


def test_persistent_5xx_becomes_provider_unavailable(db: Settings, server: FakeServer) -> None:
    job, fake = run_with(server, db, Scenario(create_errors=[500, 500, 500]))
    assert (job.status, job.error_code) == ("failed", "provider_unavailable")
    assert fake.creates == 3 and not fake.jobs and job.billed_seconds == 0


def test_403_is_provider_forbidden_with_the_providers_message(
    db: Settings, server: FakeServer
) -> None:
    job, fake = run_with(server, db, Scenario(create_errors=[403]))
    assert (job.status, job.error_code) == ("failed", "provider_forbidden")
    assert job.error_message is not None and "organization must be verified" in job.error_message
    assert fake.creates == 1 and job.billed_seconds == 0
    view = service.job_view(job)
    assert view["status"] == "failed" and view["error"]["code"] == "provider_forbidden"


def test_400_is_provider_rejected(db: Settings, server: FakeServer) -> None:
    job, fake = run_with(server, db, Scenario(create_errors=[400]))
    assert (job.status, job.error_code) == ("failed", "provider_rejected")
    assert "seconds" in (job.error_message or "") and fake.creates == 1


def test_429_waits_for_retry_after_then_succeeds(db: Settings, server: FakeServer) -> None:
    started = time.monotonic()
    job, fake = run_with(server, db, Scenario(create_errors=[429], retry_after="1"))
    assert job.status == "completed"
    assert time.monotonic() - started >= 1.0  # the backoff alone would be 0.05 s
    assert (fake.creates, len(fake.jobs)) == (2, 1)


def test_persistent_429_becomes_provider_rate_limited(db: Settings, server: FakeServer) -> None:
    job, fake = run_with(server, db, Scenario(create_errors=[429] * 3, retry_after="0"))
    assert (job.status, job.error_code) == ("failed", "provider_rate_limited")
    assert fake.creates == 3 and not fake.jobs


def test_a_retry_after_beyond_the_limit_is_not_waited_for(
    tmp_path: Path, server: FakeServer
) -> None:
    settings = cloud_settings(tmp_path, server, cloud_max_retry_after_s=5.0)
    started = time.monotonic()
    job, fake = run_with(server, settings, Scenario(create_errors=[429], retry_after="3600"))
    assert (job.status, job.error_code) == ("failed", "provider_rate_limited")
    assert time.monotonic() - started < 5.0 and fake.creates == 1


def test_a_failed_download_is_retried_without_a_new_generation(
    db: Settings, server: FakeServer
) -> None:
    job, fake = run_with(server, db, Scenario(content_errors=[500, 502]))
    assert job.status == "completed"
    assert (fake.creates, fake.downloads) == (1, 3)


def test_a_json_body_is_never_saved_as_a_video(db: Settings, server: FakeServer) -> None:
    job, fake = run_with(server, db, Scenario(content_json_200=5))
    assert (job.status, job.error_code) == ("failed", "provider_bad_content")
    assert fake.creates == 1 and fake.downloads == 3
    assert LocalStorage(db.files_dir).list(f"videos/{job.id}") == []
    # Queued again (as the pipeline does), it downloads the same provider job: no new generation.
    fake.scenario.content_json_200 = 0
    service.ensure_pipeline_job(db, job.run_id, job.drill_id, job.size, job.seconds, "en")
    service.process_job(job.id, db)
    again = load(db, job.id)
    assert again.status == "completed" and fake.creates == 1 and len(fake.jobs) == 1


def test_expired_content_is_a_clear_state(db: Settings, server: FakeServer) -> None:
    job, fake = run_with(server, db, Scenario(expired=True))
    assert (job.status, job.error_code) == ("failed", "provider_content_expired")
    assert fake.creates == 1 and LocalStorage(db.files_dir).list(f"videos/{job.id}") == []


def test_a_failed_generation_is_recorded_and_not_billed(db: Settings, server: FakeServer) -> None:
    job, _ = run_with(server, db, Scenario(fail_with="The prompt was flagged by moderation."))
    assert (job.status, job.error_code) == ("failed", "provider_failed")
    assert "moderation" in (job.error_message or "") and job.billed_seconds == 0


def test_a_job_interrupted_after_create_resumes_on_the_same_provider_job(
    db: Settings, server: FakeServer
) -> None:
    # The process died after the provider made the job but before its id was stored.
    fake = server.reset(Scenario(create_delay_s=[0.0]))
    job_id = new_job(db)
    job = load(db, job_id)
    server.fake.counter = 7
    fake.jobs["video_0007"] = {
        "id": "video_0007",
        "object": "video",
        "model": "sora-2",
        "status": "queued",
        "progress": 0,
        "created_at": int(time.time()),
        "prompt": f"... Reference: {job.request_marker}",
        "size": "1280x720",
        "seconds": "4",
        "error": None,
    }
    fake.polls["video_0007"] = 0
    with session_scope(db.db_url) as session:
        row = session.get(VideoJob, job_id)
        assert row is not None
        row.status, row.submitted_at, row.billed_seconds = "running", row.created_at, 4
    assert service.pending_job_ids(db) == [job_id]
    service.process_job(job_id, db)
    done = load(db, job_id)
    assert done.status == "completed" and done.provider_job_id == "video_0007"
    assert fake.creates == 0 and len(fake.jobs) == 1


def test_budget_of_paid_seconds_per_day(tmp_path: Path, server: FakeServer) -> None:
    settings = cloud_settings(tmp_path, server, video_budget_seconds_per_day=12)
    server.reset()
    first = new_job(settings, seconds="8")
    service.process_job(first, settings)
    assert load(settings, first).billed_seconds == 8
    new_job(settings, text="glute bridge", seconds="4")  # queued: its 4 s are reserved
    assert budget_used(settings) == 12
    with pytest.raises(AppError) as caught:
        new_job(settings, text="dead bug", seconds="4")
    assert caught.value.code == "generation_budget_exceeded" and caught.value.status == 429
    assert "12" in caught.value.message("en") and "12" in caught.value.message("ja")


def test_the_same_request_is_served_from_the_cache(db: Settings, server: FakeServer) -> None:
    job, fake = run_with(server, db, Scenario())
    again = new_job(db)  # another user's run, same drill/size/seconds/language/generator
    cached = load(db, again)
    assert cached.status == "completed" and cached.storage_key == job.storage_key
    assert fake.creates == 1
    other_language = load(db, new_job(db, lang="ja"))
    assert other_language.status == "queued"


def test_cancel_deletes_the_provider_job(db: Settings, server: FakeServer) -> None:
    job, fake = run_with(server, db, Scenario())
    assert job.provider_job_id in fake.jobs
    cancel_cloud_job(db, job.provider_job_id or "")
    assert not fake.jobs and ("DELETE", f"/v1/videos/{job.provider_job_id}") in fake.requests


def test_missing_api_key_is_provider_not_configured(tmp_path: Path, server: FakeServer) -> None:
    settings = cloud_settings(tmp_path, server, openai_videos_api_key=None)
    job, fake = run_with(server, settings, Scenario())
    assert (job.status, job.error_code) == ("failed", "provider_not_configured")
    assert fake.creates == 0


def test_the_api_answers_429_when_the_budget_is_used_up(tmp_path: Path, server: FakeServer) -> None:
    settings = cloud_settings(tmp_path, server, video_budget_seconds_per_day=4)
    server.reset()
    with session_scope(settings.db_url) as session:
        user = User(username="carol", password_hash=hash_password("pw-carol"), language="ja")
        session.add(user)
        session.flush()
        run = Run(user_id=user.id, language="ja")
        session.add(run)
        session.flush()
        run_id = run.id
    runner = JobRunner(1)
    runner.register(
        "drill_video", IdHandler(partial(service.process_job, settings=settings)), lambda: []
    )
    app = FastAPI()
    app.state.settings, app.state.jobs = settings, runner
    install_error_handlers(app)
    app.include_router(router, prefix="/api/video-generation")
    runner.start()
    headers = {"Authorization": "Basic " + base64.b64encode(b"carol:pw-carol").decode()}
    body = {"run_id": run_id, "drill_text": "plank", "size": "1280x720", "seconds": "4"}
    try:
        with TestClient(app) as client:
            first = client.post("/api/video-generation/generate", json=body, headers=headers)
            assert first.status_code == 202 and first.json()["generator"] == "openai-videos"
            assert runner.wait_idle(timeout=60)
            done = client.get(f"/api/video-generation/status/{run_id}", headers=headers).json()
            assert done["status"] == "success"
            video = client.get(done["video_url"], headers={**headers, "Range": "bytes=0-9"})
            assert video.status_code == 206 and video.content == server.fake.mp4[:10]
            other = {**body, "drill_text": "glute bridge"}
            refused = client.post("/api/video-generation/generate", json=other, headers=headers)
            assert refused.status_code == 429
            error = refused.json()["error"]
            assert error["code"] == "generation_budget_exceeded" and "4 秒" in error["message"]
            listing = client.get("/api/video-generation/drills", headers=headers).json()
            assert listing[0]["generators"] == ["local", "openai-videos"]
    finally:
        runner.stop()
    assert server.fake.creates == 1


def test_deleting_a_run_cancels_its_unfinished_provider_job(
    db: Settings, server: FakeServer
) -> None:
    fake = server.reset(Scenario())
    job_id = new_job(db)
    job = load(db, job_id)
    fake.jobs["video_0042"] = {"id": "video_0042", "object": "video", "status": "in_progress"}
    with session_scope(db.db_url) as session:
        row = session.get(VideoJob, job_id)
        assert row is not None
        row.status, row.provider_job_id = "running", "video_0042"
    with session_scope(db.db_url) as session:
        service.delete_videos_for_run(session, LocalStorage(db.files_dir), job.run_id, db)
    assert "video_0042" not in fake.jobs and ("DELETE", "/v1/videos/video_0042") in fake.requests
    with session_scope(db.db_url) as session:
        assert session.get(VideoJob, job_id) is None
