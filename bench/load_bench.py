"""Load on the one-process default: status polling during a pose job, then 20 uploads at once.

Starts `formcoach serve` as a subprocess (free port, temporary data dir, default settings),
uploads the two-person clip and, once its pose stage runs, lets CLIENTS concurrent clients
(each its own HTTP connection, like browsers) poll ``GET /api/runs/{id}`` every INTERVAL
seconds for DURATION seconds with a bearer token. Prints latency percentiles and the error
rate. The pollers are one asyncio process speaking HTTP/1.1 keep-alive over raw streams (an
httpx client per poller costs as much CPU as the server on this 2-core machine and would
distort the figure); latency is from sending the request to the last byte of the body. The
client's own CPU seconds, the server's, and the load average before/after go into the JSON. Then sends 20 uploads of the single-person clip at once and waits until every run has
finished: none may be lost or failed. Writes bench/results/load.json.

    .venv/bin/python bench/load_bench.py [CLIENTS] [DURATION_S] [INTERVAL_S] [UPLOADS]

Targets (issue 8): p99 < 100 ms and 0 errors while a pose job runs; every upload completes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "fixtures" / "videos"
POSE_CLIP = CLIPS / "sports2d-demo-two-people.mp4"
UPLOAD_CLIP = CLIPS / "pose2sim-single-person-cam01.mp4"
OUT = ROOT / "bench" / "results" / "load.json"
PASSWORD = "load-bench-admin-pw"
TARGET_P99_MS = 100.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


def start_server(data_dir: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FORMCOACH_DATA_DIR": str(data_dir),
        "FORMCOACH_ADMIN_PASSWORD": PASSWORD,
        "FORMCOACH_PORT": str(port),
    }
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "formcoach", "serve"], env=env, stdout=log, stderr=log
    )


def wait_ready(base: str, server: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            if httpx.get(f"{base}/api/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the server did not become ready")


async def upload(client: httpx.AsyncClient, clip: Path, headers: dict[str, str]) -> int:
    with clip.open("rb") as fh:
        response = await client.post(
            "/api/runs",
            headers=headers,
            files={"video": (clip.name, fh, "video/mp4")},
            data={"movement": "auto", "language": "en"},
        )
    response.raise_for_status()
    run_id: int = response.json()["id"]
    return run_id


async def wait_stage(client: httpx.AsyncClient, run_id: int, stage: str, auth: Any) -> None:
    while True:
        body = (await client.get(f"/api/runs/{run_id}", headers=auth)).json()
        if body["stage"] == stage or body["status"] in ("completed", "failed"):
            return
        await asyncio.sleep(0.1)


class KeepAliveClient:
    """One HTTP/1.1 keep-alive connection, as one browser tab would hold: GET only, lean."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.extra}\r\n"
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, close = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        await self.reader.readexactly(length)
        if close:
            await self.close()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def poller(
    client: KeepAliveClient, path: str, until: float, interval: float, out: dict[str, Any]
) -> None:
    await asyncio.sleep(random.uniform(0, interval))  # clients do not start in lockstep
    while time.monotonic() < until:
        started = time.perf_counter()
        try:
            ok = await asyncio.wait_for(client.get(path), 10) == 200
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            ok = False
            await client.close()
        elapsed = time.perf_counter() - started
        out["latencies"].append(elapsed * 1000)
        out["errors"] += 0 if ok else 1
        await asyncio.sleep(max(0.0, interval - elapsed))


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of this process (pid None) or of another one (/proc)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime (fields 14-17): the children are the pose workers.
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


async def polling_phase(
    base: str, auth: dict[str, str], clients: int, duration: float, interval: float, server_pid: int
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        run_id = await upload(client, POSE_CLIP, auth)
        await wait_stage(client, run_id, "pose", auth)
        out: dict[str, Any] = {"latencies": [], "errors": 0}
        host, port = base.removeprefix("http://").rsplit(":", 1)
        pool = [KeepAliveClient(host, int(port), auth) for _ in range(clients)]
        load_before = os.getloadavg()[0]
        client_cpu, server_cpu = cpu_seconds(), cpu_seconds(server_pid)
        until = time.monotonic() + duration
        path = f"/api/runs/{run_id}"
        try:
            await asyncio.gather(*(poller(c, path, until, interval, out) for c in pool))
        finally:
            await asyncio.gather(*(c.close() for c in pool))
        client_cpu = cpu_seconds() - client_cpu
        server_cpu = cpu_seconds(server_pid) - server_cpu
        load_after = os.getloadavg()[0]
        state = (await client.get(f"/api/runs/{run_id}", headers=auth, timeout=300)).json()
    lat: list[float] = out["latencies"]
    return {
        "clients": clients,
        "interval_s": interval,
        "duration_s": duration,
        "requests": len(lat),
        "requests_per_s": round(len(lat) / duration, 1),
        "errors": out["errors"],
        "error_rate": round(out["errors"] / max(len(lat), 1), 5),
        "p50_ms": round(percentile(lat, 50), 1),
        "p95_ms": round(percentile(lat, 95), 1),
        "p99_ms": round(percentile(lat, 99), 1),
        "max_ms": round(max(lat), 1) if lat else None,
        "pose_job": {
            "run_id": run_id,
            "stage_after": state["stage"],
            "status_after": state["status"],
        },
        "client_cpu_s": round(client_cpu, 2),
        # The web process and, while the pose job runs in it, the job too.
        "server_cpu_s": round(server_cpu, 2),
        "load_1min_before": round(load_before, 2),
        "load_1min_after": round(load_after, 2),
    }


async def upload_phase(base: str, auth: dict[str, str], uploads: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        started = time.monotonic()
        ids = await asyncio.gather(*(upload(client, UPLOAD_CLIP, auth) for _ in range(uploads)))
        accepted_s = time.monotonic() - started
        final: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + 1800
        while len(final) < len(ids) and time.monotonic() < deadline:
            for run_id in ids:
                if run_id in final:
                    continue
                body = (await client.get(f"/api/runs/{run_id}", headers=auth)).json()
                if body["status"] in ("completed", "failed"):
                    final[run_id] = body
            await asyncio.sleep(1.0)
        listed = (await client.get("/api/runs?per_page=100", headers=auth)).json()
    listed_ids = {item["id"] for item in listed["items"]}
    return {
        "uploads": uploads,
        "accepted": len(ids),
        "distinct_runs": len(set(ids)),
        "all_listed": set(ids) <= listed_ids,
        "completed": sum(1 for b in final.values() if b["status"] == "completed"),
        "failed": [b["id"] for b in final.values() if b["status"] != "completed"],
        "unfinished": [i for i in ids if i not in final],
        "uploads_accepted_s": round(accepted_s, 1),
        "all_finished_s": round(time.monotonic() - started, 1),
    }


def main() -> None:
    clients = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    duration = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    interval = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    uploads = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    with tempfile.TemporaryDirectory(prefix="formcoach-load-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(Path(tmp) / "data", port, Path(tmp) / "server.log")
        try:
            wait_ready(base, server)
            basic = httpx.BasicAuth("admin", PASSWORD)
            made = httpx.post(f"{base}/api/tokens", auth=basic, json={"name": "bench"}, timeout=30)
            auth = {"Authorization": f"Bearer {made.json()['token']}"}
            polling = asyncio.run(
                polling_phase(base, auth, clients, duration, interval, server.pid)
            )
            burst = asyncio.run(upload_phase(base, auth, uploads)) if uploads else None
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()  # a pose job in a worker thread can hold a graceful stop up
                server.wait(30)
    print(
        f"{'clients':>8} {'requests':>9} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}"
    )
    print(
        f"{polling['clients']:>8} {polling['requests']:>9} {polling['requests_per_s']:>7} "
        f"{polling['p50_ms']:>8} {polling['p95_ms']:>8} {polling['p99_ms']:>8} {polling['errors']:>7}"
    )
    verdict = polling["p99_ms"] < TARGET_P99_MS and polling["errors"] == 0
    print(f"target p99 < {TARGET_P99_MS:.0f} ms, 0 errors: {'met' if verdict else 'NOT met'}")
    print(
        f"load average (1 min) before/after: {polling['load_1min_before']} / {polling['load_1min_after']}"
    )
    print(
        f"CPU s during polling: client {polling['client_cpu_s']}, server {polling['server_cpu_s']}"
    )
    if burst is not None:
        print(
            f"{burst['uploads']} uploads at once: {burst['completed']} completed, "
            f"failed {burst['failed']}, unfinished {burst['unfinished']}, "
            f"all finished in {burst['all_finished_s']} s"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "target_p99_ms": TARGET_P99_MS,
                "polling": polling,
                "uploads": burst,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
