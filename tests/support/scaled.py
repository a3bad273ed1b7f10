"""The scaled-out topology started as plain processes (no Docker): a private Redis, a fresh
PostgreSQL database, a moto S3 server, the six services, the gateway and Celery workers.

Used by the scaled tests and by bench/workers_bench.py; it holds no tests itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

from formcoach.kit.pipeline import SERVICES
from tests.support.ports import free_port

ADMIN_PW = "root-test-pw9"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
BUCKET = "formcoach-test"


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url} exited:\n{log.read_text()[-4000:]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer:\n{log.read_text()[-4000:]}")


class Topology:
    """Every process of the scaled-out shape on this machine, each in its own session."""

    def __init__(self, root: Path, **env_overrides: str) -> None:
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.args: dict[str, list[str]] = {}
        self.redis_port = free_port()
        self.s3_url = f"http://127.0.0.1:{free_port()}"
        self.db_name = f"formcoach_{uuid.uuid4().hex[:10]}"
        self.db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.db_name}"
        self.gateway_url = f"http://127.0.0.1:{free_port()}"
        self.service_urls = {name: f"http://127.0.0.1:{free_port()}" for name in SERVICES}
        self.env = {
            **os.environ,
            "FORMCOACH_DATA_DIR": str(root / "data"),
            "FORMCOACH_DATABASE_URL": self.db_url,
            "FORMCOACH_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "FORMCOACH_ADMIN_PASSWORD": ADMIN_PW,
            "FORMCOACH_STORAGE_URL": f"s3://{BUCKET}/topology",
            "FORMCOACH_S3_ENDPOINT_URL": self.s3_url,
            "FORMCOACH_S3_ACCESS_KEY_ID": "test",
            "FORMCOACH_S3_SECRET_ACCESS_KEY": "test",
            # Short leases and watchdog passes keep the fault tests quick.
            "FORMCOACH_JOB_LEASE_S": "4",
            "FORMCOACH_JOB_HEARTBEAT_S": "1",
            "FORMCOACH_WATCHDOG_INTERVAL_S": "2",
            "FORMCOACH_JOB_RETRY_BACKOFF_S": "0.5",
            **env_overrides,
        }

    # --- processes ---------------------------------------------------------------------------

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        log = self.logs / f"{name}.log"
        self.args[name] = args
        self.procs[name] = subprocess.Popen(
            args,
            env=env or self.env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_redis(self) -> None:
        args = ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.root)]
        self.spawn("redis", args)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ping = subprocess.run(
                ["redis-cli", "-p", str(self.redis_port), "ping"], capture_output=True, text=True
            )
            if ping.stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise AssertionError("redis did not start")

    def stop_redis(self) -> None:
        """Like a restart of the CI Redis: nothing is saved, every message is gone."""
        subprocess.run(["redis-cli", "-p", str(self.redis_port), "shutdown", "nosave"], check=False)
        self.procs["redis"].wait(10)

    def start_s3(self) -> None:
        server = Path(sys.executable).with_name("moto_server")
        port = self.s3_url.rsplit(":", 1)[1]
        self.spawn("s3", [str(server), "-H", "127.0.0.1", "-p", port])
        wait_http(self.s3_url, self.procs["s3"], self.logs / "s3.log")
        import boto3

        boto3.client(
            "s3",
            endpoint_url=self.s3_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        ).create_bucket(Bucket=BUCKET)

    def formcoach(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "formcoach", *args]

    def start_worker(self, name: str, queues: str | None, concurrency: int) -> None:
        args = ["worker", f"--concurrency={concurrency}", f"--name={name}@%h"]
        if queues:
            args.append(f"--queues={queues}")
        self.spawn(name, self.formcoach(*args))

    def start(self, workers: list[tuple[str, str | None, int]]) -> None:
        self.start_redis()
        self.start_s3()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        subprocess.run(self.formcoach("migrate"), env=self.env, check=True, capture_output=True)
        for name, url in self.service_urls.items():
            port = url.rsplit(":", 1)[1]
            self.spawn(name, self.formcoach("serve", "--service", name, "--port", port))
        gateway_env = {
            **self.env,
            **{f"FORMCOACH_{n.upper()}_URL": u for n, u in self.service_urls.items()},
        }
        port = self.gateway_url.rsplit(":", 1)[1]
        self.spawn("gateway", self.formcoach("serve", "--port", port), env=gateway_env)
        for name, url in [*self.service_urls.items(), ("gateway", self.gateway_url)]:
            wait_http(f"{url}/api/health", self.procs[name], self.logs / f"{name}.log")
        for worker in workers:
            self.start_worker(*worker)

    def sessions(self, name: str) -> list[int]:
        """The sessions of a process and of its direct children (a worker's Celery process
        runs in a session of its own under `formcoach worker`)."""
        leader = self.procs[name].pid
        found = [leader]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == leader:
                    found.append(os.getsid(int(entry.name)))
            except (OSError, ValueError):
                continue
        return sorted(set(found))

    def kill_group(self, name: str) -> None:
        """SIGKILL a process and everything under it (a worker, its Celery process and pool),
        like a lost VM."""
        for session in self.sessions(name):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(session, signal.SIGKILL)
        self.procs[name].wait(10)

    def restart(self, name: str) -> None:
        self.spawn(name, self.args[name])

    def stop(self) -> None:
        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                sessions = self.sessions(name)
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
                for session in sessions:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(session, signal.SIGKILL)
        try:
            with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        except psycopg.Error:
            pass

    # --- API helpers -------------------------------------------------------------------------

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.gateway_url, auth=("admin", ADMIN_PW), timeout=120)

    def upload(self, client: httpx.Client, path: Path, **fields: str) -> int:
        with path.open("rb") as fh:
            response = client.post(
                "/api/runs", files={"video": (path.name, fh, "video/mp4")}, data=fields
            )
        assert response.status_code == 202, response.text
        return int(response.json()["id"])

    def wait_run(self, client: httpx.Client, run_id: int, timeout: float = 150) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                body: dict[str, Any] = client.get(f"/api/runs/{run_id}").json()
            except httpx.HTTPError:
                time.sleep(0.5)
                continue
            if body["status"] in ("completed", "failed"):
                return body
            time.sleep(0.3)
        raise AssertionError(f"run {run_id} did not finish in {timeout} s; logs in {self.logs}")

    def s3_object(self, key: str) -> bytes:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.s3_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        body: bytes = client.get_object(Bucket=BUCKET, Key=f"topology/{key}")["Body"].read()
        return body

    def redis_get(self, key: str) -> str | None:
        out = subprocess.run(
            ["redis-cli", "-p", str(self.redis_port), "get", key], capture_output=True, text=True
        ).stdout.strip()
        return out or None
