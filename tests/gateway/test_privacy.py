"""Uploaded videos never leave the machine.

With the default (local) generator a whole analysis opens no network connection at all; with a
cloud generator configured, the only requests go to that provider and carry only the drill
prompt (built from the drill library) and the format: no video or image bytes, no
``input_reference``, no keypoints, no user name, person label or file name.

A guard on ``socket.connect`` records every TCP connection the process makes during the run
(the app runs in-process under TestClient, so its job threads are covered too); a recording
wrapper around the fake provider keeps every request's method, path, headers and raw body.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from formcoach.advice_generation.service import get_drill
from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.kit.db import get_engine, session_scope
from formcoach.kit.settings import Settings
from formcoach.video_generation.models import VideoJob
from formcoach.video_generation.prompts import build_prompt
from tests.conftest import make_settings
from tests.support.apputil import ADMIN, basic, upload, wait_for_run
from tests.support.fake_videos_server import FakeVideos, build_app, make_mp4
from tests.support.threaded_server import ThreadedServer

USERNAME = "privacy-owner-4711"
PASSWORD = "privacy-owner-pass-1"
PERSON = "Hanako Privacy-Label"
FILENAME = "hanako-secret-clip.mp4"
PROMPT_FIELDS = {"prompt", "model", "seconds", "size"}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """A raw ASGI wrapper: sees each request exactly as it arrived, body included."""

    app: Any
    requests: list[Recorded] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.requests.append(Recorded(scope["method"], scope["path"], headers, b"".join(chunks)))
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


@contextmanager
def connections() -> Iterator[list[tuple[str, int]]]:
    """Every TCP destination (host, port) that any thread connects to inside the block."""
    seen: list[tuple[str, int]] = []
    original = socket.socket.connect
    original_ex = socket.socket.connect_ex

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            seen.append((str(address[0]), int(address[1])))
        original(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            seen.append((str(address[0]), int(address[1])))
        return original_ex(sock, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]
        socket.socket.connect_ex = original_ex  # type: ignore[method-assign]


def analyse(settings: Settings, clip: Path, tmp_path: Path) -> tuple[int, bytes]:
    """A complete run by a named user with a person label; returns its id and the upload."""
    prepare(settings)
    named = tmp_path / FILENAME
    named.write_bytes(clip.read_bytes())
    with TestClient(create_app(settings)) as client:
        made = client.post(
            "/api/users",
            headers=ADMIN,
            json={"username": USERNAME, "password": PASSWORD, "language": "en"},
        )
        assert made.status_code == 201, made.text
        mine = basic(USERNAME, PASSWORD)
        token = client.post("/api/tokens", headers=mine, json={"name": "t"}).json()["token"]
        owner = {"Authorization": f"Bearer {token}"}
        created = upload(client, named, owner, language="en", person=PERSON)
        assert created.status_code == 202, created.text
        run_id = created.json()["id"]
        body = wait_for_run(client, run_id, owner)
        assert body["status"] == "completed", body
    get_engine(settings.db_url).dispose()
    return run_id, named.read_bytes()


def test_the_default_generator_makes_no_network_connection(
    tmp_path: Path, fixture_videos: dict[str, Path]
) -> None:
    settings = make_settings(tmp_path / "data", drill_video_seconds="4")
    assert settings.video_generator == "local"
    with connections() as seen:
        analyse(settings, fixture_videos["single_person"], tmp_path)
    assert seen == []


@pytest.fixture()
def provider(tmp_path: Path) -> Iterator[tuple[ThreadedServer, Recorder, FakeVideos]]:
    fake = FakeVideos(make_mp4(tmp_path / "provider.mp4"))
    recorder = Recorder(build_app(fake))
    server = ThreadedServer(recorder, "recording videos provider")  # type: ignore[arg-type]
    fake.base_url = server.base_url
    with server:
        yield server, recorder, fake


def test_a_cloud_generator_receives_only_the_drill_prompt(
    tmp_path: Path,
    fixture_videos: dict[str, Path],
    provider: tuple[ThreadedServer, Recorder, FakeVideos],
) -> None:
    server, recorder, _ = provider
    port = int(server.base_url.split(":")[2].split("/")[0])
    settings = make_settings(
        tmp_path / "data",
        video_generator="openai-videos",
        openai_videos_base_url=server.base_url,
        openai_videos_api_key="sk-test-privacy",
        drill_video_seconds="4",
        cloud_poll_interval_s=0.05,
        cloud_backoff_s=0.05,
    )
    with connections() as seen:
        run_id, video = analyse(settings, fixture_videos["single_person"], tmp_path)
    assert seen and set(seen) <= {("127.0.0.1", port)}

    with session_scope(settings.db_url) as session:
        jobs = list(session.scalars(select(VideoJob).where(VideoJob.run_id == run_id)))
    assert jobs and all(j.generator == "openai-videos" and j.status == "completed" for j in jobs)
    expected = {
        build_prompt(get_drill(j.drill_id), j.seconds, j.request_marker or "") for j in jobs
    }

    creates = [r for r in recorder.requests if r.method == "POST"]
    assert len(creates) == len(jobs)
    prompts = set()
    for request in creates:
        assert request.path == "/v1/videos"
        assert len(request.body) < 8192  # a prompt, not a video or an image
        fields = request_fields(request)
        assert set(fields) == PROMPT_FIELDS, fields  # no input_reference, no extra data
        prompts.add(fields["prompt"])
    assert prompts == expected  # the library's text, nothing derived from the user or video

    sample = video[len(video) // 2 : len(video) // 2 + 64]
    for request in recorder.requests:
        assert request.path.startswith("/v1/videos")
        raw = request.body + json.dumps(request.headers).encode() + request.path.encode()
        for secret in (USERNAME, PERSON, FILENAME, "hanako"):
            assert secret.encode().lower() not in raw.lower()
        for marker in (sample, b"ftyp", b"\xff\xd8\xff", b"\x89PNG", b"keypoint", b"landmark"):
            assert marker not in request.body


def request_fields(request: Recorded) -> dict[str, str]:
    """The fields of a create, sent as JSON or as a multipart form by the SDK."""
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        return {k: str(v) for k, v in json.loads(request.body).items()}
    assert kind.startswith("multipart/form-data"), kind
    boundary = kind.split("boundary=")[1].encode()
    fields: dict[str, str] = {}
    for part in request.body.split(b"--" + boundary)[1:-1]:
        head, _, value = part.strip(b"\r\n").partition(b"\r\n\r\n")
        name = head.split(b'name="')[1].split(b'"')[0].decode()
        assert b"filename=" not in head, "a file was attached"
        fields[name] = value.decode()
    return fields
