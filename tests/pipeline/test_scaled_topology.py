"""The scaled-out shape as real processes: gateway, six services, two Celery workers, Redis,
PostgreSQL and S3 (moto). A clip goes through it with the same metrics, byte for byte, as the
one-process default, and survives a SIGKILLed pose worker and a Redis restart."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from formcoach.kit.db import get_engine, session_scope
from tests.support.apputil import run_folder_key
from tests.support.scaled import Topology

pytestmark = pytest.mark.slow

CLIP_FIELDS = {"movement": "auto", "language": "en"}


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    topo = Topology(tmp_path_factory.mktemp("topology"))
    try:
        # A pose-only worker and one taking every queue (no --queues).
        topo.start([("pose", "pose_estimation", 1), ("all", None, 2)])
        yield topo
    finally:
        get_engine(topo.db_url).dispose()
        topo.stop()


@pytest.fixture(scope="module")
def one_process(
    tmp_path_factory: pytest.TempPathFactory, fixture_videos: dict[str, Path]
) -> dict[str, Any]:
    """The reference: the same clip through the one-process default (SQLite, local folder)."""
    from formcoach.gateway.offline import analyze_file

    root = tmp_path_factory.mktemp("reference")
    report = analyze_file(
        fixture_videos["single_person"],
        root / "out",
        root / "work",
        show_progress=False,
        **{"movement": "auto", "language": "en"},
    )
    (files,) = (root / "work" / "files" / "runs").iterdir()  # the one run's folder
    return {
        "report": report,
        "analysis": (files / "analysis.json").read_bytes(),
    }


def _assert_same_as_one_process(
    topo: Topology, client: httpx.Client, run_id: int, reference: dict[str, Any]
) -> None:
    key = run_folder_key(topo.db_url, run_id)
    assert topo.s3_object(f"runs/{key}/analysis.json") == reference["analysis"]
    report = client.get(f"/api/runs/{run_id}/report").json()
    assert json.dumps(report["metrics"], sort_keys=True) == json.dumps(
        reference["report"]["metrics"], sort_keys=True
    )


def _stage_attempts(topo: Topology, run_id: int) -> dict[str, int]:
    from formcoach.runs.models import RunStage

    with session_scope(topo.db_url) as session:
        rows = session.scalars(select(RunStage).where(RunStage.run_id == run_id))
        return {row.name: row.attempts for row in rows}


def _video_job_count(topo: Topology, run_id: int) -> int:
    from formcoach.video_generation.models import VideoJob

    with session_scope(topo.db_url) as session:
        count = session.scalar(
            select(func.count()).select_from(VideoJob).where(VideoJob.run_id == run_id)
        )
        return int(count or 0)


def _wait_for_stage(topo: Topology, client: httpx.Client, run_id: int, stage: str) -> str:
    """Wait until a worker is inside ``stage``; returns its lease holder (host:pid)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = client.get(f"/api/runs/{run_id}").json()
        holder = topo.redis_get(f"formcoach:job:lease:run:{run_id}")
        if body["stage"] == stage and holder:
            return holder
        assert body["status"] not in ("completed", "failed"), body
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never reached {stage}")


def test_topology_gives_one_process_metrics(
    topology: Topology, one_process: dict[str, Any], fixture_videos: dict[str, Path]
) -> None:
    with topology.client() as client:
        run_id = topology.upload(client, fixture_videos["single_person"], **CLIP_FIELDS)
        run = topology.wait_run(client, run_id)
        assert run["status"] == "completed", run
        _assert_same_as_one_process(topology, client, run_id, one_process)
        assert set(_stage_attempts(topology, run_id).values()) == {1}
        # Service routes go through the gateway's proxy, with the caller's credentials.
        info = client.get("/api/pose-estimation/")
        assert info.status_code == 200 and info.json()["service"] == "pose_estimation"
        video = client.get(f"/api/runs/{run_id}/files/annotated.mp4")
        assert video.status_code == 200 and len(video.content) > 1000
        # A drill video asked for through the proxied service goes to a Celery worker too.
        job = client.post(
            "/api/video-generation/generate",
            json={"run_id": run_id, "drill_text": "plank", "size": "720x1280", "seconds": "4"},
        )
        assert job.status_code == 202, job.text
        deadline = time.monotonic() + 120
        while (status := client.get(f"/api/video-generation/status/{run_id}").json())[
            "status"
        ] not in ("success", "failed"):
            assert time.monotonic() < deadline, status
            time.sleep(0.5)
        assert status["status"] == "success", status
        drill = client.get(status["video_url"])
        assert drill.status_code == 200 and drill.content[4:8] == b"ftyp"
    # A service reached directly is no back door: it checks credentials itself.
    direct = topology.service_urls["pose_estimation"]
    assert httpx.get(f"{direct}/api/pose-estimation/").status_code == 401
    ok = httpx.get(f"{direct}/api/pose-estimation/", auth=("admin", "root-test-pw9"))
    assert ok.status_code == 200


def test_sigkilled_pose_worker_loses_nothing(
    topology: Topology, one_process: dict[str, Any], fixture_videos: dict[str, Path]
) -> None:
    with topology.client() as client:
        run_id = topology.upload(client, fixture_videos["single_person"], **CLIP_FIELDS)
        holder = _wait_for_stage(topology, client, run_id, "pose")
        pid = int(holder.rsplit(":", 1)[1])
        victim = next(name for name in ("pose", "all") if os.getsid(pid) in topology.sessions(name))
        time.sleep(1.0)  # well inside the pose stage
        topology.kill_group(victim)
        # The machine's supervisor (compose's restart policy) starts a fresh worker.
        topology.restart(victim)
        run = topology.wait_run(client, run_id)
        assert run["status"] == "completed", run
        attempts = _stage_attempts(topology, run_id)
        assert attempts["pose"] == 2, attempts
        assert all(n == 1 for stage, n in attempts.items() if stage != "pose"), attempts
        report = client.get(f"/api/runs/{run_id}/report").json()
        assert _video_job_count(topology, run_id) == len(report["drills"])
        _assert_same_as_one_process(topology, client, run_id, one_process)


def test_redis_restart_during_a_run(
    topology: Topology, one_process: dict[str, Any], fixture_videos: dict[str, Path]
) -> None:
    with topology.client() as client:
        run_id = topology.upload(client, fixture_videos["single_person"], **CLIP_FIELDS)
        _wait_for_stage(topology, client, run_id, "pose")
        topology.stop_redis()  # every queued message and marker is gone
        time.sleep(3)
        topology.start_redis()
        run = topology.wait_run(client, run_id)
        assert run["status"] == "completed", run
        _assert_same_as_one_process(topology, client, run_id, one_process)
        report = client.get(f"/api/runs/{run_id}/report").json()
        assert _video_job_count(topology, run_id) == len(report["drills"])
