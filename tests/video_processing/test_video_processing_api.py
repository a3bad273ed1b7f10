"""video_processing HTTP API: authentication, probing an upload, the streamed size limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from formcoach.accounts.users import User, hash_password
from formcoach.kit.api import install_error_handlers
from formcoach.kit.db import Base, get_engine, session_scope
from formcoach.kit.settings import Settings
from formcoach.video_processing.api import router

PREFIX = "/api/video-processing"
AUTH = ("coach", "coach-pw-123")


@pytest.fixture()
def client(settings: Settings) -> Iterator[TestClient]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    Base.metadata.create_all(get_engine(settings.db_url))
    with session_scope(settings.db_url) as session:
        session.add(User(username=AUTH[0], password_hash=hash_password(AUTH[1]), language="en"))
    app = FastAPI()
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(router, prefix=PREFIX)
    with TestClient(app) as test_client:
        yield test_client


def leftovers(settings: Settings) -> list[Path]:
    tmp = settings.data_dir / "tmp"
    return list(tmp.iterdir()) if tmp.is_dir() else []


def test_service_info_needs_authentication(client: TestClient) -> None:
    assert client.get(f"{PREFIX}/").status_code == 401
    answer = client.get(f"{PREFIX}/", auth=AUTH)
    assert answer.status_code == 200
    assert answer.json()["service"] == "video_processing"


def test_probe_upload(
    client: TestClient, settings: Settings, fixture_videos: dict[str, Path]
) -> None:
    with fixture_videos["single_person"].open("rb") as video:
        answer = client.post(f"{PREFIX}/probe", files={"video": ("clip.mp4", video)}, auth=AUTH)
    assert answer.status_code == 200, answer.text
    info = answer.json()
    assert (info["width"], info["height"], info["frames"], info["codec"]) == (
        1080,
        1920,
        100,
        "h264",
    )
    assert leftovers(settings) == []


def test_probe_upload_needs_authentication(client: TestClient) -> None:
    answer = client.post(f"{PREFIX}/probe", files={"video": ("a.mp4", b"x")})
    assert answer.status_code == 401


def test_probe_rejects_in_the_callers_language(client: TestClient, settings: Settings) -> None:
    files = {"video": ("notes.mp4", b"not a video at all\n" * 100)}
    answer = client.post(f"{PREFIX}/probe?lang=ja", files=files, auth=AUTH)
    assert answer.status_code == 415
    error = answer.json()["error"]
    assert error["code"] == "not_a_video" and "動画" in error["message"]
    empty = client.post(f"{PREFIX}/probe?lang=en", files={"video": ("e.mp4", b"")}, auth=AUTH)
    assert empty.json()["error"] == {"code": "empty_file", "message": "The uploaded file is empty."}
    assert leftovers(settings) == []


def test_error_in_the_users_language(client: TestClient) -> None:
    answer = client.post(f"{PREFIX}/probe", files={"video": ("e.mp4", b"")}, auth=AUTH)
    assert answer.json()["error"]["message"] == "The uploaded file is empty."


def test_upload_size_limit(client: TestClient, settings: Settings) -> None:
    settings.max_upload_mb = 1
    big = b"\0" * (settings.max_upload_bytes + 1)
    files = {"video": ("big.mp4", big)}
    answer = client.post(f"{PREFIX}/probe?lang=en", files=files, auth=AUTH)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "file_too_large"
    assert "1 MB" in answer.json()["error"]["message"]
    assert leftovers(settings) == []


@pytest.mark.parametrize(
    ("kwargs", "detail"),
    [
        ({"content": b"raw bytes", "headers": {"content-type": "video/mp4"}}, "multipart"),
        ({"files": {"other": ("a.mp4", b"x")}}, "missing file field"),
    ],
)
def test_malformed_requests(client: TestClient, kwargs: dict[str, Any], detail: str) -> None:
    answer = client.post(f"{PREFIX}/probe?lang=en", auth=AUTH, **kwargs)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "validation_error"
    assert detail in answer.json()["error"]["message"]
