"""PostgreSQL going away at upload time: a clear 503 with a code, and no half-created run.

A private PostgreSQL cluster (the same server binaries as the machine's) is stopped and started
by the test, so the shared server that other tests use is never disturbed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.scaled import ADMIN_PW, wait_http


class PrivatePostgres:
    def __init__(self) -> None:
        # The server runs as the postgres user, who cannot enter pytest's private tmp dirs.
        self.root = Path(tempfile.mkdtemp(prefix="formcoach-pg-", dir="/tmp"))
        self.root.chmod(0o755)
        shutil.chown(self.root, "postgres")
        self.port = free_port()
        self.data = self.root / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True)

    def init(self) -> None:
        self._as_postgres("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "server.log")
        self._as_postgres("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                "pg_ctl",
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture()
def gateway_on_private_pg(tmp_path: Path) -> Iterator[tuple[str, PrivatePostgres, Path]]:
    pg = PrivatePostgres()
    proc: subprocess.Popen[bytes] | None = None
    try:
        pg.init()
        pg.start()
        data_dir = tmp_path / "data"
        env = {
            **os.environ,
            "FORMCOACH_DATA_DIR": str(data_dir),
            "FORMCOACH_DATABASE_URL": pg.url,
            "FORMCOACH_ADMIN_PASSWORD": ADMIN_PW,
        }
        env.pop("FORMCOACH_BROKER_URL", None)
        port = free_port()
        log = tmp_path / "gateway.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "formcoach", "serve", "--port", str(port)],
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/api/health", proc, log)
        yield url, pg, data_dir
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
        pg.remove()


def _multipart(clip: Path) -> tuple[dict[str, str], bytes]:
    request = httpx.Request(
        "POST",
        "http://x/api/runs",
        files={"video": (clip.name, clip.read_bytes(), "video/mp4")},
        data={"movement": "auto"},
    )
    return {"content-type": request.headers["content-type"]}, request.read()


def test_database_down_at_upload_is_a_clear_503_and_leaves_nothing(
    gateway_on_private_pg: tuple[str, PrivatePostgres, Path], fixture_videos: dict[str, Path]
) -> None:
    url, pg, data_dir = gateway_on_private_pg
    auth = ("admin", ADMIN_PW)
    headers, body = _multipart(fixture_videos["single_person"])

    def body_that_outlives_the_database() -> Iterator[bytes]:
        yield body[:65536]
        time.sleep(1.0)  # the gateway has checked the credentials and is reading the body
        pg.stop()
        yield body[65536:]

    response = httpx.post(
        f"{url}/api/runs?lang=en",
        content=body_that_outlives_the_database(),
        headers=headers,
        auth=auth,
        timeout=60,
    )
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "database_unavailable"
    assert "database" in error["message"].lower()

    # Still down: every request says so, in Japanese too.
    ja = httpx.get(f"{url}/api/runs?lang=ja", auth=auth, timeout=30)
    assert ja.status_code == 503 and ja.json()["error"]["code"] == "database_unavailable"
    assert "データベース" in ja.json()["error"]["message"]

    pg.start()
    runs = httpx.get(f"{url}/api/runs", auth=auth, timeout=30)
    assert runs.status_code == 200 and runs.json()["total"] == 0, runs.text
    assert not (data_dir / "files" / "runs").exists() or not any(
        (data_dir / "files" / "runs").iterdir()
    )
    assert not any((data_dir / "tmp").iterdir())
    # Back to normal: the same upload now succeeds.
    again = httpx.post(f"{url}/api/runs", content=body, headers=headers, auth=auth, timeout=60)
    assert again.status_code == 202, again.text
