"""Helpers to run the real application in tests (TestClient with its job runner)."""

from __future__ import annotations

import base64
import time
from typing import Any

from fastapi.testclient import TestClient

ADMIN_PW = "admin-test-pw"


def basic(username: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


ADMIN = basic("admin", ADMIN_PW)


def wait_for_run(
    client: TestClient, run_id: int, headers: dict[str, str], timeout: float = 300
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/runs/{run_id}", headers=headers).json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.25)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def upload(client: TestClient, path: Any, headers: dict[str, str], **fields: str) -> Any:
    with open(path, "rb") as fh:
        return client.post(
            "/api/runs", headers=headers, files={"video": (path.name, fh, "video/mp4")}, data=fields
        )
