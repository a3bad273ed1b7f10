"""Drill-video jobs: creation, drill matching, processing, idempotency, the pipeline stage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

import formcoach.runs.models  # noqa: F401  (registers the runs tables)
from formcoach.accounts.users import User
from formcoach.kit.db import Base, get_engine, session_scope
from formcoach.kit.errors import AppError
from formcoach.kit.pipeline import ADVICE, DRILL_VIDEOS, RunOptions, StageContext, run_file
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage
from formcoach.kit.video_io import is_playable_h264
from formcoach.runs.models import Run
from formcoach.video_generation import jobs, service
from formcoach.video_generation.models import VideoJob

SEED_TEXT = "Plank: a basic exercise that strengthens the core..."


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(data_dir=tmp_path / "data", drill_video_seconds="4")
    settings.data_dir.mkdir(parents=True)
    Base.metadata.create_all(get_engine(settings.db_url))
    yield settings
    get_engine(settings.db_url).dispose()


def make_run(settings: Settings, username: str = "alice", language: str = "en") -> tuple[int, int]:
    with session_scope(settings.db_url) as session:
        user = User(username=username, password_hash="x", language=language)
        session.add(user)
        session.flush()
        run = Run(user_id=user.id, language=language, movement="plank")
        session.add(run)
        session.flush()
        return user.id, run.id


def new_job(settings: Settings, user_id: int, run_id: int, text: str = SEED_TEXT) -> int:
    with session_scope(settings.db_url) as session:
        return service.create_job(session, user_id, run_id, text, "1280x720", "4").id


def test_create_job_matches_the_seed_text_and_uses_the_run_language(db: Settings) -> None:
    user_id, run_id = make_run(db, language="ja")
    job_id = new_job(db, user_id, run_id)
    with session_scope(db.db_url) as session:
        job = session.get(VideoJob, job_id)
        assert job is not None
        assert (job.drill_id, job.language, job.status, job.generator) == (
            "plank",
            "ja",
            "queued",
            "local",
        )
        assert job.drill_text == SEED_TEXT
        view = service.job_view(job)
    assert view["status"] == "queued" and view["video_url"] is None and view["error"] is None
    assert view["message"] == "動画の生成を待っています"


def test_unknown_drill_is_refused_with_suggestions(db: Settings) -> None:
    user_id, run_id = make_run(db)
    with session_scope(db.db_url) as session, pytest.raises(AppError) as caught:
        service.create_job(session, user_id, run_id, "Plonk with a twist", "1280x720", "4")
    assert caught.value.code == "unknown_drill"
    suggestions = caught.value.params["suggestions"]
    assert isinstance(suggestions, str) and "Plank" in suggestions
    assert "Suggestions: " in caught.value.message("en")


def test_someone_elses_run_is_not_found(db: Settings) -> None:
    _, run_id = make_run(db, "alice")
    bob, _ = make_run(db, "bob")
    with session_scope(db.db_url) as session, pytest.raises(AppError) as caught:
        service.create_job(session, bob, run_id, SEED_TEXT, "1280x720", "4")
    assert caught.value.code == "not_found"


def test_invalid_format_is_a_validation_error(db: Settings) -> None:
    user_id, run_id = make_run(db)
    with session_scope(db.db_url) as session, pytest.raises(AppError) as caught:
        service.create_job(session, user_id, run_id, SEED_TEXT, "640x480", "4")
    assert caught.value.code == "validation_error"


def test_process_job_renders_once_and_is_idempotent(
    db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, run_id = make_run(db)
    job_id = new_job(db, user_id, run_id)
    assert service.pending_job_ids(db) == [job_id]
    service.process_job(job_id, db)
    storage = LocalStorage(db.files_dir)
    with session_scope(db.db_url) as session:
        job = session.get(VideoJob, job_id)
        assert job is not None and job.status == "completed"
        assert job.storage_key == f"videos/{job_id}/drill.mp4"
        view = service.job_view(job)
        path = service.video_path(storage, job)
        assert service.thumbnail_path(storage, job).stat().st_size > 0
    assert view["status"] == "success" and view["message"] == "Video generation completed"
    assert view["video_url"] == f"/api/video-generation/videos/{job_id}"
    assert is_playable_h264(path)
    assert service.pending_job_ids(db) == []
    before = path.stat().st_mtime_ns

    def must_not_render(*args: object, **kwargs: object) -> None:
        raise AssertionError("a completed job was rendered again")

    monkeypatch.setattr(service, "render_drill_video", must_not_render)
    service.process_job(job_id, db)
    assert path.stat().st_mtime_ns == before


def test_interrupted_job_is_resumed_and_failures_are_recorded(db: Settings) -> None:
    user_id, run_id = make_run(db)
    with session_scope(db.db_url) as session:
        stuck = VideoJob(run_id=run_id, user_id=user_id, drill_id="plank", status="running")
        gone = VideoJob(run_id=run_id, user_id=user_id, drill_id="no_such_drill", language="en")
        session.add_all([stuck, gone])
        session.flush()
        stuck_id, gone_id = stuck.id, gone.id
    assert service.pending_job_ids(db) == [stuck_id, gone_id]
    service.process_job(stuck_id, db)
    service.process_job(gone_id, db)
    with session_scope(db.db_url) as session:
        done, failed = session.get(VideoJob, stuck_id), session.get(VideoJob, gone_id)
        assert done is not None and done.status == "completed"
        assert failed is not None and failed.status == "failed"
        assert failed.error_code == "unknown_drill"
        view = service.job_view(failed)
        ja_view = service.job_view(failed, "ja")
    assert view["status"] == "failed" and view["video_url"] is None
    assert view["error"]["code"] == "unknown_drill"
    assert view["message"] == "Video generation failed"
    assert ja_view["message"] == "動画の生成に失敗しました"
    assert not LocalStorage(db.files_dir).exists(f"videos/{gone_id}/drill.mp4")


def test_pipeline_stage_renders_each_drill_once(db: Settings) -> None:
    _, run_id = make_run(db, language="ja")
    storage = LocalStorage(db.files_dir)
    advice = {"drills": [{"drill_id": "plank"}, {"drill_id": "glute_bridge"}]}
    storage.put_bytes(run_file(str(run_id), ADVICE), json.dumps(advice).encode())
    seen: list[float] = []
    ctx = StageContext(run_id, RunOptions(language="ja"), storage, db, progress=seen.append)
    jobs.run(ctx)
    first = ctx.read_json(DRILL_VIDEOS)
    assert [e["drill_id"] for e in first] == ["plank", "glute_bridge"]
    assert all(e["video_url"] == f"/api/video-generation/videos/{e['job_id']}" for e in first)
    assert seen == sorted(seen) and seen[-1] == 1.0
    jobs.run(ctx)  # a re-run reuses the finished jobs
    assert ctx.read_json(DRILL_VIDEOS) == first
    with session_scope(db.db_url) as session:
        assert session.scalar(select(func.count()).select_from(VideoJob)) == 2
        job = session.get(VideoJob, first[0]["job_id"])
        assert job is not None and (job.language, job.seconds, job.size) == ("ja", "4", "1280x720")


def test_deleting_a_run_removes_its_videos(db: Settings) -> None:
    user_id, run_id = make_run(db)
    job_id = new_job(db, user_id, run_id)
    service.process_job(job_id, db)
    storage = LocalStorage(db.files_dir)
    assert storage.exists(f"videos/{job_id}/drill.mp4")
    with session_scope(db.db_url) as session:
        service.delete_videos_for_run(session, storage, run_id)
    assert not storage.exists(f"videos/{job_id}/drill.mp4")
    with session_scope(db.db_url) as session:
        assert session.get(VideoJob, job_id) is None
