"""Issue 23 items 5-8 (part): errors that fit their cause in the request's language, the schema
matching the server (Allow, id bounds, dates), sparse clips, full disks, no-store, local docs."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient

from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.kit.settings import Settings
from tests.conftest import make_settings
from tests.support.apputil import ADMIN, upload


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Settings]]:
    settings = make_settings(tmp_path / "data")
    prepare(settings)
    with TestClient(create_app(settings, start_jobs=False)) as client:
        yield client, settings


def _sparse_clip(path: Path, frames: int = 2, fps: int = 1) -> None:
    """A real H.264 clip of `frames` frames at `fps` (PyAV)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i in range(frames):
            image = np.full((240, 320, 3), 40 + 80 * i, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_two_frame_one_fps_clip_is_refused_in_the_request_language(
    app: tuple[TestClient, Settings], tmp_path: Path
) -> None:
    client, _ = app
    clip = tmp_path / "sparse.mp4"
    _sparse_clip(clip)
    r = upload(client, clip, {**ADMIN, "Accept-Language": "en"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "clip_too_sparse"
    assert "30 fps" in r.json()["error"]["message"]  # the filming tip, in English
    ja = upload(client, clip, ADMIN, language="ja")
    assert (
        ja.json()["error"]["code"] == "clip_too_sparse" and "コマ" in ja.json()["error"]["message"]
    )
    assert client.get("/api/runs", headers=ADMIN).json()["total"] == 0


def test_empty_filename_is_the_video_not_a_long_field(
    app: tuple[TestClient, Settings], tmp_path: Path
) -> None:
    client, _ = app
    clip = tmp_path / "sparse.mp4"
    _sparse_clip(clip)
    with clip.open("rb") as fh:
        r = client.post("/api/runs", headers=ADMIN, files={"video": ("", fh, "video/mp4")})
    assert "too long" not in r.text
    assert r.json()["error"]["code"] == "clip_too_sparse", r.text


def test_schema_matches_server(app: tuple[TestClient, Settings]) -> None:
    client, _ = app
    r = client.put("/api/runs/1", headers=ADMIN)
    assert r.status_code == 405
    assert "GET" in r.headers["allow"].split(", ")
    big = client.get(f"/api/runs/{2**63}", headers={**ADMIN, "Accept-Language": "en"})
    assert big.status_code == 422 and big.json()["error"]["code"] == "validation_error"
    spec = client.get("/openapi.json").json()
    param = spec["paths"]["/api/runs/{run_id}"]["get"]["parameters"][0]
    assert param["schema"]["maximum"] == 2**63 - 1 and param["schema"]["minimum"] == 1
    for bad in ("0", "2024-13-45", "yesterday"):
        r = client.get("/api/runs", params={"date_to": bad}, headers=ADMIN)
        assert r.status_code == 422, bad
    ok = client.get("/api/runs", params={"date_to": "9999-12-31"}, headers=ADMIN)
    assert ok.status_code == 200


def test_english_client_of_a_japanese_account_reads_english(
    app: tuple[TestClient, Settings],
) -> None:
    client, _ = app
    r = client.get("/api/runs/424242", headers={**ADMIN, "Accept-Language": "en"})
    assert r.status_code == 404 and r.json()["error"]["message"] == "Not found."


def test_private_answers_are_no_store_and_docs_are_local(
    app: tuple[TestClient, Settings],
) -> None:
    client, _ = app
    for path in ("/api/me", "/api/runs", "/login", "/api/runs/999"):
        assert client.get(path, headers=ADMIN).headers["cache-control"] == "no-store", path
    assert "no-store" not in client.get("/static/app.css").headers.get("cache-control", "")
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "://" not in docs.text  # no CDN or any other host
    for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"):
        assert client.get(asset).status_code == 200, asset
    assert client.get("/redoc").status_code == 404


def test_full_disk_ready_and_upload(tmp_path: Path) -> None:
    """A real 8 MB tmpfs as data folder (database outside it)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], check=True)
    try:
        settings = make_settings(
            mnt, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", min_free_disk_mb=1
        )
        prepare(settings)
        with TestClient(create_app(settings, start_jobs=False)) as client:
            assert client.get("/api/ready").status_code == 200
            filler = mnt / "filler"
            fh = filler.open("wb", buffering=0)
            with pytest.raises(OSError):
                while True:
                    fh.write(b"\0" * 65536)
            fh.close()
            down = client.get("/api/ready", headers={"Accept-Language": "en"})
            assert down.status_code == 503 and "low space" in down.json()["error"]["message"]
            clip = tmp_path / "sparse.mp4"
            _sparse_clip(clip)
            r = upload(client, clip, {**ADMIN, "Accept-Language": "en"})
            assert r.status_code == 507 and r.json()["error"]["code"] == "storage_full"
            assert not any((mnt / "tmp").glob("*")) if (mnt / "tmp").exists() else True
            filler.unlink()
            assert client.get("/api/ready").status_code == 200
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
