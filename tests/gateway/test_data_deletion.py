"""Deleting a run or a user removes every file and row that belonged to it, and nothing else.

Checked by listing the storage folder and every table (reflected from the real database, so
tables added later are covered too) before and after, on the real one-process app with real
pipeline runs. A run deleted while its pose stage runs must stop, and nothing of it may be
written again afterwards.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select

from formcoach.accounts import service as accounts_service
from formcoach.accounts.users import User
from formcoach.bootstrap import prepare
from formcoach.gateway import service
from formcoach.kit.db import get_engine, session_scope
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage, S3Storage, get_storage
from formcoach.runs import service as runs_service
from formcoach.runs.models import Run
from formcoach.video_generation.models import VideoJob
from formcoach.video_generation.records import record_success
from tests.conftest import make_settings
from tests.pipeline.test_storage_s3 import s3_endpoint, s3_settings  # noqa: F401  (a fixture)
from tests.support.apputil import (
    ADMIN,
    basic,
    fresh_pg_database,
    run_folder_key,
    upload,
    wait_for_run,
)

PASSWORD = "deletion-test-pass-9"


def files(settings: Settings) -> set[str]:
    root = settings.files_dir
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def rows(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as dicts (reflected: the real schema, not the models)."""
    meta = MetaData()
    engine = get_engine(settings.db_url)
    meta.reflect(bind=engine)
    with engine.connect() as conn:
        return {
            name: [dict(r._mapping) for r in conn.execute(select(table))]
            for name, table in meta.tables.items()
        }


def referring(snapshot: dict[str, list[dict[str, Any]]], column: str, value: int) -> list[str]:
    """Tables (with row ids) that still hold a row whose ``column`` is ``value``."""
    return [
        f"{table}:{row.get('id')}"
        for table, table_rows in snapshot.items()
        for row in table_rows
        if row.get(column) == value
    ]


def job_folders(settings: Settings, run_id: int) -> set[str]:
    with session_scope(settings.db_url) as session:
        jobs = session.scalars(select(VideoJob).where(VideoJob.run_id == run_id))
        return {
            key.rsplit("/", 1)[0]
            for job in jobs
            for key in (job.storage_key, job.thumbnail_key, f"videos/{job.id}/x")
            if key
        }


def used_elsewhere(settings: Settings, run_id: int) -> set[str]:
    """Video folders that jobs of other runs point at (shared cached videos)."""
    with session_scope(settings.db_url) as session:
        keys = session.scalars(select(VideoJob.storage_key).where(VideoJob.run_id != run_id))
        return {k.rsplit("/", 1)[0] for k in keys if k}


def make_user(client: TestClient, name: str) -> dict[str, str]:
    response = client.post(
        "/api/users",
        headers=ADMIN,
        json={"username": name, "password": PASSWORD, "language": "en"},
    )
    assert response.status_code == 201, response.text
    return basic(name, PASSWORD)


def web_sign_in(app_client: TestClient, username: str) -> tuple[TestClient, str]:
    """A browser-like client (own cookies) signed in through the form; returns the CSRF token."""
    web = TestClient(app_client.app)  # no lifespan: the shared app's job runner keeps running
    token = re.search(r'name="csrf" value="([^"]+)"', web.get("/login").text)
    assert token is not None
    signed = web.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf": token.group(1)},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    page = re.search(r'name="csrf-token" content="([^"]+)"', web.get("/").text)
    assert page is not None
    return web, page.group(1)


def test_deleting_a_run_in_the_web_app_removes_its_files_and_rows_only(
    live_app: tuple[TestClient, Settings],
    completed_runs: dict[str, dict[str, Any]],
    fixture_videos: dict[str, Path],
) -> None:
    client, settings = live_app
    owner = make_user(client, "deletion-web")
    created = upload(client, fixture_videos["single_person"], owner, language="en")
    assert created.status_code == 202, created.text
    run_id = created.json()["id"]
    folder = f"runs/{run_folder_key(settings.db_url, run_id)}"
    assert wait_for_run(client, run_id, owner)["status"] == "completed"
    before_files, before_rows = files(settings), rows(settings)
    own_folders = job_folders(settings, run_id) - used_elsewhere(settings, run_id)
    own = {
        f for f in before_files if f.startswith(f"{folder}/") or f.rsplit("/", 1)[0] in own_folders
    }
    # Upload, proxy, stage artifacts, annotated video and the run's own drill videos.
    for name in ("upload.bin", "proxy.mp4", "pose.npz", "features.json", "annotated.mp4"):
        assert f"{folder}/{name}" in own
    assert any(f.endswith("drill.mp4") for f in own), "the en run renders its own drill videos"
    assert referring(before_rows, "run_id", run_id)

    web, csrf = web_sign_in(client, "deletion-web")
    refused = web.delete(f"/api/runs/{run_id}")  # no CSRF token: a cross-site request
    assert refused.status_code == 401
    deleted = web.delete(f"/api/runs/{run_id}", headers={"X-CSRF-Token": csrf})
    assert deleted.status_code == 204, deleted.text

    after_files, after_rows = files(settings), rows(settings)
    assert after_files == before_files - own
    assert referring(after_rows, "run_id", run_id) == []
    assert all(r["id"] != run_id for r in after_rows["runs"])
    assert client.get(f"/api/runs/{run_id}", headers=owner).status_code == 404
    # Other runs, and the cached drill videos they show, are untouched and still served.
    for other in completed_runs.values():
        report = client.get(f"/api/runs/{other['id']}/report", headers=ADMIN)
        assert report.status_code == 200
        status = client.get(f"/api/video-generation/status/{other['id']}", headers=ADMIN)
        for video in status.json()["jobs"]:
            if video["video_url"]:
                assert client.get(video["video_url"], headers=ADMIN).status_code == 200


def test_a_run_deleted_during_pose_estimation_stops_and_leaves_nothing(
    live_app: tuple[TestClient, Settings], fixture_videos: dict[str, Path]
) -> None:
    client, settings = live_app
    owner = make_user(client, "deletion-running")
    created = upload(client, fixture_videos["two_people"], owner, language="ja")
    assert created.status_code == 202, created.text
    run_id = created.json()["id"]
    folder = f"runs/{run_folder_key(settings.db_url, run_id)}"
    deadline = time.monotonic() + 120
    while True:
        state = client.get(f"/api/runs/{run_id}", headers=owner).json()
        assert state["status"] in ("queued", "running"), state
        if state["stage"] == "pose":
            break
        assert time.monotonic() < deadline, "the run never reached pose estimation"
        time.sleep(0.05)
    assert client.delete(f"/api/runs/{run_id}", headers=owner).status_code == 204
    # The worker notices at its next progress write and stops; wait until it has.
    assert client.app.state.jobs.wait_idle(timeout=300)  # type: ignore[attr-defined]
    time.sleep(1.0)  # nothing may appear after the worker let go either
    assert [f for f in files(settings) if f.startswith(f"{folder}/")] == []
    assert not (settings.files_dir / "runs" / str(run_id)).exists()
    assert referring(rows(settings), "run_id", run_id) == []
    assert list((settings.data_dir / "tmp").glob("*")) == []


def test_deleting_a_user_removes_their_runs_files_rows_and_tokens(
    live_app: tuple[TestClient, Settings],
    completed_runs: dict[str, dict[str, Any]],
    fixture_videos: dict[str, Path],
) -> None:
    client, settings = live_app
    user = make_user(client, "deletion-user")
    token = client.post("/api/tokens", headers=user, json={"name": "phone"}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    # Same language as the shared runs: its drill videos come from their cache.
    created = upload(client, fixture_videos["single_person"], bearer, language="ja")
    run_id = created.json()["id"]
    folder = f"runs/{run_folder_key(settings.db_url, run_id)}"
    assert wait_for_run(client, run_id, bearer)["status"] == "completed"
    with session_scope(settings.db_url) as session:
        user_id = session.scalars(select(User.id).where(User.username == "deletion-user")).one()
    before_files, before_rows = files(settings), rows(settings)
    shared = used_elsewhere(settings, run_id)
    assert referring(before_rows, "user_id", user_id)  # runs, video_jobs, api_tokens

    assert client.delete(f"/api/users/{user_id}", headers=ADMIN).status_code == 204

    after_files, after_rows = files(settings), rows(settings)
    assert referring(after_rows, "user_id", user_id) == []
    assert referring(after_rows, "run_id", run_id) == []
    assert all(r["id"] != user_id for r in after_rows["users"])
    assert [f for f in after_files if f.startswith(f"{folder}/")] == []
    # Only the run's files went; the cached videos other runs show stayed.
    removed = before_files - after_files
    assert all(f.startswith(f"{folder}/") or f.rsplit("/", 1)[0] not in shared for f in removed)
    assert {f for f in before_files if f.rsplit("/", 1)[0] in shared} <= after_files
    assert client.get("/api/me", headers=bearer).status_code == 401
    for other in completed_runs.values():
        assert client.get(f"/api/runs/{other['id']}/report", headers=ADMIN).status_code == 200


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """A migrated database with its admin: SQLite in the data dir, or a fresh PostgreSQL one."""
    if request.param == "sqlite":
        settings = make_settings(tmp_path / "data")
        prepare(settings)
        yield settings
        return
    with fresh_pg_database("formcoach_del") as url:
        settings = make_settings(tmp_path / "data", database_url=url)
        prepare(settings)
        yield settings


def _run_with_job(settings: Settings, storage_key: str | None) -> tuple[int, int]:
    with session_scope(settings.db_url) as session:
        admin = session.scalars(select(User).where(User.username == "admin")).one()
        run = Run(user_id=admin.id, language="en", movement="plank", status="completed")
        session.add(run)
        session.flush()
        job = VideoJob(run_id=run.id, user_id=admin.id, drill_id="plank", status="completed")
        session.add(job)
        session.flush()
        job.storage_key = storage_key or f"videos/{job.id}/drill.mp4"
        job.thumbnail_key = job.storage_key.replace("drill.mp4", "thumbnail.jpg")
        return run.id, job.id


def _delete(settings: Settings, run_id: int) -> None:
    storage = LocalStorage(settings.files_dir)
    with session_scope(settings.db_url) as session:
        run = session.get(Run, run_id)
        assert run is not None
        folders = service.delete_run(session, storage, run, settings)
    runs_service.delete_folders(storage, folders)


def test_a_shared_cached_video_goes_with_the_last_run_that_shows_it(migrated: Settings) -> None:
    storage = LocalStorage(migrated.files_dir)
    first, job = _run_with_job(migrated, None)
    for name in ("drill.mp4", "thumbnail.jpg"):
        storage.put_bytes(f"videos/{job}/{name}", b"video bytes")
    second, _ = _run_with_job(migrated, f"videos/{job}/drill.mp4")  # served from the cache

    _delete(migrated, first)  # the run that rendered it: the other run still shows it
    assert files(migrated) == {f"videos/{job}/drill.mp4", f"videos/{job}/thumbnail.jpg"}
    _delete(migrated, second)  # the last one: the files go too
    assert files(migrated) == set()
    assert not (migrated.files_dir / "videos" / str(job)).exists()


def test_deleting_a_user_leaves_no_row_of_theirs(migrated: Settings) -> None:
    storage = LocalStorage(migrated.files_dir)
    with session_scope(migrated.db_url) as session:
        user = accounts_service.create_user(session, "leaving", PASSWORD, "en")
        accounts_service.create_token(session, user, "laptop")
        user_id = user.id
        run = Run(user_id=user_id, language="en", movement="plank", status="completed")
        session.add(run)
        session.flush()
        session.add(VideoJob(run_id=run.id, user_id=user_id, drill_id="plank"))
        run_id, folder = run.id, run.folder
    storage.put_bytes(f"{folder}/upload.bin", b"their video")
    assert set(referring(rows(migrated), "user_id", user_id)) >= {"runs:1", "api_tokens:1"}

    with session_scope(migrated.db_url) as session:
        folders = service.delete_user(session, storage, user_id, migrated)
    runs_service.delete_folders(storage, folders)
    after = rows(migrated)
    assert referring(after, "user_id", user_id) == []
    assert referring(after, "run_id", run_id) == []
    assert [u["username"] for u in after["users"]] == ["admin"]
    assert files(migrated) == set()


def test_a_video_finished_after_its_run_was_deleted_is_removed(migrated: Settings) -> None:
    storage = LocalStorage(migrated.files_dir)
    run_id, job = _run_with_job(migrated, None)
    _delete(migrated, run_id)
    # The renderer was still running: it writes its files, then records the result.
    storage.put_bytes(f"videos/{job}/drill.mp4", b"late video")
    assert record_success(migrated, job) is False
    assert files(migrated) == set()


def test_s3_deletion_also_removes_the_local_download_cache(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    endpoint = request.getfixturevalue("s3_endpoint")  # moto's S3 server (test_storage_s3)
    storage = get_storage(s3_settings(tmp_path / "data", endpoint, "deletion"))
    assert isinstance(storage, S3Storage)
    storage.put_bytes("runs/5/upload.bin", b"their video")
    storage.put_bytes("runs/50/upload.bin", b"another run")
    cached = storage.local_path("runs/5/upload.bin")  # what a stage reads: a local copy
    kept = storage.local_path("runs/50/upload.bin")
    storage.delete_prefix("runs/5")
    assert storage.list("runs/5") == [] and not storage.exists("runs/5/upload.bin")
    assert not cached.exists()
    assert kept.exists() and storage.exists("runs/50/upload.bin")
