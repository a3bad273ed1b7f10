"""The same migrations and accounts/runs code on the PostgreSQL server of this machine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.kit.db import get_engine
from formcoach.kit.settings import Settings
from tests.support.apputil import ADMIN, ADMIN_PW, fresh_pg_database, upload
from tests.support.media import gradient_clip


@pytest.fixture()
def pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        yield url


def test_migrations_and_api_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=pg_url, admin_password=ADMIN_PW)
    prepare(settings)
    tables = set(inspect(get_engine(pg_url)).get_table_names())
    assert {"users", "api_tokens", "runs", "run_stages", "video_jobs", "alembic_version"} <= tables
    with TestClient(create_app(settings, start_jobs=False)) as client:
        made = client.post(
            "/api/users", headers=ADMIN, json={"username": "pguser", "password": "pg-password-1"}
        )
        assert made.status_code == 201
        clip = gradient_clip(tmp_path / "g.mp4", seconds=1.5)
        r = upload(client, clip, ADMIN, movement="plank", person="Ｈａｎａｋｏ Ōta")
        assert r.status_code == 202, r.text
        run = client.get(r.json()["url"], headers=ADMIN).json()
        assert run["status"] == "queued" and len(run["stages"]) == 7
        assert run["person"] == "Ｈａｎａｋｏ Ōta"
        # The person filter (migration 0004's person_key) folds width and case here too.
        for query, found in (("hanako", 1), ("ōTA", 1), ("%", 0), ("g.mp4", 0)):
            page = client.get("/api/runs", params={"person": query}, headers=ADMIN).json()
            assert page["total"] == found, query
        assert client.delete(r.json()["url"], headers=ADMIN).status_code == 204
        assert client.get(r.json()["url"], headers=ADMIN).status_code == 404
        assert client.delete(f"/api/users/{made.json()['id']}", headers=ADMIN).status_code == 204
