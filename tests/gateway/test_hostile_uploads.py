"""The catalogue of hostile uploads, each sent through POST /api/runs of a live server.

Every case must answer a clear 4xx code from the error catalogue (in ja and en), leave no file
behind (temp and storage folders), create no run, and leave the server serving. The server is a
real uvicorn on a free port (bytes really stream over a socket) with the job runner off, so
accepted runs stay queued and cost no pose estimation.
"""

from __future__ import annotations

import base64
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.kit.errors import CATALOGUE
from formcoach.kit.settings import Settings
from tests.conftest import make_settings
from tests.support.apputil import ADMIN_PW, run_folder_key
from tests.support.media import gradient_clip, long_clip
from tests.support.threaded_server import ThreadedServer
from tests.video_processing.test_video_processing import (
    _audio_only,
    _text,
    _zero_frames,
    write_clip,
)

LIMIT_MB = 1
LIMIT = LIMIT_MB * 1024 * 1024
AUTH = ("admin", ADMIN_PW)


@dataclass
class Live:
    url: str
    settings: Settings

    def client(self, lang: str = "en") -> httpx.Client:
        return httpx.Client(
            base_url=self.url, auth=AUTH, params={"lang": lang}, timeout=60, follow_redirects=False
        )

    def files(self) -> set[Path]:
        """Every file in the data folder that belongs to uploads (storage and temp)."""
        found: set[Path] = set()
        for folder in (self.settings.files_dir, self.settings.data_dir / "tmp"):
            if folder.is_dir():
                found |= {p for p in folder.rglob("*") if p.is_file()}
        return found


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    # No job runner: runs stay queued, so the per-user queue limit (tested in
    # test_run_identity.py) would refuse the concurrent uploads these tests make.
    settings = make_settings(
        tmp_path_factory.mktemp("hostile"), max_upload_mb=LIMIT_MB, max_queued_runs_per_user=100
    )
    prepare(settings)
    with ThreadedServer(create_app(settings, start_jobs=False), "formcoach") as server:
        yield Live(server.base_url.removesuffix("/v1"), settings)


def _runs_total(live: Live) -> int:
    with live.client() as c:
        return int(c.get("/api/runs").json()["total"])


def _assert_clean_and_serving(live: Live, files_before: set[Path], runs_before: int) -> None:
    assert live.files() == files_before, "an upload left a file behind"
    assert _runs_total(live) == runs_before, "a rejected upload created a run"
    with live.client() as c:
        assert c.get("/api/health").json()["status"] == "ok"


# --- makers of hostile files ----------------------------------------------------------------


def _truncated(path: Path) -> None:
    # A real clip cut in half (an interrupted upload): its index points past the end.
    gradient_clip(path, seconds=3.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _png(path: Path) -> None:
    Image.new("RGB", (640, 480), (200, 30, 30)).save(path, format="PNG")


def _jpeg(path: Path) -> None:
    Image.new("RGB", (640, 480), (30, 200, 30)).save(path, format="JPEG")


def _mpeg2(path: Path, frames: int = 30) -> None:
    import av

    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("mpeg2video", rate=25)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), 8 * i, np.uint8), "rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def _huge_frame(path: Path) -> None:
    """A 16x16 MPEG-2 clip whose sequence headers claim 16000x16000 (256 megapixels).

    MPEG-2 keeps the frame size at fixed bit positions (ISO/IEC 13818-2 6.2.2.1 and 6.2.2.3:
    12 bits in the sequence header, 2 more in the sequence extension), so the header can lie
    cheaply; decoding such a frame would need ~400 MB per frame.
    """
    _mpeg2(path)
    size = 16000
    low, ext = size & 0xFFF, (size >> 12) & 3
    data = bytearray(path.read_bytes())
    headers = extensions = 0
    pos = data.find(b"\x00\x00\x01\xb3")
    while pos >= 0:
        data[pos + 4 : pos + 7] = bytes([low >> 4, ((low & 0xF) << 4) | (low >> 8), low & 0xFF])
        headers += 1
        pos = data.find(b"\x00\x00\x01\xb3", pos + 4)
    pos = data.find(b"\x00\x00\x01\xb5")
    while pos >= 0:
        if data[pos + 4] >> 4 == 1:  # the sequence extension
            data[pos + 5] = (data[pos + 5] & 0xFE) | (ext >> 1)
            data[pos + 6] = (data[pos + 6] & 0x1F) | ((ext & 1) << 7) | (ext << 5)
            extensions += 1
        pos = data.find(b"\x00\x00\x01\xb5", pos + 4)
    assert headers and extensions
    path.write_bytes(bytes(data))


def _absurd_frame_rate(path: Path) -> None:
    """A real clip whose media header's timescale is 100000 times too large: 3 million fps."""
    write_clip(path, frames=45)
    data = bytearray(path.read_bytes())
    mdhd = data.find(b"mdhd") - 4
    assert data[mdhd + 8] == 0  # version 0: 32-bit times; timescale at offset 20
    (timescale,) = struct.unpack_from(">I", data, mdhd + 20)
    struct.pack_into(">I", data, mdhd + 20, timescale * 100000)
    path.write_bytes(bytes(data))


def _absurd_duration(path: Path) -> None:
    # Six 32x32 frames whose index spreads them over a whole day.
    long_clip(path, seconds=24 * 3600)


CATALOGUE_CASES: list[tuple[str, Callable[[Path], Any], str]] = [
    ("text named .mp4", _text, "not_a_video"),
    ("truncated MP4", _truncated, "not_a_video"),
    ("zero-byte file", _empty, "empty_file"),
    ("PNG image", _png, "not_a_video"),
    ("JPEG image", _jpeg, "not_a_video"),
    ("audio only", _audio_only, "audio_only"),
    ("container with no frames", _zero_frames, "not_a_video"),
    ("header claiming 16000x16000", _huge_frame, "frame_too_large"),
    ("header claiming 3 million fps", _absurd_frame_rate, "frame_rate_invalid"),
    ("header claiming 24 hours", _absurd_duration, "video_too_long"),
]


@pytest.mark.parametrize(
    ("case", "make", "code"), CATALOGUE_CASES, ids=[c[0] for c in CATALOGUE_CASES]
)
def test_hostile_file_is_refused_cleanly(
    live: Live, tmp_path: Path, case: str, make: Callable[[Path], Any], code: str
) -> None:
    path = tmp_path / "clip.mp4"
    make(path)
    files_before, runs_before = live.files(), _runs_total(live)
    messages = {}
    for lang in ("en", "ja"):
        with live.client(lang) as c, path.open("rb") as fh:
            r = c.post("/api/runs", files={"video": ("clip.mp4", fh, "video/mp4")})
        assert r.status_code == CATALOGUE[code].status, (case, r.text)
        assert 400 <= r.status_code < 500
        assert r.json()["error"]["code"] == code, (case, r.text)
        messages[lang] = r.json()["error"]["message"]
    assert messages["en"] and messages["ja"] and messages["en"] != messages["ja"]
    _assert_clean_and_serving(live, files_before, runs_before)


# --- size limit -----------------------------------------------------------------------------


def test_file_at_the_limit_is_read_one_byte_over_is_refused(live: Live, tmp_path: Path) -> None:
    files_before, runs_before = live.files(), _runs_total(live)
    at_limit = tmp_path / "at.mp4"
    at_limit.write_bytes(b"\x00" * LIMIT)
    over = tmp_path / "over.mp4"
    over.write_bytes(b"\x00" * (LIMIT + 1))
    with live.client() as c:
        with at_limit.open("rb") as fh:
            r = c.post("/api/runs", files={"video": ("at.mp4", fh, "video/mp4")})
        # Exactly the limit passes the size check and is then judged as a video.
        assert r.status_code == 415 and r.json()["error"]["code"] == "not_a_video"
        with over.open("rb") as fh:
            r = c.post("/api/runs", files={"video": ("over.mp4", fh, "video/mp4")})
        assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"
        assert f"{LIMIT_MB} MB" in r.json()["error"]["message"]
    _assert_clean_and_serving(live, files_before, runs_before)


def test_oversize_body_is_refused_while_streaming(live: Live) -> None:
    """A chunked body with no Content-Length: the server answers once the limit is passed and
    stops reading, so the client cannot push the whole 64 MB through."""
    files_before, runs_before = live.files(), _runs_total(live)
    host, port = live.url.removeprefix("http://").split(":")
    boundary = "hostileboundary"
    auth = "Basic " + base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    head = (
        f"POST /api/runs HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="video"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    chunk = b"\x00" * 65536
    total = 64 * 1024 * 1024
    sent = 0
    response = b""
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head + f"{len(part):x}\r\n".encode() + part + b"\r\n")
        sock.settimeout(5)
        try:
            while sent < total:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the server stopped reading: that is the point
        try:
            sock.settimeout(5)
            while b"\r\n\r\n" not in response:
                data = sock.recv(65536)
                if not data:
                    break
                response += data
        except (ConnectionResetError, TimeoutError):
            pass
    # Socket buffers on loopback hold a few MB at most; the rest was never read.
    assert sent < total // 4, f"the server read {sent} bytes of a {total}-byte body"
    if response:  # the answer can be lost to the reset that closes an unread body
        assert response.startswith(b"HTTP/1.1 413"), response[:200]
    _assert_clean_and_serving(live, files_before, runs_before)


# --- names ----------------------------------------------------------------------------------


def _raw_upload(live: Live, filename: bytes, clip: Path) -> httpx.Response:
    """A multipart body written by hand, so the file name reaches the server byte for byte."""
    boundary = b"namesboundary"
    body = (
        b"--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="video"; filename="'
        + filename
        + b'"\r\nContent-Type: video/mp4\r\n\r\n'
        + clip.read_bytes()
        + b"\r\n--"
        + boundary
        + b"--\r\n"
    )
    with live.client() as c:
        return c.post(
            "/api/runs",
            content=body,
            headers={"Content-Type": "multipart/form-data; boundary=namesboundary"},
        )


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (b"../../../../tmp/formcoach-escape.mp4", "formcoach-escape.mp4"),
        (b"..\\..\\windows\\win.ini", "win.ini"),
        (b"run\x01\x1b[2J\x7fning\t.mp4", "run[2Jning.mp4"),
        ("clip\u202e4pm.exe".encode(), "clip4pm.exe"),
        (b"..", "upload"),
        ("ランニング.mp4".encode(), "ランニング.mp4"),
    ],
)
def test_file_names_are_sanitised_and_never_paths(
    live: Live, tmp_path: Path, raw: bytes, stored: str
) -> None:
    clip = gradient_clip(tmp_path / "g.mp4", seconds=1.5)
    files_before = live.files()
    r = _raw_upload(live, raw, clip)
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    with live.client() as c:
        run = c.get(f"/api/runs/{run_id}").json()
        assert run["original_filename"] == stored
        # The upload is stored under the run's key only, whatever the name said.
        new = live.files() - files_before
        run_dir = live.settings.files_dir / "runs" / run_folder_key(live.settings.db_url, run_id)
        assert new and all(p.is_relative_to(run_dir) for p in new), new
        assert not Path("/tmp/formcoach-escape.mp4").exists()
        assert c.delete(f"/api/runs/{run_id}").status_code == 204
    assert live.files() == files_before


# --- concurrency ----------------------------------------------------------------------------


def test_concurrent_uploads_all_accepted_or_cleanly_refused(live: Live, tmp_path: Path) -> None:
    good = [gradient_clip(tmp_path / f"g{i}.mp4", seconds=1.5 + 0.1 * i) for i in range(6)]
    bad_text = tmp_path / "t.mp4"
    _text(bad_text)
    bad_audio = tmp_path / "a.mp4"
    _audio_only(bad_audio)
    uploads = [*good, bad_text, bad_audio]
    files_before, runs_before = live.files(), _runs_total(live)
    results: dict[int, httpx.Response] = {}
    start = threading.Barrier(len(uploads))

    def send(i: int, path: Path) -> None:
        with live.client() as c, path.open("rb") as fh:
            start.wait()
            results[i] = c.post("/api/runs", files={"video": (path.name, fh, "video/mp4")})

    threads = [threading.Thread(target=send, args=(i, p)) for i, p in enumerate(uploads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == len(uploads)
    accepted = [results[i].json()["id"] for i in range(len(good))]
    assert all(results[i].status_code == 202 for i in range(len(good))), results
    assert len(set(accepted)) == len(good)
    assert results[len(good)].json()["error"]["code"] == "not_a_video"
    assert results[len(good) + 1].json()["error"]["code"] == "audio_only"
    with live.client() as c:
        for run_id, path in zip(accepted, good, strict=True):
            run = c.get(f"/api/runs/{run_id}").json()
            assert run["original_filename"] == path.name and run["status"] == "queued"
            stored = (
                live.settings.files_dir
                / "runs"
                / run_folder_key(live.settings.db_url, run_id)
                / "upload.bin"
            )
            assert stored.read_bytes() == path.read_bytes()  # no upload mixed with another
        for run_id in accepted:
            assert c.delete(f"/api/runs/{run_id}").status_code == 204
    _assert_clean_and_serving(live, files_before, runs_before)
