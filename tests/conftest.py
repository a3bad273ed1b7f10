"""Shared test fixtures: real footage, isolated settings and data folders."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from formcoach.kit.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "videos"
TWO_PEOPLE = FIXTURES / "sports2d-demo-two-people.mp4"
SINGLE_PERSON = FIXTURES / "pose2sim-single-person-cam01.mp4"


# A module that touches any of these (real footage, renders, the pose model, servers or other
# processes, a browser, Redis or PostgreSQL) is "heavy"; `make test-fast` runs the rest.
HEAVY = re.compile(
    r"SINGLE_PERSON|TWO_PEOPLE|fixture_videos|FIXTURES|Popen|subprocess|ThreadedServer|chromium"
    r"|render_clip|estimate\(|live_app|completed_runs|redis|psycopg|upload\(|mark\.slow|\.mp4"
)


@cache
def _heavy_module(path: Path) -> bool:
    return bool(HEAVY.search(path.read_text(encoding="utf-8")))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _heavy_module(Path(str(item.fspath))):
            item.add_marker(pytest.mark.heavy)


@pytest.fixture(scope="session")
def fixture_videos() -> dict[str, Path]:
    # Never skipped: CI always has ../shared/fixtures beside the checkout.
    assert TWO_PEOPLE.is_file() and SINGLE_PERSON.is_file(), f"missing fixture clips in {FIXTURES}"
    return {"two_people": TWO_PEOPLE, "single_person": SINGLE_PERSON}


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    return Settings(data_dir=data_dir, admin_password="root-test-pw9", **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Settings]]:
    """The real one-process app (migrated SQLite, job runner threads) shared by a test session."""
    from formcoach.bootstrap import prepare
    from formcoach.gateway.app import create_app

    settings = make_settings(tmp_path_factory.mktemp("app"))
    prepare(settings)
    with TestClient(create_app(settings)) as client:
        yield client, settings


@pytest.fixture(scope="session")
def completed_runs(
    live_app: tuple[TestClient, Settings], fixture_videos: dict[str, Path]
) -> dict[str, dict[str, Any]]:
    """Both real fixture clips taken through the whole pipeline once, via the API."""
    from tests.support.apputil import ADMIN, upload, wait_for_run

    client, _ = live_app
    ids = {}
    for name, path in fixture_videos.items():
        response = upload(client, path, ADMIN, movement="auto", language="ja")
        assert response.status_code == 202, response.text
        ids[name] = response.json()["id"]
    return {name: wait_for_run(client, run_id, ADMIN) for name, run_id in ids.items()}
