"""Retention: runs older than FORMCOACH_RETENTION_DAYS go, by the gateway's sweep and by
`formcoach purge`, with their files, stage rows and drill videos; newer runs stay."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from formcoach.accounts.users import User
from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.gateway.retention import purge_expired
from formcoach.kit.db import get_engine, session_scope
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage
from formcoach.pipeline.stages import STAGES
from formcoach.runs.models import Run, RunStage
from formcoach.video_generation.models import VideoJob
from tests.conftest import make_settings

# Run id -> run_key: a run's files live under runs/<run_key>/ (migration 0006).
KEYS: dict[int, str] = {}


def add_run(settings: Settings, age_days: float) -> int:
    """A finished run created ``age_days`` ago, with an upload, an artifact and a drill video."""
    storage = LocalStorage(settings.files_dir)
    created = datetime.now(UTC) - timedelta(days=age_days)
    with session_scope(settings.db_url) as session:
        admin = session.scalars(select(User).where(User.username == "admin")).one()
        run = Run(
            user_id=admin.id,
            status="completed",
            created_at=created,
            stages=[RunStage(name=s, position=i, status="done") for i, s in enumerate(STAGES)],
        )
        session.add(run)
        session.flush()
        job = VideoJob(run_id=run.id, user_id=admin.id, drill_id="plank", status="completed")
        session.add(job)
        session.flush()
        job.storage_key = f"videos/{job.id}/drill.mp4"
        run_id, job_id = run.id, job.id
        KEYS[run_id] = run.run_key
        # Written before the row is committed: a running sweep that saw the (expired) run
        # first would delete its folders while they are being written.
        storage.put_bytes(f"runs/{KEYS[run_id]}/upload.bin", b"the user's video")
        storage.put_bytes(f"runs/{KEYS[run_id]}/analysis.json", b"{}")
        storage.put_bytes(f"videos/{job_id}/drill.mp4", b"drill video")
    return run_id


def state(settings: Settings) -> tuple[set[int], set[str], int, int]:
    """Run ids, files, stage rows and video-job rows left."""
    root = settings.files_dir
    with session_scope(settings.db_url) as session:
        runs = set(session.scalars(select(Run.id)))
        stages = len(list(session.scalars(select(RunStage.id))))
        jobs = len(list(session.scalars(select(VideoJob.id))))
    found = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    return runs, found, stages, jobs


def migrated(tmp_path: Path, **overrides: object) -> Settings:
    settings = make_settings(tmp_path / "data", **overrides)
    prepare(settings)
    return settings


def test_purge_deletes_only_runs_older_than_the_retention_period(tmp_path: Path) -> None:
    settings = migrated(tmp_path, retention_days=30)
    old, older = add_run(settings, 31), add_run(settings, 400)
    recent = add_run(settings, 29)

    assert [p.run_id for p in purge_expired(settings, dry_run=True)] == [old, older]
    assert state(settings)[0] == {old, older, recent}  # a dry run deletes nothing

    purged = purge_expired(settings)
    assert sorted(p.run_id for p in purged) == [old, older]
    assert all(p.username == "admin" for p in purged)
    runs, found, stages, jobs = state(settings)
    assert runs == {recent}
    assert all(f.startswith(f"runs/{KEYS[recent]}/") or f.startswith("videos/") for f in found)
    assert len(found) == 3  # the recent run's upload, artifact and drill video
    assert stages == len(STAGES) and jobs == 1
    assert purge_expired(settings) == []  # nothing left to do


def test_without_a_retention_period_nothing_is_deleted(tmp_path: Path) -> None:
    settings = migrated(tmp_path)
    add_run(settings, 10_000)
    assert purge_expired(settings) == []
    assert len(state(settings)[0]) == 1


def test_formcoach_purge_prints_what_it_deleted(tmp_path: Path) -> None:
    settings = migrated(tmp_path)
    old, recent = add_run(settings, 8), add_run(settings, 1)
    env = {
        **os.environ,
        "FORMCOACH_DATA_DIR": str(settings.data_dir),
        "FORMCOACH_LOG_FORMAT": "text",
    }
    command = [sys.executable, "-m", "formcoach", "purge"]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "FORMCOACH_RETENTION_DAYS" in refused.stderr
    env["FORMCOACH_RETENTION_DAYS"] = "7"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"deleted run {old} (user admin, completed" in done.stdout
    assert "deleted 1 run(s) older than 7 day(s)" in done.stdout
    assert state(settings)[0] == {recent}


def test_the_running_gateway_sweeps_expired_runs(tmp_path: Path) -> None:
    settings = migrated(tmp_path, retention_days=2, retention_sweep_interval_s=0.2)
    recent = add_run(settings, 1)
    with TestClient(create_app(settings)):
        old = add_run(settings, 3)  # expires while the app runs: a later pass finds it
        deadline = time.monotonic() + 30
        while old in state(settings)[0]:
            assert time.monotonic() < deadline, "the sweep did not delete the expired run"
            time.sleep(0.1)
    runs, found, _, _ = state(settings)
    assert runs == {recent}
    assert not any(f.startswith(f"runs/{KEYS[old]}/") for f in found)
    get_engine(settings.db_url).dispose()
