"""Run identity (issue 23 item 1) and the per-user fairness limit (item 9)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from formcoach.accounts.users import User, hash_password
from formcoach.gateway import service
from formcoach.kit.db import session_scope
from formcoach.kit.errors import AppError
from formcoach.kit.migrate import alembic_config, upgrade
from formcoach.kit.pipeline import GuardedStorage, RunGone, RunOptions
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage
from formcoach.pipeline.orchestrator import first_pending_stage, load_run
from formcoach.pipeline.runners import FairQueue, JobRunner
from formcoach.pipeline.stages import STAGES
from formcoach.runs import service as runs_service
from formcoach.runs.models import Run
from tests.conftest import make_settings
from tests.support.apputil import fresh_pg_database, run_folder_key


def test_runner_keeps_a_new_key_beside_an_old_one_with_the_same_id() -> None:
    release = threading.Event()
    seen: list[tuple[int, str]] = []

    def handler(job_id: int, key: str) -> None:
        seen.append((job_id, key))
        if key == "old":
            release.wait(10)

    runner = JobRunner(2, resume=False)
    runner.register("run", handler, list)
    runner.start()
    runner.enqueue("run", 7, "old")
    runner.enqueue("run", 7, "old")  # the same job: dropped
    runner.enqueue("run", 7, "new")  # another run that has the id: kept
    release.set()
    assert runner.wait_idle(timeout=20)
    runner.stop()
    assert sorted(seen) == [(7, "new"), (7, "old")]


def test_fair_queue_serves_users_in_turn() -> None:
    q = FairQueue()
    for i in range(3):
        q.put(("run", i, ""), owner=1)
    q.put(("run", 10, ""), owner=2)
    q.put(("run", 20, ""), owner=3)
    order = [q.get() for _ in range(5)]
    assert [item[1] for item in order if item] == [0, 10, 20, 1, 2]


def test_fair_queue_turn_outlives_an_empty_lane() -> None:
    """A's only job is taken, A queues another, then B queues: B goes first."""
    q = FairQueue()
    q.put(("run", 1, ""), owner=1)
    assert q.get() == ("run", 1, "")
    q.put(("run", 2, ""), owner=1)
    q.put(("run", 10, ""), owner=2)
    q.put(("run", 20, ""), owner=3)
    assert [q.get() for _ in range(3)] == [("run", 10, ""), ("run", 20, ""), ("run", 2, "")]


def _user_and_run(settings: Settings) -> tuple[int, int, str]:
    upgrade(settings.db_url)
    with session_scope(settings.db_url) as session:
        user = User(username="a", password_hash=hash_password("pw-for-tests"))
        session.add(user)
        session.flush()
        run = runs_service.create_run(session, user, RunOptions(), "a.mp4", 1, stages=STAGES)
        return user.id, run.id, run.run_key


def test_deleted_run_is_skipped_and_ids_are_not_reused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    user_id, run_id, key = _user_and_run(settings)
    assert len(key) == 32
    with session_scope(settings.db_url) as session:
        run = session.get(Run, run_id)
        assert run is not None
        service.delete_run(session, LocalStorage(settings.files_dir), run)
    # A's queued job: a no-op.
    assert load_run(settings, run_id, key) is None
    with session_scope(settings.db_url) as session:
        user = session.get(User, user_id)
        assert user is not None
        new = runs_service.create_run(session, user, RunOptions(), "b.mp4", 1, stages=STAGES)
        new_id, new_key = new.id, new.run_key
    assert new_id != run_id and new_key != key
    # A job holding A's identity never touches B, even by B's id.
    assert first_pending_stage(settings, new_id, key) is None
    assert first_pending_stage(settings, new_id, new_key) == "probe"


def test_guarded_storage_writes_nothing_for_a_gone_run(tmp_path: Path) -> None:
    alive = {"yes": True}
    storage = GuardedStorage(LocalStorage(tmp_path), lambda: alive["yes"], 1)
    storage.put_bytes("runs/k/a.json", b"{}")
    alive["yes"] = False
    with pytest.raises(RunGone):
        storage.put_bytes("runs/k/b.json", b"{}")
    alive["yes"] = True
    with pytest.raises(RunGone), storage.writer("runs/k/c.json") as tmp:
        tmp.write_bytes(b"{}")
        alive["yes"] = False
    assert storage.list("runs/k") == ["runs/k/a.json"]


def test_queue_limit_per_user(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_queued_runs_per_user=2)
    user_id, _, _ = _user_and_run(settings)
    with session_scope(settings.db_url) as session:
        user = session.get(User, user_id)
        assert user is not None
        runs_service.check_queue_room(session, user_id, settings)
        runs_service.create_run(session, user, RunOptions(), "b.mp4", 1, stages=STAGES)
        with pytest.raises(AppError) as refused:
            runs_service.check_queue_room(session, user_id, settings)
    assert refused.value.code == "too_many_queued_runs"
    assert "2" in refused.value.message("en")


def _migrate_with_data(url: str) -> list[object]:
    cfg = alembic_config(url)
    command.upgrade(cfg, "0005")
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO users (id, username, password_hash, language, is_admin, is_active,"
                " created_at) VALUES (1,'a','x','ja',false,true,'2026-01-01')"
            )
        )
        for run_id in (1, 2):
            c.execute(
                text(
                    "INSERT INTO runs (id, user_id, status, progress, movement, view, language,"
                    " original_filename, upload_bytes, created_at) VALUES"
                    f" ({run_id},1,'completed',100,'auto','side','ja','',0,'2026-01-01')"
                )
            )
            c.execute(
                text(
                    "INSERT INTO run_stages (run_id, name, position, status, progress, attempts)"
                    f" VALUES ({run_id},'probe',0,'done',1,1)"
                )
            )
        if not url.startswith("sqlite"):
            # Rows inserted with explicit ids, as the app never does: move the sequence on.
            c.execute(text("SELECT setval('runs_id_seq', 2)"))
    command.upgrade(cfg, "head")
    with engine.begin() as c:
        keys = c.execute(text("SELECT id, run_key FROM runs ORDER BY id")).all()
        stages = c.execute(text("SELECT count(*) FROM run_stages")).scalar()
        c.execute(text("DELETE FROM runs WHERE id = 2"))
        c.execute(
            text(
                "INSERT INTO runs (user_id, run_key, status, progress, movement, view, language,"
                " original_filename, upload_bytes, created_at) VALUES"
                " (1,'k','queued',0,'auto','side','ja','',0,'2026-01-01')"
            )
        )
        new_id = c.execute(text("SELECT id FROM runs WHERE run_key = 'k'")).scalar()
    engine.dispose()
    return [[tuple(r) for r in keys], stages, new_id]


def test_migration_keeps_data_and_stops_id_reuse_sqlite(tmp_path: Path) -> None:
    keys, stages, new_id = _migrate_with_data(f"sqlite:///{tmp_path / 'db.sqlite'}")
    # Legacy rows keep their folder runs/<id>; nothing lost; the deleted id 2 is not reused.
    assert keys == [(1, "1"), (2, "2")] and stages == 2 and new_id == 3


def test_migration_keeps_data_postgres() -> None:
    with fresh_pg_database() as url:
        keys, stages, new_id = _migrate_with_data(url)
    assert keys == [(1, "1"), (2, "2")] and stages == 2 and new_id != 2


# --- the race of the issue: A deletes during pose, B uploads next --------------------------


def _race(settings: Settings, single_person: Path) -> None:
    """A's run is deleted while its pose stage runs and B uploads at once: B's run is B's own
    (a new id, its own folder), completes, and nothing of A's is left or reachable."""
    from fastapi.testclient import TestClient

    from formcoach.bootstrap import prepare
    from formcoach.gateway.app import create_app
    from tests.support.apputil import ADMIN, basic, upload, wait_for_run

    prepare(settings)
    with TestClient(create_app(settings)) as client:
        for name in ("usera", "userb"):
            made = client.post(
                "/api/users", headers=ADMIN, json={"username": name, "password": "race-pass-2026"}
            )
            assert made.status_code == 201, made.text
        user_a, user_b = basic("usera", "race-pass-2026"), basic("userb", "race-pass-2026")
        a = upload(client, single_person, user_a, movement="auto", language="en").json()
        deadline = time.monotonic() + 120
        while client.get(a["url"], headers=user_a).json()["stage"] != "pose":
            assert time.monotonic() < deadline, "A's run never reached pose"
            time.sleep(0.05)
        a_key = run_folder_key(settings.db_url, a["id"])
        assert client.delete(a["url"], headers=user_a).status_code == 204
        b = upload(client, single_person, user_b, movement="auto", language="en").json()
        assert b["id"] != a["id"]
        done = wait_for_run(client, b["id"], user_b)
        assert done["status"] == "completed", done
        b_key = run_folder_key(settings.db_url, b["id"])
        assert b_key != a_key
        storage = LocalStorage(settings.data_dir / "files")
        # A's job stopped: its folder is gone and stays gone once its thread has let go.
        time.sleep(1.0)
        assert not storage.exists(f"runs/{a_key}/upload.bin")
        assert not list((settings.data_dir / "files" / "runs" / a_key).glob("*"))
        info = json.loads(storage.get_bytes(f"runs/{b_key}/video_info.json"))
        assert info["proxy"]["frames"] >= 90
        # Neither B nor A reaches A's old run through the API.
        for headers in (user_a, user_b):
            assert client.get(a["url"], headers=headers).status_code == 404
            files = client.get(f"{a['url']}/files/tracks.jpg", headers=headers)
            assert files.status_code == 404
        assert client.get(f"{b['url']}/report", headers=user_b).status_code == 200
        with session_scope(settings.db_url) as session:
            assert session.get(Run, a["id"]) is None


RACE_REPEATS = int(os.environ.get("FORMCOACH_RACE_REPEATS", "1"))


@pytest.mark.slow
@pytest.mark.parametrize("repeat", range(RACE_REPEATS))
def test_delete_during_pose_then_another_user_uploads_sqlite(
    tmp_path: Path, fixture_videos: dict[str, Path], repeat: int
) -> None:
    _race(make_settings(tmp_path / f"data{repeat}"), fixture_videos["single_person"])


@pytest.mark.slow
@pytest.mark.parametrize("repeat", range(RACE_REPEATS))
def test_delete_during_pose_then_another_user_uploads_postgres(
    tmp_path: Path, fixture_videos: dict[str, Path], repeat: int
) -> None:
    with fresh_pg_database() as url:
        settings = make_settings(tmp_path / f"data{repeat}", database_url=url)
        _race(settings, fixture_videos["single_person"])


def test_user_ids_are_not_reused_sqlite(tmp_path: Path) -> None:
    """Issue 23 item 1: a deleted newest user's id never goes to the next user (AUTOINCREMENT)."""
    from fastapi.testclient import TestClient

    from formcoach.bootstrap import prepare
    from formcoach.gateway.app import create_app
    from tests.support.apputil import ADMIN

    settings = make_settings(tmp_path / "data")
    assert settings.db_url.startswith("sqlite")
    prepare(settings)
    with TestClient(create_app(settings, start_jobs=False)) as client:
        body = {"username": "first-user", "password": "unrelated-pw-42"}
        first = client.post("/api/users", headers=ADMIN, json=body)
        assert first.status_code == 201, first.text
        gone = client.delete(f"/api/users/{first.json()['id']}", headers=ADMIN)
        assert gone.status_code == 204, gone.text
        body["username"] = "second-user"
        second = client.post("/api/users", headers=ADMIN, json=body)
        assert second.status_code == 201, second.text
        assert second.json()["id"] > first.json()["id"]
