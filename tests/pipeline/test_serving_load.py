"""What keeps status polls cheap and the server responsive under load (issue 8), checked for
correctness (speed itself is measured by bench/load_bench.py): the token cache and its
invalidation, the Core-query status route, the database slots that keep a bounded pool from
deadlocking, security headers on 500s, and jobs in a niced child process."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from formcoach.accounts import users as accounts
from formcoach.accounts.users import User
from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.gateway.eta import with_eta
from formcoach.kit import db
from formcoach.kit.db import get_engine, get_sessionmaker, session_scope
from formcoach.kit.settings import Settings
from formcoach.pipeline.runners import JobRunner, ProcessJobRunner
from formcoach.pipeline.stages import STAGES
from formcoach.runs import service as runs_service
from formcoach.runs.models import Run, RunStage
from tests.conftest import make_settings
from tests.support.apputil import ADMIN, basic, fresh_pg_database, upload, wait_for_run
from tests.support.ports import free_port


def _add_run(settings: Settings, username: str = "admin") -> int:
    """A run half-way through pose estimation, straight into the database."""
    with session_scope(settings.db_url) as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        run = Run(user_id=user.id, status="running", stage="pose", progress=21.5, person="Ｋｅｎ")
        run.stages = [RunStage(name=name, position=i) for i, name in enumerate(STAGES)]
        run.stages[0].status = "done"
        run.stages[0].progress = 1.0
        run.stages[1].status = "running"
        run.stages[1].progress = 0.4
        session.add(run)
        session.flush()
        return run.id


@pytest.fixture()
def app_client(settings: Settings) -> Iterator[TestClient]:
    prepare(settings)
    with TestClient(create_app(settings, start_jobs=False)) as client:
        yield client


def _token(client: TestClient, auth: dict[str, str]) -> tuple[int, dict[str, str]]:
    made = client.post("/api/tokens", headers=auth, json={"name": "poller"})
    assert made.status_code == 201, made.text
    return made.json()["id"], {"Authorization": f"Bearer {made.json()['token']}"}


def test_status_route_answers_what_the_orm_view_does(
    app_client: TestClient, settings: Settings
) -> None:
    run_id = _add_run(settings)
    _, bearer = _token(app_client, ADMIN)
    for auth in (bearer, ADMIN):  # cached token, password
        answer = app_client.get(f"/api/runs/{run_id}", headers=auth)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["x-content-type-options"] == "nosniff"
        with session_scope(settings.db_url) as session:
            view = runs_service.run_view(session.get(Run, run_id))  # type: ignore[arg-type]
        # The route adds the time remaining: no probe output here, so only what p and c allow.
        expected = with_eta(view, None, settings).model_dump(mode="json")
        assert answer.json() == expected
    body = answer.json()
    assert [s["name"] for s in body["stages"]] == list(STAGES)
    assert body["stages"][1] | {"started_at": None} == {
        "name": "pose",
        "status": "running",
        "progress": 0.4,
        "attempts": 0,
        "started_at": None,
        "finished_at": None,
        "duration_s": None,
        "error_code": None,
        # Never started by a worker, so no time spent and no estimate (rather than 0 s left).
        "elapsed_s": None,
        "eta_s": None,
    }
    assert body["eta_s"] is None and body["report_eta_s"] is None
    assert body["person"] == "Ｋｅｎ" and body["created_at"].endswith("Z")
    # Another user's run and a missing one look the same; the id is still validated.
    other = app_client.post(
        "/api/users", headers=ADMIN, json={"username": "other", "password": "second-pw-123456"}
    )
    assert other.status_code == 201, other.text
    _, other_bearer = _token(app_client, basic("other", "second-pw-123456"))
    for path, status, code in (
        (f"/api/runs/{run_id}", 404, "not_found"),
        ("/api/runs/999999", 404, "not_found"),
        ("/api/runs/abc", 422, "validation_error"),
        (f"/api/runs/{2**70}", 422, "validation_error"),
    ):
        answer = app_client.get(path, headers=other_bearer)
        assert answer.status_code == status, (path, answer.text)
        assert answer.json()["error"]["code"] == code
    anonymous = app_client.get(f"/api/runs/{run_id}")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    # Errors speak the token owner's language (the admin's: Japanese), unless ?lang= says else.
    gone = app_client.get("/api/runs/999999", headers=bearer).json()["error"]["message"]
    gone_en = app_client.get("/api/runs/999999?lang=en", headers=bearer).json()["error"]
    assert gone != gone_en["message"] and gone_en["message"].isascii()


def test_a_revoked_token_is_refused_at_once(app_client: TestClient, settings: Settings) -> None:
    run_id = _add_run(settings)
    token_id, bearer = _token(app_client, ADMIN)
    for _ in range(3):  # the first look-up fills the cache, the next ones use it
        assert app_client.get(f"/api/runs/{run_id}", headers=bearer).status_code == 200
        assert app_client.get("/api/me", headers=bearer).status_code == 200
    assert app_client.delete(f"/api/tokens/{token_id}", headers=ADMIN).status_code == 204
    assert app_client.get(f"/api/runs/{run_id}", headers=bearer).status_code == 401
    assert app_client.get("/api/me", headers=bearer).status_code == 401


def test_a_deactivated_or_deleted_user_is_refused_at_once(
    app_client: TestClient, settings: Settings
) -> None:
    made = app_client.post(
        "/api/users", headers=ADMIN, json={"username": "coach", "password": "trainer-pw-123456"}
    )
    assert made.status_code == 201, made.text
    user_id = made.json()["id"]
    run_id = _add_run(settings, "coach")
    _, bearer = _token(app_client, basic("coach", "trainer-pw-123456"))
    assert app_client.get(f"/api/runs/{run_id}", headers=bearer).status_code == 200
    off = app_client.patch(f"/api/users/{user_id}", headers=ADMIN, json={"is_active": False})
    assert off.status_code == 200, off.text
    assert app_client.get(f"/api/runs/{run_id}", headers=bearer).status_code == 401
    on = app_client.patch(f"/api/users/{user_id}", headers=ADMIN, json={"is_active": True})
    assert on.status_code == 200
    # Disabling revoked the token (issue 23 item 2): enabled again, the user needs a new one.
    assert app_client.get(f"/api/runs/{run_id}", headers=bearer).status_code == 401
    _, bearer = _token(app_client, basic("coach", "trainer-pw-123456"))
    assert app_client.get(f"/api/runs/{run_id}", headers=bearer).status_code == 200
    assert app_client.delete(f"/api/users/{user_id}", headers=ADMIN).status_code == 204
    assert app_client.get(f"/api/runs/{run_id}", headers=bearer).status_code == 401
    assert app_client.get("/api/me", headers=bearer).status_code == 401


def test_a_token_deleted_by_another_process_is_refused_after_the_cache_time(
    app_client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _add_run(settings)
    token_id, bearer = _token(app_client, ADMIN)
    assert app_client.get(f"/api/runs/{run_id}", headers=bearer).status_code == 200
    # Another process (a second gateway) revokes it: no listener of this process sees that.
    with sqlite3.connect(settings.data_dir / "formcoach.db") as conn:
        assert conn.execute("DELETE FROM api_tokens WHERE id = ?", (token_id,)).rowcount == 1
    assert app_client.get(f"/api/runs/{run_id}", headers=bearer).status_code == 200
    later = time.monotonic() + accounts.TOKEN_CACHE_S + 0.5
    monkeypatch.setattr(accounts.TOKEN_CACHE, "clock", lambda: later)
    assert app_client.get(f"/api/runs/{run_id}", headers=bearer).status_code == 401


def test_the_token_cache_lifetime_is_a_setting(tmp_path: Path) -> None:
    # Zero: a token revoked by another process is refused on the very next request here.
    settings = make_settings(tmp_path / "data", token_cache_s=0.0)
    prepare(settings)
    with TestClient(create_app(settings, start_jobs=False)) as client:
        assert accounts.TOKEN_CACHE.ttl_s == 0.0
        run_id = _add_run(settings)
        token_id, bearer = _token(client, ADMIN)
        assert client.get(f"/api/runs/{run_id}", headers=bearer).status_code == 200
        with sqlite3.connect(settings.data_dir / "formcoach.db") as conn:
            assert conn.execute("DELETE FROM api_tokens WHERE id = ?", (token_id,)).rowcount == 1
        assert client.get(f"/api/runs/{run_id}", headers=bearer).status_code == 401


def test_an_unhandled_exception_answers_500_with_the_security_headers(settings: Settings) -> None:
    app = create_app(settings, start_jobs=False)

    @app.get("/api/test-crash")
    def crash() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/api/test-crash?lang=en")
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal_error"
    assert "a bug" not in answer.text
    for name in (
        "content-security-policy",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "permissions-policy",
        "cross-origin-opener-policy",
    ):
        assert answer.headers.get(name), name
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


@pytest.fixture()
def small_pg_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A fresh PostgreSQL database behind a pool of 5 connections and no overflow."""
    monkeypatch.setattr(db, "DB_POOL_SIZE", 5)
    monkeypatch.setattr(db, "DB_POOL_OVERFLOW", 0)
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    with fresh_pg_database("formcoach_pool") as url:
        settings = make_settings(tmp_path / "data", database_url=url)
        prepare(settings)
        yield settings
    # The small pool's engine must not be handed to later tests.
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


def test_more_concurrent_requests_than_pool_connections_all_answer(
    small_pg_pool: Settings,
) -> None:
    settings = small_pg_pool
    assert get_engine(settings.db_url).pool.size() == 5  # type: ignore[attr-defined]
    assert db.request_slots(settings.db_url) == 3
    run_id = _add_run(settings)
    app = create_app(settings, start_jobs=False)

    async def hammer() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            token = (await client.post("/api/tokens", headers=ADMIN, json={})).json()["token"]
            bearer = {"Authorization": f"Bearer {token}"}
            # The status route (one thread hop) and dependency-based routes (a hop for each).
            paths = [f"/api/runs/{run_id}", "/api/me", "/api/runs", "/api/tokens"]
            answers = await asyncio.gather(
                *(client.get(paths[i % 4], headers=bearer) for i in range(80))
            )
            return [a.status_code for a in answers]

    # Without the slots, 80 requests on 40 threads hold the 5 connections between hops and the
    # rest wait in pool checkout until its 30 s timeout (503 database_unavailable).
    assert asyncio.run(hammer()) == [200] * 80


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_job_threads_run_niced() -> None:
    seen: dict[str, int] = {}

    def handler(job_id: int) -> None:
        seen["job"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        inner: dict[str, int] = {}
        thread = threading.Thread(
            target=lambda: inner.update(
                n=os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            )
        )
        thread.start()
        thread.join()
        seen["started_by_job"] = inner["n"]

    base = os.getpriority(os.PRIO_PROCESS, 0)
    runner = JobRunner(1, resume=False, nice=5)
    runner.register("run", lambda job_id, _key: handler(job_id), list)
    runner.start()
    runner.enqueue("run", 1)
    assert runner.wait_idle(timeout=30)
    runner.stop()
    assert seen == {"job": min(19, base + 5), "started_by_job": min(19, base + 5)}
    # The web threads keep their priority.
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base


def test_jobs_in_a_child_process_resume_run_and_stop_when_deleted(
    tmp_path: Path, fixture_videos: dict[str, Path]
) -> None:
    settings = make_settings(tmp_path / "data", job_process=True, job_nice=3)
    prepare(settings)
    # Accepted while no server ran: queued in the database only, resumed at start-up.
    with TestClient(create_app(settings, start_jobs=False)) as client:
        queued = upload(client, fixture_videos["single_person"], ADMIN, movement="auto")
        assert queued.status_code == 202, queued.text
    app = create_app(settings)
    with TestClient(app) as client:
        runner = app.state.jobs
        assert isinstance(runner, ProcessJobRunner)
        child = runner.pid
        assert child is not None and child != os.getpid()
        assert _nice(child) == min(19, _nice(os.getpid()) + 3)
        resumed = wait_for_run(client, queued.json()["id"], ADMIN, timeout=600)
        assert resumed["status"] == "completed", resumed
        report = client.get(f"/api/runs/{resumed['id']}/report", headers=ADMIN)
        assert report.status_code == 200 and report.json()["metrics"]
        # Deleted while the child estimates poses: it stops and leaves nothing behind.
        created = upload(client, fixture_videos["two_people"], ADMIN, language="en")
        assert created.status_code == 202, created.text
        run_id = created.json()["id"]
        deadline = time.monotonic() + 300
        while client.get(f"/api/runs/{run_id}", headers=ADMIN).json()["stage"] != "pose":
            assert time.monotonic() < deadline, "the run never reached pose estimation"
            time.sleep(0.05)
        assert client.delete(f"/api/runs/{run_id}", headers=ADMIN).status_code == 204
        assert runner.wait_idle(timeout=300)
        assert runner.depth() == {"run": 0, "drill_video": 0}
        time.sleep(1.0)
        assert not (settings.files_dir / "runs" / str(run_id)).exists()
        with session_scope(settings.db_url) as session:
            assert session.get(Run, run_id) is None
    # Stopped with the app: no process of the runner is left.
    assert not _alive(child)


def test_serve_leaves_no_process_behind(tmp_path: Path, fixture_videos: dict[str, Path]) -> None:
    """`formcoach serve` stopped (SIGTERM) in the middle of a pose job, then SIGKILLed in the
    middle of another: either way every process it started ends with it."""
    for stop in ("terminate", "kill"):
        port = free_port()
        env = {
            **os.environ,
            "FORMCOACH_DATA_DIR": str(tmp_path / stop),
            "FORMCOACH_ADMIN_PASSWORD": "root-test-pw9",
            "FORMCOACH_PORT": str(port),
        }
        log = (tmp_path / f"{stop}.log").open("wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "formcoach", "serve"], env=env, stdout=log, stderr=log
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base, server)
            with httpx.Client(base_url=base, timeout=120) as client:
                with fixture_videos["two_people"].open("rb") as fh:
                    made = client.post(
                        "/api/runs",
                        headers=ADMIN,
                        files={"video": ("two.mp4", fh, "video/mp4")},
                        data={"movement": "auto"},
                    )
                assert made.status_code == 202, made.text
                deadline = time.monotonic() + 300
                while client.get(made.json()["url"], headers=ADMIN).json()["stage"] != "pose":
                    assert time.monotonic() < deadline, "the run never reached pose estimation"
                    time.sleep(0.1)
            started = _descendants(server.pid)
            assert started, "the jobs run in a child process of the server"
            getattr(server, stop)()
            server.wait(60)
            deadline = time.monotonic() + 30
            while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not [pid for pid in started if _alive(pid)], stop
        finally:
            if server.poll() is None:
                server.kill()
                server.wait(30)


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited during start-up"
        try:
            if httpx.get(f"{base}/api/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError("the server did not become ready")
