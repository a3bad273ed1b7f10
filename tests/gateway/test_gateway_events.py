"""Live progress as server-sent events, read with httpx from the app served by uvicorn while the
real stages run (a clip with nobody in it: probe succeeds, pose fails, quickly)."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.kit.settings import Settings
from formcoach.pipeline.orchestrator import process_run
from tests.conftest import make_settings
from tests.support.apputil import ADMIN, basic
from tests.support.media import gradient_clip
from tests.support.threaded_server import ThreadedServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    # No job runner: the test runs the stages itself, after it has seen the queued state.
    # Short heartbeat and poll intervals so the test sees several of each in a few seconds.
    settings = make_settings(
        tmp_path_factory.mktemp("events"), events_poll_s=0.05, events_heartbeat_s=0.3
    )
    prepare(settings)
    with ThreadedServer(create_app(settings, start_jobs=False), "gateway") as srv:
        yield srv.base_url.removesuffix("/v1"), settings


def sse(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Parse a text/event-stream: each block as {"event", "id", "data"} or {"comment"}."""
    block: dict[str, Any] = {}
    for line in lines:
        if line == "":
            if block:
                yield block
            block = {}
        elif line.startswith(":"):
            block["comment"] = line[1:].strip()
        else:
            field, _, value = line.partition(":")
            block[field] = value.removeprefix(" ")
    if block:
        yield block


def _upload(base: str, tmp_path: Path) -> int:
    clip = gradient_clip(tmp_path / "empty-room.mp4", seconds=2)
    with open(clip, "rb") as fh:
        r = httpx.post(
            f"{base}/api/runs",
            headers=ADMIN,
            files={"video": (clip.name, fh, "video/mp4")},
            data={"movement": "running", "person": "Event Test"},
            timeout=60,
        )
    assert r.status_code == 202, r.text
    return int(r.json()["id"])


def test_stream_follows_the_stages_until_the_run_fails(
    server: tuple[str, Settings], tmp_path: Path
) -> None:
    base, settings = server
    run_id = _upload(base, tmp_path)
    url = f"{base}/api/runs/{run_id}/events"
    blocks: list[dict[str, Any]] = []
    worker: threading.Thread | None = None
    with httpx.stream("GET", url, headers=ADMIN, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        for block in sse(response.iter_lines()):
            blocks.append(block)
            heartbeats = sum("comment" in b for b in blocks)
            if worker is None and heartbeats >= 2:
                # Nothing changes while queued: only heartbeats. Now run the real stages.
                worker = threading.Thread(target=process_run, args=(run_id, settings))
                worker.start()
    assert worker is not None
    worker.join(60)
    assert blocks[0] == {"retry": "2000"}
    events = [b for b in blocks if "event" in b]
    runs = [json.loads(b["data"]) for b in events]
    assert all(b["event"] == "run" for b in events)
    # One event per change, numbered; the first is the queued run, the last the failure.
    assert [int(b["id"]) for b in events] == list(range(1, len(events) + 1))
    assert runs[0]["status"] == "queued" and runs[0]["person"] == "Event Test"
    assert runs[-1]["status"] == "failed"
    assert runs[-1]["error"]["code"] == "no_person_detected"
    assert all(a != b for a, b in itertools.pairwise(runs))
    progress = [r["progress"] for r in runs]
    assert progress == sorted(progress)
    seen = {(s["name"], s["status"]) for r in runs for s in r["stages"]}
    # A stage quicker than the poll interval (a remuxed proxy) may only be seen done.
    assert {("probe", "done"), ("pose", "failed")} <= seen
    assert any(status == "running" for _, status in seen)
    # The heartbeats came while nothing changed, before the stages started.
    first_change = blocks.index(events[1])
    assert sum("comment" in b for b in blocks[:first_change]) >= 2
    assert all(b.get("comment") == "heartbeat" for b in blocks if "comment" in b)

    # A finished run: one event, then the stream ends at once.
    again = httpx.get(url, headers=ADMIN, timeout=30)
    finished = [b for b in sse(iter(again.text.split("\n"))) if "event" in b]
    assert len(finished) == 1 and json.loads(finished[0]["data"])["status"] == "failed"


def test_stream_is_owner_only_and_says_when_the_run_is_gone(
    server: tuple[str, Settings], tmp_path: Path
) -> None:
    base, _ = server
    run_id = _upload(base, tmp_path)
    url = f"{base}/api/runs/{run_id}/events"
    made = httpx.post(
        f"{base}/api/users",
        headers=ADMIN,
        json={"username": "watcher", "password": "observer-pass-42"},
    )
    assert made.status_code == 201, made.text
    other = httpx.get(url, headers=basic("watcher", "observer-pass-42"), timeout=30)
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    anonymous = httpx.get(url, timeout=30)
    assert anonymous.status_code == 401
    missing = httpx.get(f"{base}/api/runs/999999/events", headers=ADMIN, timeout=30)
    assert missing.status_code == 404

    events: list[dict[str, Any]] = []
    with httpx.stream("GET", url, headers=ADMIN, timeout=30) as response:
        for block in sse(response.iter_lines()):
            if "event" in block:
                events.append(block)
                if len(events) == 1:
                    deleted = httpx.delete(f"{base}/api/runs/{run_id}", headers=ADMIN, timeout=30)
                    assert deleted.status_code == 204
    assert [e["event"] for e in events] == ["run", "gone"]
    assert json.loads(events[1]["data"]) == {"id": run_id}
