"""analysis: the HTTP API (authenticated) and the pipeline stage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from formcoach.analysis import jobs
from formcoach.analysis.api import router
from formcoach.kit.pipeline import (
    ANALYSIS,
    FEATURES,
    POSE_META,
    VIDEO_INFO,
    RunOptions,
    StageContext,
)
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage
from tests.support.apputil import COACH, router_client

FPS = 30.0
N = 90


def features(cadence: float | None) -> dict[str, Any]:
    return {
        "schema": "formcoach.features/1",
        "fps": FPS,
        "times": [i / FPS for i in range(N)],
        "facing": "left",
        "series": {"trunk_lean_deg": [6.0] * N, "left_knee_flexion_deg": [40.0] * N},
        "summary": {"cadence_spm": cadence, "step_count": 8, "stats": {}},
    }


AUTH = COACH


@pytest.fixture()
def client(settings: Settings) -> Iterator[TestClient]:
    with router_client(settings, router, "/api/analysis") as test_client:
        yield test_client


def test_service_info_needs_authentication(client: TestClient) -> None:
    assert client.get("/api/analysis/").status_code == 401
    response = client.get("/api/analysis/", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["service"] == "analysis"


def test_reference_lists_ranges_with_sources(client: TestClient) -> None:
    assert client.get("/api/analysis/reference").status_code == 401
    body = client.get("/api/analysis/reference", headers=AUTH).json()
    cadence = body["movements"]["running"]["judged"]["cadence_spm"]
    assert (cadence["low"], cadence["high"]) == (160, 185) and cadence["source"]


def test_stage_writes_analysis_json(settings: Settings, tmp_path: Path) -> None:
    ctx = StageContext(
        run_id=7,
        options=RunOptions(movement="running", view="side"),
        storage=LocalStorage(tmp_path / "files"),
        settings=settings,
    )
    ctx.write_json(FEATURES, features(cadence=150.0))
    ctx.write_json(POSE_META, {"fps": FPS, "frames": N, "detection_rate": 1.0})
    ctx.write_json(VIDEO_INFO, {"proxy": {"fps": FPS, "frames": N, "duration_s": N / FPS}})
    jobs.run(ctx)
    first = ctx.storage.get_bytes(ctx.key(ANALYSIS))
    result = ctx.read_json(ANALYSIS)
    assert result["movement"] == "running"
    assert [f["code"] for f in result["findings"]] == ["cadence_low"]
    jobs.run(ctx)  # idempotent: a re-run gives the same artifact
    assert ctx.storage.get_bytes(ctx.key(ANALYSIS)) == first
