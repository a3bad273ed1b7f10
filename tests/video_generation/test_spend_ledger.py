"""The cloud spend ledger (generation_spend): the budget and /metrics outlive deleted runs.

Real jobs through the real openai SDK against the local fake provider, the real gateway app on
a database migrated by Alembic; migration 0005 upgraded on SQLite and on the PostgreSQL server
of this machine, with the spend of existing jobs copied in.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, inspect, select, text

from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.kit.db import Base, get_engine, session_scope
from formcoach.kit.errors import AppError
from formcoach.kit.migrate import alembic_config
from formcoach.kit.models import import_all_models
from formcoach.kit.settings import Settings
from formcoach.runs.models import Run
from formcoach.video_generation import service
from formcoach.video_generation.cloud_jobs import budget_used
from formcoach.video_generation.models import GenerationSpend, VideoJob
from tests.support.apputil import ADMIN, basic, fresh_pg_database
from tests.support.fake_videos_server import FakeServer, Scenario, make_mp4

KEY = "sk-test-formcoach"
USER, PASSWORD = "spender", "ledger-owner-pass-3"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeServer]:
    mp4 = make_mp4(tmp_path_factory.mktemp("fake") / "clip.mp4")
    with FakeServer(mp4) as running:
        yield running


def _settings(tmp_path: Path, server: FakeServer, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "admin_password": "root-test-pw9",
        "video_generator": "openai-videos",
        "openai_videos_base_url": server.base_url,
        "openai_videos_api_key": KEY,
        "cloud_request_timeout_s": 2.0,
        "cloud_poll_interval_s": 0.05,
        "cloud_backoff_s": 0.05,
        "cloud_attempts": 3,
        "video_budget_seconds_per_day": 12,
        "cloud_video_usd_per_second": 0.25,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture()
def app(tmp_path: Path, server: FakeServer) -> Iterator[tuple[TestClient, Settings, int]]:
    settings = _settings(tmp_path, server)
    prepare(settings)  # the Alembic migrations, 0005 included
    with TestClient(create_app(settings, start_jobs=False)) as client:
        made = client.post(
            "/api/users", headers=ADMIN, json={"username": USER, "password": PASSWORD}
        )
        assert made.status_code == 201, made.text
        yield client, settings, int(made.json()["id"])
    get_engine(settings.db_url).dispose()


def _run(settings: Settings, user_id: int) -> int:
    with session_scope(settings.db_url) as session:
        run = Run(user_id=user_id, language="en", movement="plank", status="completed")
        session.add(run)
        session.flush()
        return int(run.id)


def _job(settings: Settings, user_id: int, run_id: int, drill: str, seconds: str) -> int:
    with session_scope(settings.db_url) as session:
        job = service.create_job(
            session, user_id, run_id, drill, "1280x720", seconds, "en", settings=settings
        )
        return int(job.id)


def _metric(client: TestClient, name: str) -> float | None:
    body = client.get("/metrics", headers=ADMIN).text
    for line in body.splitlines():
        if line.startswith(f'{name}{{generator="openai-videos"}}'):
            return float(line.split()[-1])
    return None


def _ledger(settings: Settings) -> list[dict[str, object]]:
    meta = MetaData()
    engine = get_engine(settings.db_url)
    meta.reflect(bind=engine, only=["generation_spend"])
    with engine.connect() as conn:
        table = meta.tables["generation_spend"]
        return [dict(r._mapping) for r in conn.execute(select(table))]


def test_deleting_the_run_does_not_give_the_budget_back(
    app: tuple[TestClient, Settings, int], server: FakeServer
) -> None:
    client, settings, user_id = app
    fake = server.reset()
    run_id = _run(settings, user_id)
    job_id = _job(settings, user_id, run_id, "plank", "8")
    service.process_job(job_id, settings)
    with session_scope(settings.db_url) as session:
        job = session.get(VideoJob, job_id)
        assert job is not None and job.status == "completed" and job.billed_seconds == 8
        marker = job.request_marker
    assert fake.creates == 1 and budget_used(settings) == 8
    assert _metric(client, "formcoach_generator_billed_seconds") == 8.0
    assert _metric(client, "formcoach_generator_cost_usd") == 2.0

    deleted = client.delete(f"/api/runs/{run_id}", headers=basic(USER, PASSWORD))
    assert deleted.status_code == 204
    with session_scope(settings.db_url) as session:
        assert session.scalar(select(VideoJob).where(VideoJob.id == job_id)) is None
    # The job row is gone; what it cost is not.
    assert budget_used(settings) == 8
    assert _metric(client, "formcoach_generator_billed_seconds") == 8.0
    assert _metric(client, "formcoach_generator_cost_usd") == 2.0
    # So another 8 s would go over today's 12: refused, while 4 s still fit.
    other_run = _run(settings, user_id)
    with pytest.raises(AppError) as refused:
        _job(settings, user_id, other_run, "glute bridge", "8")
    assert refused.value.code == "generation_budget_exceeded"
    _job(settings, user_id, other_run, "dead bug", "4")
    assert budget_used(settings) == 12

    # The ledger row: the seconds, their price, the day, the generator; nobody's data.
    [row] = _ledger(settings)
    assert set(row) == {
        "id",
        "request_marker",
        "generator",
        "billed_seconds",
        "usd",
        "submitted_at",
        "day",
    }
    assert (row["request_marker"], row["generator"], row["billed_seconds"]) == (
        marker,
        "openai-videos",
        8,
    )
    assert float(str(row["usd"])) == 2.0
    assert str(row["day"]) == datetime.now(UTC).date().isoformat()

    # Deleting the user leaves the spend, and it names nothing of theirs.
    me = client.get("/api/users", headers=ADMIN).json()
    assert client.delete(f"/api/users/{user_id}", headers=ADMIN).status_code == 204
    assert USER in {u["username"] for u in me}
    [kept] = _ledger(settings)
    assert kept == row
    assert budget_used(settings) == 8
    for value in kept.values():
        assert USER not in str(value) and "plank" not in str(value)


def test_refused_and_failed_generations_leave_no_spend(
    app: tuple[TestClient, Settings, int], server: FakeServer
) -> None:
    client, settings, user_id = app
    run_id = _run(settings, user_id)
    server.reset(Scenario(fail_with="The prompt was flagged by moderation."))
    failed = _job(settings, user_id, run_id, "plank", "4")
    service.process_job(failed, settings)
    server.reset(Scenario(create_errors=[400]))
    refused = _job(settings, user_id, run_id, "glute bridge", "4")
    service.process_job(refused, settings)
    with session_scope(settings.db_url) as session:
        jobs = session.scalars(select(VideoJob).where(VideoJob.id.in_((failed, refused))))
        statuses = [job.status for job in jobs]
    assert statuses == ["failed", "failed"]
    assert _ledger(settings) == [] and budget_used(settings) == 0
    assert _metric(client, "formcoach_generator_billed_seconds") == 0.0


# --- migration 0005 ---------------------------------------------------------------------------


def _upgrade_with_spend(url: str) -> None:
    """Migrate to 0004, leave a billed cloud job and an unbilled one, then upgrade to head."""
    config = alembic_config(url)
    command.upgrade(config, "0004")
    submitted = datetime(2026, 11, 30, 23, 59, 30, tzinfo=UTC)
    with get_engine(url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, password_hash, language, is_admin, is_active, "
                "created_at) VALUES (1, 'u', 'x', 'en', false, true, :t)"
            ),
            {"t": submitted},
        )
        conn.execute(
            text(
                "INSERT INTO runs (id, user_id, status, progress, movement, view, language, "
                "original_filename, upload_bytes, created_at) VALUES (1, 1, 'completed', 1.0, "
                "'plank', 'side', 'en', 'clip.mp4', 1, :t)"
            ),
            {"t": submitted},
        )
        for job_id, marker, billed in ((1, "fc-billed", 8), (2, "fc-refused", 0)):
            conn.execute(
                text(
                    "INSERT INTO video_jobs (id, run_id, user_id, drill_id, drill_text, "
                    "language, size, seconds, generator, status, message, figure, "
                    "request_marker, submitted_at, billed_seconds, created_at, updated_at) "
                    "VALUES (:id, 1, 1, 'plank', '', 'en', '1280x720', '8', 'openai-videos', "
                    "'completed', '', 'standard', :marker, :t, :billed, :t, :t)"
                ),
                {"id": job_id, "marker": marker, "billed": billed, "t": submitted},
            )
    command.upgrade(config, "head")


def _check_migrated(url: str) -> None:
    engine = get_engine(url)
    with session_scope(url) as session:
        rows = list(session.scalars(select(GenerationSpend)))
        assert [(r.request_marker, r.billed_seconds, r.generator) for r in rows] == [
            ("fc-billed", 8, "openai-videos")
        ]
        # The UTC day of the submission (23:59:30 UTC on 30 November), at the default price.
        assert rows[0].day == date(2026, 11, 30)
        assert rows[0].submitted_at == datetime(2026, 11, 30, 23, 59, 30, tzinfo=UTC)
        assert rows[0].usd == pytest.approx(0.8)
    # The migrated table is what the model says (columns, types, indexes, unique marker).
    import_all_models()
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if "generation_spend" in repr(d)] == []
    indexes = {i["name"] for i in inspect(engine).get_indexes("generation_spend")}
    assert {"ix_generation_spend_day", "ix_generation_spend_submitted_at"} <= indexes
    # And back down and up again.
    command.downgrade(alembic_config(url), "0004")
    assert "generation_spend" not in inspect(engine).get_table_names()
    command.upgrade(alembic_config(url), "head")
    assert "generation_spend" in inspect(get_engine(url)).get_table_names()


def test_migration_0005_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'migrate.db'}"
    _upgrade_with_spend(url)
    _check_migrated(url)
    get_engine(url).dispose()


@pytest.fixture()
def pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        yield url


def test_migration_0005_on_postgresql(pg_url: str) -> None:
    _upgrade_with_spend(pg_url)
    _check_migrated(pg_url)
