"""Helpers to run the real application in tests (TestClient with its job runner)."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from formcoach.accounts.users import User, hash_password
from formcoach.kit.api import install_error_handlers
from formcoach.kit.db import Base, get_engine, session_scope
from formcoach.kit.settings import Settings

ADMIN_PW = "root-test-pw9"


def basic(username: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


ADMIN = basic("admin", ADMIN_PW)


def wait_for_run(
    client: TestClient, run_id: int, headers: dict[str, str], timeout: float = 300
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/runs/{run_id}", headers=headers).json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.25)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def upload(client: TestClient, path: Any, headers: dict[str, str], **fields: str) -> Any:
    with open(path, "rb") as fh:
        return client.post(
            "/api/runs", headers=headers, files={"video": (path.name, fh, "video/mp4")}, data=fields
        )


COACH = basic("coach", "pw-for-tests")


@contextmanager
def router_client(settings: Settings, router: APIRouter, prefix: str) -> Iterator[TestClient]:
    """One service's router alone in an app, with a signed-up user `coach` (see COACH)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    Base.metadata.create_all(get_engine(settings.db_url), tables=[Base.metadata.tables["users"]])
    with session_scope(settings.db_url) as session:
        session.add(User(username="coach", password_hash=hash_password("pw-for-tests")))
    app = FastAPI()
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(router, prefix=prefix)
    with TestClient(app) as client:
        yield client


PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def fresh_pg_database(prefix: str = "formcoach") -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty database on the machine's PostgreSQL, dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_stages(ctx: Any, *stages: str) -> None:
    """Run pipeline stages in order on ``ctx`` (a StageContext), as the job runner does."""
    from formcoach.pipeline.orchestrator import stage_function

    for stage in stages:
        stage_function(stage)(ctx)


def run_folder_key(db_url: str, run_id: int) -> str:
    """The run's storage key (runs.run_key): its files live under runs/<key>/."""
    from formcoach.runs.models import Run

    with session_scope(db_url) as session:
        run = session.get(Run, run_id)
        assert run is not None
        return run.run_key
