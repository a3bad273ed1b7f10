"""Structured logs with the run id on every line of a run, /metrics and /api/ready.

One real run through the one-process app (real pose model, real files) is watched from the
outside: its log lines, and the Prometheus figures before and after it.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.gateway.ops import readiness
from formcoach.kit.observability import JsonFormatter, current_context, log_context
from formcoach.kit.settings import Settings
from formcoach.pipeline.celery_app import create_celery
from formcoach.pipeline.runners import JobRunner
from tests.conftest import make_settings
from tests.support.apputil import ADMIN, basic, upload, wait_for_run
from tests.support.ports import free_port

METRICS_TOKEN = "scrape-token-for-tests"


class Lines(logging.Handler):
    """Formats every record as the production handler would, and keeps the thread's name."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.threadName or "", json.loads(self.format(record))))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Settings]]:
    settings = make_settings(
        tmp_path_factory.mktemp("obs") / "data",
        metrics_token=METRICS_TOKEN,
        drill_video_seconds="4",
    )
    prepare(settings)
    with TestClient(create_app(settings)) as client:
        yield client, settings


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_a_run_logs_json_lines_with_its_id_and_moves_the_metrics(
    app: tuple[TestClient, Settings], fixture_videos: dict[str, Path]
) -> None:
    client, _ = app
    before = scrape(client)
    lines = Lines()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(lines)
    root.setLevel(logging.INFO)
    try:
        created = upload(client, fixture_videos["single_person"], ADMIN, language="en")
        run_id = created.json()["id"]
        assert wait_for_run(client, run_id, ADMIN)["status"] == "completed"
    finally:
        root.removeHandler(lines)
        root.setLevel(old_level)

    of_run = [entry for thread, entry in lines.lines if thread.startswith("formcoach-job")]
    assert len(of_run) >= 7  # at least one "stage done" line per stage
    for entry in of_run:
        assert {"time", "level", "logger", "message"} <= entry.keys()
        assert entry["run_id"] == run_id, entry
    done = [e for e in of_run if "done in" in e["message"]]
    assert {e["stage"] for e in done} == {
        "probe",
        "pose",
        "features",
        "annotate",
        "analysis",
        "advice",
        "drill_videos",
    }
    assert all(e["user_id"] == 1 for e in done)  # the admin, the first user

    after = scrape(client)
    completed = ("formcoach_runs", (("state", "completed"),))
    assert after[completed] == before.get(completed, 0) + 1
    pose_count = ("formcoach_stage_duration_seconds_count", (("stage", "pose"),))
    assert after[pose_count] == before[pose_count] + 1
    pose_sum = ("formcoach_stage_duration_seconds_sum", (("stage", "pose"),))
    assert after[pose_sum] > before[pose_sum]
    local_done = ("formcoach_generator_jobs", (("generator", "local"), ("status", "completed")))
    assert after[local_done] >= 1
    assert ("formcoach_queue_depth", (("queue", "run"),)) in after


def test_metrics_need_an_admin_or_the_scrape_token(app: tuple[TestClient, Settings]) -> None:
    client, _ = app
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
    made = client.post(
        "/api/users",
        headers=ADMIN,
        json={"username": "metrics-user", "password": "scraper-pass-1x", "language": "en"},
    )
    assert made.status_code == 201
    plain = client.get("/metrics", headers=basic("metrics-user", "scraper-pass-1x"))
    assert plain.status_code == 403 and plain.json()["error"]["code"] == "forbidden"
    assert client.get("/metrics", headers=ADMIN).status_code == 200


def test_ready_names_the_failing_component(app: tuple[TestClient, Settings]) -> None:
    client, settings = app
    ok = client.get("/api/ready")
    assert ok.status_code == 200
    assert ok.json() == {
        "status": "ready",
        "checks": {"database": "ok", "storage": "ok", "broker": "not_configured"},
    }
    assert client.get("/api/health").status_code == 200
    database = settings.data_dir / "formcoach.db"
    moved = database.with_suffix(".away")
    shutil.move(database, moved)  # the database file is gone (disk unmounted, deleted...)
    try:
        down = client.get("/api/ready", headers={"Accept-Language": "en"})
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "not_ready"
        assert "database" in down.json()["error"]["message"]
        assert client.get("/api/health").status_code == 200  # alive, only not ready
    finally:
        shutil.move(moved, database)
    assert client.get("/api/ready").status_code == 200


def test_ready_reports_an_unreachable_broker(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    settings = make_settings(tmp_path / "data", broker_url=f"redis://127.0.0.1:{port}/0")
    prepare(settings)
    assert readiness(settings) == {"database": "ok", "storage": "ok", "broker": "unavailable"}


def test_celery_tasks_carry_the_run_id_in_their_log_context(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, broker_url="redis://127.0.0.1:1/0")
    celery = create_celery(settings, ("pose_estimation",))
    seen: list[dict[str, Any]] = []

    @celery.task(name="formcoach.stage.pose")
    def pose(run_id: int) -> None:
        seen.append(current_context())

    pose.apply(args=[42])  # in-process, through Celery's tracer and its signals
    assert seen == [{"run_id": 42, "stage": "pose"}]
    assert current_context() == {}


def test_nested_log_context_is_restored() -> None:
    with log_context(run_id=7):
        with log_context(stage="pose"):
            assert current_context() == {"run_id": 7, "stage": "pose"}
        assert current_context() == {"run_id": 7}
    assert current_context() == {}


def test_the_job_runner_reports_its_queue_depth() -> None:
    runner = JobRunner(1, resume=False)
    runner.register("run", lambda _id, _key: None, list)
    runner.enqueue("run", 1)
    runner.enqueue("run", 2)
    assert runner.depth() == {"run": 2}
    runner.start()
    assert runner.wait_idle(timeout=10)
    runner.stop()
    assert runner.depth() == {"run": 0}
