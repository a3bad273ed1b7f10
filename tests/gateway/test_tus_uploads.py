"""The resumable upload (tus 1.0 core, gateway/uploads.py) against the real app: create, a
connection dropped mid-PATCH keeps what arrived, HEAD resumes, wrong offsets and other users
are refused, the finish makes a run through the upload's probe, abandoned uploads are swept."""

from __future__ import annotations

import base64
import os
import socket
import time
from pathlib import Path

import httpx
import pytest

from formcoach.gateway.uploads import sweep
from tests.conftest import FIXTURES, make_settings
from tests.gateway.test_web_browser import serve
from tests.support.apputil import ADMIN_PW

CLIP = FIXTURES / "sports2d-demo4-walk-side.mp4"
AUTH = ("admin", ADMIN_PW)
TUS = {"Tus-Resumable": "1.0.0"}


def _meta(**fields: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in fields.items())


def _create(client: httpx.Client, length: int, **fields: str) -> httpx.Response:
    headers = {**TUS, "Upload-Length": str(length), "Upload-Metadata": _meta(**fields)}
    return client.post("/api/uploads", headers=headers)


def _patch(client: httpx.Client, url: str, offset: int, body: bytes) -> httpx.Response:
    headers = {
        **TUS,
        "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream",
    }
    return client.patch(url, headers=headers, content=body)


def _dropped_patch(base: str, url: str, offset: int, body: bytes, declared: int) -> None:
    """A PATCH whose connection dies after `body` of `declared` bytes (a Wi-Fi drop)."""
    host, port = base.removeprefix("http://").split(":")
    auth = base64.b64encode(f"admin:{ADMIN_PW}".encode()).decode()
    head = (
        f"PATCH {url} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {auth}\r\n"
        f"Tus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n"
        f"Content-Type: application/offset+octet-stream\r\nContent-Length: {declared}\r\n\r\n"
    )
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head.encode() + body)
        time.sleep(0.5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    data = tmp_path_factory.mktemp("tus")
    with serve(make_settings(data)) as url:
        yield url, data  # type: ignore[misc]


def test_upload_drop_resume_and_run(app: tuple[str, Path]) -> None:
    base, _ = app
    clip = CLIP.read_bytes()
    with httpx.Client(base_url=base, auth=AUTH, timeout=60) as client:
        created = _create(
            client,
            len(clip),
            movement="walking",
            language="en",
            camera_roll_deg="-7.5",
            filename="take.mp4",
        )
        assert created.status_code == 201, created.text
        url = created.headers["location"]
        assert created.headers["tus-resumable"] == "1.0.0" and "upload-expires" in created.headers
        first = _patch(client, url, 0, clip[:300_000])
        assert first.status_code == 204 and first.headers["upload-offset"] == "300000"
        # The connection dies 200 kB into a 400 kB PATCH: what arrived is kept.
        _dropped_patch(base, url, 300_000, clip[300_000:500_000], 400_000)
        for _ in range(50):
            offset = int(client.head(url, headers=TUS).headers["upload-offset"])
            if offset >= 500_000:
                break
            time.sleep(0.1)
        assert 300_000 < offset <= 500_000, offset
        # Not complete yet: no run.
        early = client.post(url + "/run")
        assert early.status_code == 409 and early.json()["error"]["code"] == "upload_incomplete"
        wrong = _patch(client, url, 0, clip[:10])
        assert wrong.status_code == 409
        assert wrong.json()["error"]["code"] == "upload_offset_mismatch"
        assert str(offset) in wrong.json()["error"]["message"]
        rest = _patch(client, url, offset, clip[offset:])
        assert rest.status_code == 204 and int(rest.headers["upload-offset"]) == len(clip)
        done = client.post(url + "/run")
        assert done.status_code == 202, done.text
        run = client.get(done.json()["url"]).json()
        assert run["movement"] == "walking" and run["camera_roll_deg"] == -7.5
        assert run["original_filename"] == "take.mp4"
        # The upload is gone once it became a run.
        assert client.head(url, headers=TUS).status_code == 404


def test_discovery_says_what_the_server_speaks(app: tuple[str, Path]) -> None:
    base, _ = app
    with httpx.Client(base_url=base, auth=AUTH, timeout=30) as client:
        # tus 1.0 OPTIONS: no Tus-Resumable needed to ask; the answer lists what is spoken.
        for url in ("/api/uploads", "/api/uploads/0123abcd"):
            told = client.options(url)
            assert told.status_code == 204, told.text
            assert told.headers["tus-resumable"] == "1.0.0"
            assert told.headers["tus-version"] == "1.0.0"
            extensions = set(told.headers["tus-extension"].split(","))
            assert extensions == {"creation", "termination", "expiration"}
            assert int(told.headers["tus-max-size"]) == make_settings(Path("/x")).max_upload_bytes
    # Signed in like every other route.
    assert httpx.options(base + "/api/uploads").status_code == 401


def test_refusals(app: tuple[str, Path]) -> None:
    base, data = app
    with httpx.Client(base_url=base, auth=AUTH, timeout=30) as client:
        assert client.post("/api/uploads", headers={"Upload-Length": "10"}).status_code == 412
        huge = _create(client, 10 * 1024**4)
        assert huge.status_code == 413 and huge.json()["error"]["code"] == "file_too_large"
        bad = _create(client, 100, movement="juggling")
        assert bad.status_code == 422 and "movement" in bad.json()["error"]["message"]
        roll = _create(client, 100, camera_roll_deg="sideways")
        assert roll.status_code == 422
        # Ten bytes of text: the probe refuses it, in the upload's language, and it is deleted.
        made = _create(client, 10, language="ja")
        url = made.headers["location"]
        plain = client.patch(url, headers={**TUS, "Upload-Offset": "0"}, content=b"x" * 10)
        assert plain.status_code == 415
        assert _patch(client, url, 0, b"0123456789").status_code == 204
        refused = client.post(url + "/run")
        assert refused.status_code == 415 and refused.json()["error"]["code"] == "not_a_video"
        assert client.head(url, headers=TUS).status_code == 404
        # Another user's upload is not found, whatever they do with it.
        client.post("/api/users", json={"username": "coach2", "password": "coach-two-pass-9"})
        mine = _create(client, 10).headers["location"]
    with httpx.Client(base_url=base, auth=("coach2", "coach-two-pass-9")) as other:
        assert other.head(mine, headers=TUS).status_code == 404
        assert _patch(other, mine, 0, b"0123456789").status_code == 404
        assert other.delete(mine, headers=TUS).status_code == 404
    # Abandoned: untouched past upload_expiry_s, the sweep deletes it.
    settings = make_settings(data)
    folder = data / "uploads"
    old = time.time() - settings.upload_expiry_s - 10
    for f in folder.glob(mine.rsplit("/", 1)[-1] + ".*"):
        os.utime(f, (old, old))
    assert sweep(settings) == 1
    assert not list(folder.glob(mine.rsplit("/", 1)[-1] + ".*"))
