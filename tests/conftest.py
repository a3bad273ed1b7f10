"""Shared test fixtures: real footage, isolated settings and data folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from formcoach.kit.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "videos"
TWO_PEOPLE = FIXTURES / "sports2d-demo-two-people.mp4"
SINGLE_PERSON = FIXTURES / "pose2sim-single-person-cam01.mp4"


@pytest.fixture(scope="session")
def fixture_videos() -> dict[str, Path]:
    # Never skipped: CI always has ../shared/fixtures beside the checkout.
    assert TWO_PEOPLE.is_file() and SINGLE_PERSON.is_file(), f"missing fixture clips in {FIXTURES}"
    return {"two_people": TWO_PEOPLE, "single_person": SINGLE_PERSON}


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", admin_password="admin-test-pw")
