"""A real server killed mid-run resumes after restart with the same result; the CLI end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from formcoach.kit.settings import Settings
from formcoach.kit.video_io import is_playable_h264
from tests.conftest import FIXTURES
from tests.support.apputil import ADMIN, ADMIN_PW
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def start_server(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FORMCOACH_DATA_DIR": str(data_dir),
        "FORMCOACH_ADMIN_PASSWORD": ADMIN_PW,
        "FORMCOACH_PORT": str(port),
    }
    env.pop("FORMCOACH_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "formcoach", "serve"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(log.read_text())


def test_killed_server_resumes_run_with_same_result(
    tmp_path: Path,
    fixture_videos: dict[str, Path],
    live_app: tuple[TestClient, Settings],
    completed_runs: dict[str, dict[str, Any]],
) -> None:
    data, log, port = tmp_path / "data", tmp_path / "server.log", free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(data, port, log)
    try:
        with fixture_videos["two_people"].open("rb") as fh:
            r = httpx.post(
                f"{base}/api/runs",
                headers=ADMIN,
                files={"video": ("clip.mp4", fh, "video/mp4")},
                data={"movement": "auto", "language": "ja"},
                timeout=60,
            )
        assert r.status_code == 202, r.text
        run_id = r.json()["id"]
        # Kill -9 in the middle of pose estimation, the longest stage.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            run = httpx.get(f"{base}/api/runs/{run_id}", headers=ADMIN).json()
            pose = next(s for s in run["stages"] if s["name"] == "pose")
            if pose["status"] == "running" and pose["progress"] > 0.1:
                break
            assert run["status"] in ("queued", "running"), run
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert pose["status"] == "running"

        proc = start_server(data, port, log)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            run = httpx.get(f"{base}/api/runs/{run_id}", headers=ADMIN).json()
            if run["status"] in ("completed", "failed"):
                break
            time.sleep(0.3)
        assert run["status"] == "completed", run
        attempts = {s["name"]: s["attempts"] for s in run["stages"]}
        assert attempts["probe"] == 1 and attempts["pose"] == 2, attempts
        report = httpx.get(f"{base}/api/runs/{run_id}/report", headers=ADMIN).json()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    client, _ = live_app
    reference = client.get(completed_runs["two_people"]["report_url"], headers=ADMIN).json()
    assert report["metrics"] == reference["metrics"]
    assert report["pose"] == reference["pose"]
    assert [f["code"] for f in report["findings"]] == [f["code"] for f in reference["findings"]]


def test_cli_analyze_writes_outputs(tmp_path: Path, fixture_videos: dict[str, Path]) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "FORMCOACH_DATA_DIR": str(tmp_path / "unused")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "formcoach",
            "analyze",
            # A clip the squat checks can assess: a report that assessed nothing has no drills.
            str(FIXTURES / "rohan-squat-barbell-side-portrait.mp4"),
            "--movement",
            "squat",
            "--lang",
            "en",
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["schema"] == "formcoach.report/1" and report["language"] == "en"
    assert report["movement"] == "squat"
    assert is_playable_h264(out / "annotated.mp4")
    frames = report["video"]["frames"]
    assert frames > 500 and (out / "keypoints.csv").read_text().count("\n") == frames + 1
    assert report["drills"]
    for drill in report["drills"]:
        assert is_playable_h264(out / drill["video_url"])
    assert "%" in proc.stderr  # the progress bar


def test_cli_bad_input_exit_code(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("hello")
    proc = subprocess.run(
        [sys.executable, "-m", "formcoach", "analyze", str(bogus), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "not_a_video" in proc.stderr
