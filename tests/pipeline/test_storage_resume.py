"""Issue 23 item 5: a run whose stage finds the disk full shows storage_full (ja and en), stays
resumable and completes by itself, with a correct report, once space is freed. A real tmpfs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.kit.backoff import doubling_backoff
from formcoach.kit.errors import render_message
from tests.conftest import SINGLE_PERSON, make_settings
from tests.pipeline.test_celery_backend import redis_url
from tests.runs.test_gateway_runs import check_report_contract
from tests.support.apputil import ADMIN, ADMIN_PW, upload, wait_for_run

__all__ = ["redis_url"]  # the private redis-server fixture


def test_doubling_backoff_is_shared_and_capped() -> None:
    assert [doubling_backoff(2.0, n) for n in range(4)] == [2.0, 4.0, 8.0, 16.0]
    assert doubling_backoff(5.0, 10, 120.0) == 120.0
    assert doubling_backoff(1.0, 10_000) == 2.0**30  # no float overflow


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def _fill(mnt: Path) -> Path:
    filler = mnt / "filler"
    with filler.open("wb", buffering=0) as fh, pytest.raises(OSError):
        while True:
            fh.write(b"\0" * 65536)
    return filler


def _wait_storage_full(client: TestClient, run_id: int, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/runs/{run_id}", headers=ADMIN).json()
        assert body["status"] != "failed", body
        if (body.get("error") or {}).get("code") == "storage_full":
            return body
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never showed storage_full")


def test_run_waits_for_space_then_completes_by_itself(tmp_path: Path, small_disk: Path) -> None:
    settings = make_settings(
        small_disk,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        min_free_disk_mb=1,
        storage_retry_backoff_s=0.2,
        storage_retry_max_s=1.0,
    )
    prepare(settings)
    # Accepted while there is space; the job runner starts only once the disk is full.
    with TestClient(create_app(settings, start_jobs=False)) as client:
        en = upload(client, SINGLE_PERSON, ADMIN, movement="auto", language="en")
        ja = upload(client, SINGLE_PERSON, ADMIN, movement="auto", language="ja")
        assert en.status_code == ja.status_code == 202, en.text
    filler = _fill(small_disk)
    with TestClient(create_app(settings)) as client:
        waiting = {
            lang: _wait_storage_full(client, r.json()["id"]) for lang, r in (("en", en), ("ja", ja))
        }
        for lang, body in waiting.items():
            assert body["status"] in ("queued", "running"), body
            assert body["error"]["message"] == render_message("storage_full", lang)
        assert "resume by themselves" in waiting["en"]["error"]["message"]
        assert "自動で再開" in waiting["ja"]["error"]["message"]
        # Still waiting a few backoff periods later: never given up as failed.
        time.sleep(3)
        again = client.get(f"/api/runs/{en.json()['id']}", headers=ADMIN).json()
        assert again["status"] != "failed" and again["error"]["code"] == "storage_full"
        filler.unlink()
        reports = {}
        for lang, r in (("en", en), ("ja", ja)):
            run_id = r.json()["id"]
            done = wait_for_run(client, run_id, ADMIN, timeout=400)
            assert done["status"] == "completed", done
            assert done["error"] is None, done
            report = client.get(f"/api/runs/{run_id}/report", headers=ADMIN)
            assert report.status_code == 200, report.text
            check_report_contract(report.json(), run_id)
            assert report.json()["language"] == lang
            reports[lang] = report.json()
        # The same clip, each resumed after its wait: the same measurements.
        assert reports["en"]["video"] == reports["ja"]["video"]
        assert {k: m["value"] for k, m in reports["en"]["metrics"].items()} == {
            k: m["value"] for k, m in reports["ja"]["metrics"].items()
        }


def test_celery_worker_waits_for_space_then_completes(
    tmp_path: Path, small_disk: Path, redis_url: str
) -> None:
    """The scaled-out shape: the stage runs in a real Celery worker process, whose retry with
    the storage backoff never gives up while the disk is full."""
    settings = make_settings(
        small_disk,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        broker_url=redis_url,
        min_free_disk_mb=1,
        storage_retry_backoff_s=0.2,
        storage_retry_max_s=1.0,
    )
    prepare(settings)
    env = {
        **os.environ,
        "FORMCOACH_DATA_DIR": str(small_disk),
        "FORMCOACH_DATABASE_URL": settings.db_url,
        "FORMCOACH_BROKER_URL": redis_url,
        "FORMCOACH_ADMIN_PASSWORD": ADMIN_PW,
        "FORMCOACH_MIN_FREE_DISK_MB": "1",
        "FORMCOACH_STORAGE_RETRY_BACKOFF_S": "0.2",
        "FORMCOACH_STORAGE_RETRY_MAX_S": "1.0",
    }
    log = tmp_path / "worker.log"
    with TestClient(create_app(settings)) as client:
        made = upload(client, SINGLE_PERSON, ADMIN, movement="auto", language="en")
        assert made.status_code == 202, made.text
        run_id = made.json()["id"]
        filler = _fill(small_disk)
        worker = subprocess.Popen(
            [sys.executable, "-m", "formcoach", "worker", "--concurrency=1"],
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            waiting = _wait_storage_full(client, run_id, timeout=180)
            assert waiting["error"]["message"] == render_message("storage_full", "en")
            time.sleep(3)  # several retries later: still waiting, never failed
            again = client.get(f"/api/runs/{run_id}", headers=ADMIN).json()
            assert again["status"] != "failed" and again["error"]["code"] == "storage_full"
            filler.unlink()
            done = wait_for_run(client, run_id, ADMIN, timeout=400)
            assert done["status"] == "completed" and done["error"] is None, done
            report = client.get(f"/api/runs/{run_id}/report", headers=ADMIN)
            assert report.status_code == 200, report.text
            check_report_contract(report.json(), run_id)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
