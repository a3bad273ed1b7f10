"""The progress estimate (gateway/eta.py): per-stage elapsed time and time left, the run's
time left and the time until the report, from the stage weights, the measured pace and the
clip duration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from formcoach.gateway.eta import with_eta
from formcoach.kit.settings import Settings
from formcoach.pipeline.stages import STAGE_WEIGHTS, STAGES
from formcoach.runs.schemas import RunOut, StageOut
from tests.conftest import make_settings

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _run(status: str, stages: dict[str, tuple[str, float, float | None]]) -> RunOut:
    """stages: name -> (status, progress, seconds since it started or its duration)."""
    out = []
    for name in STAGES:
        st, progress, secs = stages.get(name, ("pending", 0.0, None))
        started = None if secs is None else NOW - timedelta(seconds=secs)
        done = st == "done"
        out.append(
            StageOut(
                name=name,
                status=st,  # type: ignore[arg-type]
                progress=progress,
                attempts=1,
                started_at=started,
                finished_at=NOW if done else None,
                duration_s=secs if done else None,
                error_code=None,
            )
        )
    return RunOut(
        id=1,
        url="/api/runs/1",
        status=status,  # type: ignore[arg-type]
        stage=None,
        progress=0,
        movement="squat",
        view="side",
        height_cm=None,
        language="ja",
        original_filename="a.mp4",
        created_at=NOW,
        started_at=NOW,
        finished_at=None,
        stages=out,
        error=None,
        report_url=None,
        report_ready=status == "completed",
        pending_outputs=[],
    )


def _settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, eta_prior_s_per_clip_s=2.0, eta_prior_fixed_s=8.0)


def test_before_anything_is_measured_the_clip_length_sets_the_estimate(tmp_path: Path) -> None:
    run = with_eta(_run("queued", {}), 10.0, _settings(tmp_path), NOW)
    # T0 = 2 s per clip second x 10 s + 8 s = 28 s, nothing done yet.
    assert run.eta_s == pytest.approx(28.0, abs=0.3)
    total = sum(STAGE_WEIGHTS.values())
    pose = next(s for s in run.stages if s.name == "pose")
    assert pose.eta_s == round(28.0 * STAGE_WEIGHTS["pose"] / total, 1)
    assert run.report_eta_s is not None and run.report_eta_s < run.eta_s
    # No clip length and nothing measured: no number.
    assert with_eta(_run("queued", {}), None, _settings(tmp_path), NOW).eta_s is None


def test_the_running_stage_follows_its_own_pace(tmp_path: Path) -> None:
    run = with_eta(
        _run("running", {"probe": ("done", 1.0, 3.0), "pose": ("running", 0.25, 6.0)}),
        10.0,
        _settings(tmp_path),
        NOW,
    )
    probe, pose = run.stages[0], run.stages[1]
    assert probe.eta_s == 0.0 and probe.elapsed_s == 3.0
    # 6 s for a quarter: 18 s to go.
    assert pose.elapsed_s == 6.0 and pose.eta_s == 18.0
    assert run.eta_s is not None and run.eta_s > 18.0
    assert run.report_eta_s is not None and 18.0 < run.report_eta_s < run.eta_s


def test_finished_runs(tmp_path: Path) -> None:
    done = {name: ("done", 1.0, 1.0) for name in STAGES}
    assert with_eta(_run("completed", done), None, _settings(tmp_path), NOW).eta_s == 0.0
    failed = with_eta(
        _run("failed", {"probe": ("failed", 0.3, 2.0)}), 5.0, _settings(tmp_path), NOW
    )
    assert failed.eta_s is None and failed.report_eta_s is None
