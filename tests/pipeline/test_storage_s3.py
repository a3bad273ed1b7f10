"""S3Storage against a real S3-compatible server (moto's server, run as its own process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage, S3Storage, Storage, get_storage, move_into
from tests.support.ports import free_port


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server process with one bucket, ``formcoach-test``."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    server = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError(log.read_text())
    import boto3

    boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="formcoach-test")
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(10)


def s3_settings(data_dir: Path, endpoint: str, prefix: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        storage_url=f"s3://formcoach-test/{prefix}",
        s3_endpoint_url=endpoint,
        s3_access_key_id="test",
        s3_secret_access_key="test",
    )


def _exercise(storage: Storage, tmp_path: Path) -> None:
    """The whole Storage interface, with the same expectations for every implementation."""
    storage.put_bytes("runs/1/a.json", b'{"a": 1}')
    assert storage.get_bytes("runs/1/a.json") == b'{"a": 1}'
    assert storage.exists("runs/1/a.json") and not storage.exists("runs/1/missing.json")
    assert storage.size("runs/1/a.json") == 8
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(300_000))
    storage.put_file("runs/1/upload.bin", src)
    assert storage.local_path("runs/1/upload.bin").read_bytes() == src.read_bytes()
    with storage.open("runs/1/upload.bin") as fh:
        assert fh.read(10) == src.read_bytes()[:10]
    # writer: nothing appears when the block fails; the file appears when it succeeds.
    with pytest.raises(RuntimeError), storage.writer("runs/1/out.mp4", suffix=".mp4") as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("stage crashed")
    assert not storage.exists("runs/1/out.mp4")
    with storage.writer("runs/1/out.mp4", suffix=".mp4") as tmp:
        tmp.write_bytes(b"video")
    assert storage.get_bytes("runs/1/out.mp4") == b"video"
    # A re-written object is never served stale from a local copy.
    storage.local_path("runs/1/a.json")
    storage.put_bytes("runs/1/a.json", b'{"a": 2}')
    assert storage.local_path("runs/1/a.json").read_bytes() == b'{"a": 2}'
    storage.put_bytes("runs/10/x.json", b"{}")
    assert storage.list("runs/1") == [
        "runs/1/a.json",
        "runs/1/out.mp4",
        "runs/1/upload.bin",
    ]
    moved = tmp_path / "moved.bin"
    moved.write_bytes(b"moved")
    move_into(storage, "runs/1/moved.bin", moved)
    assert storage.get_bytes("runs/1/moved.bin") == b"moved"
    storage.delete("runs/1/moved.bin")
    assert not storage.exists("runs/1/moved.bin")
    storage.delete_prefix("runs/1")
    assert storage.list("runs/1") == []
    assert storage.exists("runs/10/x.json"), "runs/1 must not reach into runs/10"
    with pytest.raises(FileNotFoundError):
        storage.get_bytes("runs/1/a.json")
    with pytest.raises(FileNotFoundError):
        storage.local_path("runs/1/a.json")
    with pytest.raises(ValueError):
        storage.put_bytes("../etc/passwd", b"")


def test_s3_storage_behaves_like_local_storage(s3_endpoint: str, tmp_path: Path) -> None:
    storage = get_storage(s3_settings(tmp_path / "s3", s3_endpoint, "unit"))
    assert isinstance(storage, S3Storage)
    _exercise(storage, tmp_path)
    local = get_storage(Settings(data_dir=tmp_path / "local"))
    assert isinstance(local, LocalStorage)
    _exercise(local, tmp_path)


def test_two_machines_share_files_through_s3(s3_endpoint: str, tmp_path: Path) -> None:
    """Two workers with separate local caches (separate machines) see each other's writes."""
    first = get_storage(s3_settings(tmp_path / "m1", s3_endpoint, "shared"))
    second = get_storage(s3_settings(tmp_path / "m2", s3_endpoint, "shared"))
    with first.writer("runs/7/pose.npz", suffix=".npz") as tmp:
        tmp.write_bytes(b"pose" * 1000)
    path = second.local_path("runs/7/pose.npz")
    assert path.read_bytes() == b"pose" * 1000
    assert not str(path).startswith(str(tmp_path / "m1"))
    other_prefix = get_storage(s3_settings(tmp_path / "m3", s3_endpoint, "elsewhere"))
    assert not other_prefix.exists("runs/7/pose.npz")


def test_bad_storage_url_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, storage_url="ftp://nowhere/x")
    with pytest.raises(ValueError, match="s3://"):
        get_storage(settings)
