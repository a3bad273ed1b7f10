"""Results before videos: the report is ready once analysis and advice are done."""

from __future__ import annotations

from pathlib import Path

from formcoach.accounts.users import User, hash_password
from formcoach.gateway.app import create_app
from formcoach.kit.db import session_scope
from formcoach.kit.migrate import upgrade
from formcoach.kit.pipeline import RunOptions
from formcoach.pipeline.orchestrator import finish_stage, first_pending_stage
from formcoach.pipeline.stages import REPORT_STAGES, STAGES
from formcoach.runs import service as runs_service
from formcoach.runs.models import Run
from tests.conftest import make_settings


def test_follow_up_stages_run_after_the_report_stages() -> None:
    assert STAGES[-2:] == ("annotate", "drill_videos")
    assert REPORT_STAGES == ("probe", "pose", "features", "analysis", "advice")


def test_report_is_ready_before_the_videos_and_the_run_completes_after_them(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    upgrade(settings.db_url)
    with session_scope(settings.db_url) as session:
        user = User(username="a", password_hash=hash_password("pw-for-tests"))
        session.add(user)
        session.flush()
        run = runs_service.create_run(session, user, RunOptions(), "a.mp4", 1, stages=STAGES)
        run_id, key = run.id, run.run_key
    views = []
    for stage in STAGES:
        assert first_pending_stage(settings, run_id, key) == stage
        assert finish_stage(settings, run_id, stage, {}, key)
        with session_scope(settings.db_url) as session:
            row = session.get(Run, run_id)
            assert row is not None
            views.append((stage, runs_service.run_view(row)))
    by_stage = dict(views)
    assert not by_stage["analysis"].report_ready
    assert by_stage["analysis"].report_url is None
    ready = by_stage["advice"]
    assert ready.report_ready and ready.report_url == f"/api/runs/{run_id}/report"
    assert ready.status != "completed"
    assert ready.pending_outputs == ["annotated_video", "drill_videos"]
    assert by_stage["annotate"].pending_outputs == ["drill_videos"]
    done = by_stage["drill_videos"]
    assert done.status == "completed" and done.report_ready and done.pending_outputs == []


def test_openapi_documents_the_report_and_the_run_fields(tmp_path: Path) -> None:
    schema = create_app(make_settings(tmp_path), start_jobs=False).openapi()
    report = schema["paths"]["/api/runs/{run_id}/report"]["get"]["responses"]["200"]
    assert report["content"]["application/json"]["schema"]["$ref"].endswith("/ReportOut")
    components = schema["components"]["schemas"]
    assert components["ReportOut"]["additionalProperties"] is False
    assert {"schema", "metrics", "findings", "advice", "drills", "summary"} <= set(
        components["ReportOut"]["properties"]
    )
    assert {"report_ready", "pending_outputs"} <= set(components["RunOut"]["properties"])
    paths = schema["paths"]
    assert {"/api/users", "/api/me", "/api/tokens", "/api/users/{user_id}"} <= set(paths)
    assert set(paths["/api/users/{user_id}"]) == {"patch", "delete"}
