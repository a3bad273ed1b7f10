"""The Celery backend's pieces against a real Redis: leases, the watchdog pass, sending after a
broker outage, and the database compare-and-set that keeps a redelivered stage from counting
twice."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from formcoach.bootstrap import prepare
from formcoach.kit.db import session_scope
from formcoach.kit.settings import Settings
from formcoach.pipeline.celery_app import CeleryBackend, Leases, Route, create_celery
from formcoach.pipeline.orchestrator import (
    QUEUES,
    build_celery_backend,
    finish_stage,
    first_pending_stage,
    stage_task_name,
)
from formcoach.pipeline.stages import STAGE_QUEUES, STAGES
from formcoach.runs.models import Run
from tests.support.ports import free_port
from tests.support.scaled import ADMIN_PW


@pytest.fixture()
def redis_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis did not start"
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def _settings(tmp_path: Path, broker: str, **extra: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        broker_url=broker,
        admin_password=ADMIN_PW,
        **extra,  # type: ignore[arg-type]
    )


def test_leases_mark_renew_expire(redis_url: str, tmp_path: Path) -> None:
    leases = Leases.from_settings(_settings(tmp_path, redis_url, job_lease_s=0.5))
    assert not leases.alive("run", 1)
    leases.mark_queued("run", 1)
    assert leases.alive("run", 1)
    with leases.held("run", 1, every_s=0.1):
        time.sleep(0.8)  # longer than the lease: the heartbeat keeps it
        assert leases.holder("run", 1) is not None
        assert leases.client.exists("formcoach:job:queued:run:1") == 0
    assert not leases.alive("run", 1), "released when the block ends"
    leases.renew("run", 2)
    time.sleep(0.7)
    assert not leases.alive("run", 2), "a lease nobody renews runs out"


def test_watchdog_resends_only_jobs_with_no_message_and_no_worker(
    redis_url: str, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, redis_url)
    app = create_celery(settings, QUEUES)
    leases = Leases.from_settings(settings)
    backend = CeleryBackend(app, leases, watchdog_interval_s=60)
    backend.register("k", lambda job_id: Route("formcoach.test", "analysis"), lambda: [1, 2, 3])
    leases.renew("k", 1)  # a worker is on it
    leases.mark_queued("k", 3)  # a message waits in a queue
    assert backend.sweep() == [], "first sighting only: it may be between two workers"
    assert backend.sweep() == [("k", 2)]
    assert leases.client.llen("analysis") == 1
    assert backend.sweep() == [], "sent: now it has a queued marker"


def test_enqueue_never_blocks_and_survives_a_broker_outage(tmp_path: Path) -> None:
    # Nothing listens there: the run is in the database, the watchdog sends it later.
    settings = _settings(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    prepare(settings)
    backend = build_celery_backend(settings)
    started = time.monotonic()
    backend.enqueue("drill_video", 1)
    assert time.monotonic() - started < 0.5, "the request does not wait for the broker"
    backend.stop()  # waits for the failed send, which is logged, not raised
    with pytest.raises(KeyError):
        backend.enqueue("nope", 1)


def test_stage_done_is_recorded_once(tmp_path: Path, redis_url: str) -> None:
    from formcoach.accounts.users import User
    from formcoach.kit.pipeline import RunOptions
    from formcoach.runs.service import create_run

    settings = _settings(tmp_path, redis_url)
    prepare(settings)
    with session_scope(settings.db_url) as session:
        user = session.query(User).filter_by(username="admin").one()
        run_id = create_run(session, user, RunOptions(), "clip.mp4", 10, stages=STAGES).id
    assert first_pending_stage(settings, run_id) == "probe"
    assert finish_stage(settings, run_id, "probe", {})
    assert not finish_stage(settings, run_id, "probe", {}), "a second delivery does not count"
    assert first_pending_stage(settings, run_id) == "pose"
    done: dict[str, float] = {"probe": 1.0}
    for stage in STAGES[1:]:
        assert finish_stage(settings, run_id, stage, done)
        done[stage] = 1.0
    with session_scope(settings.db_url) as session:
        run = session.get(Run, run_id)
        assert run is not None and run.status == "completed" and run.progress == 100.0
    assert first_pending_stage(settings, run_id) is None


def test_every_stage_has_a_task_on_its_service_queue(tmp_path: Path, redis_url: str) -> None:
    from formcoach.pipeline.orchestrator import celery_worker_app

    app = celery_worker_app(_settings(tmp_path, redis_url))
    for stage in STAGES:
        assert stage_task_name(stage) in app.tasks
        assert STAGE_QUEUES[stage] in QUEUES
        task = app.tasks[stage_task_name(stage)]
        assert task.acks_late and task.reject_on_worker_lost
    assert "formcoach.drill_video" in app.tasks
    assert app.conf.broker_transport_options["visibility_timeout"] >= 3600


def test_worker_supervisor_restarts_a_worker_that_stops_by_itself(tmp_path: Path) -> None:
    """Celery may exit on its own (status 0) after a broker failure; it is started again, and
    a SIGTERM to the supervisor stops both for good."""
    import signal
    import sys

    counter = tmp_path / "starts"
    child = f"open({str(counter)!r}, 'a').write('x'); import time; time.sleep(0.2)"
    script = (
        "import sys; from formcoach.pipeline.celery_app import supervise; "
        f"sys.exit(supervise([sys.executable, '-c', {child!r}], max_backoff_s=0.2))"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while not counter.exists() or len(counter.read_text()) < 3:
        assert time.monotonic() < deadline, "the worker was not started again"
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) is not None
    starts = len(counter.read_text())
    time.sleep(1.5)
    assert len(counter.read_text()) == starts, "nothing restarts after the supervisor stopped"
