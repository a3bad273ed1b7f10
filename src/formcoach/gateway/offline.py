"""The pipeline without a server: what `formcoach analyze` runs (same stages, same code)."""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path
from typing import Any

from tqdm import tqdm

from formcoach.accounts.users import User
from formcoach.gateway.report import DOWNLOADS, build_report
from formcoach.kit import pipeline as art
from formcoach.kit.db import session_scope
from formcoach.kit.errors import AppError
from formcoach.kit.i18n import Language
from formcoach.kit.settings import get_settings
from formcoach.kit.storage import LocalStorage
from formcoach.pipeline.orchestrator import process_run
from formcoach.pipeline.stages import STAGE_WEIGHTS, STAGES
from formcoach.runs import service as runs_service
from formcoach.runs.models import Run

# What the CLI writes next to report.json (report key -> file name in the output folder).
OUTPUTS = {
    "annotated_video": "annotated.mp4",
    "keypoints_csv": "keypoints.csv",
    "angles_csv": "angles.csv",
    "proxy_video": "proxy.mp4",
}


def analyze_file(
    video: Path,
    out_dir: Path,
    work_dir: Path,
    *,
    movement: str = "auto",
    view: str = "auto",
    height_cm: float | None = None,
    language: Language = "ja",
    show_progress: bool = True,
    subject: int | None = None,
    camera_roll_deg: float | None = None,
) -> dict[str, Any]:
    from formcoach.bootstrap import prepare
    from formcoach.video_processing.service import probe

    # Thresholds and models still come from the environment; only where data lives changes.
    settings = get_settings().model_copy(
        update={
            "data_dir": work_dir,
            "database_url": f"sqlite:///{work_dir / 'formcoach.db'}",
            "admin_password": secrets.token_urlsafe(16),
        }
    )
    prepare(settings)
    probe(video, settings)
    storage = LocalStorage(settings.files_dir)
    with session_scope(settings.db_url) as session:
        user = session.query(User).filter_by(username="admin").one()
        options = art.RunOptions(movement, view, height_cm, language, subject, camera_roll_deg)
        run = runs_service.create_run(
            session, user, options, video.name, video.stat().st_size, stages=STAGES
        )
        run_id, key = run.id, run.run_key
        storage.put_file(art.run_file(key, art.UPLOAD), video)

    total = sum(STAGE_WEIGHTS.values())
    bar = tqdm(total=100, unit="%", disable=not show_progress, bar_format="{l_bar}{bar}| {n:.0f}%")
    done: dict[str, float] = {}

    def hook(stage: str, fraction: float) -> None:
        done[stage] = fraction
        value = 100 * sum(STAGE_WEIGHTS[s] * f for s, f in done.items()) / total
        bar.set_description(stage)
        bar.update(value - bar.n)

    try:
        process_run(run_id, settings, hook)
    finally:
        bar.close()
    with session_scope(settings.db_url) as session:
        finished = session.get(Run, run_id)
        if finished is None:
            raise AppError("not_found")
        run = finished
        if run.status != "completed":
            raise AppError.recorded(run.error_code or "internal_error", run.error_message or "")
        report = build_report(run, storage, language)
    return _export(report, storage, key, out_dir)


def _export(
    report: dict[str, Any], storage: LocalStorage, run_key: str, out_dir: Path
) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for key, name in DOWNLOADS.items():
        src_key = art.run_file(run_key, name)
        if storage.exists(src_key):
            target = OUTPUTS.get(key, name)
            shutil.copyfile(storage.local_path(src_key), out_dir / target)
            files[key] = target
    for drill in report["drills"]:
        job_id = drill.get("video_job_id")
        key = f"videos/{job_id}/drill.mp4"
        if job_id is not None and storage.exists(key):
            target = f"drill_{drill['drill_id']}.mp4"
            shutil.copyfile(storage.local_path(key), out_dir / target)
            drill["video_url"] = target
    report = {**report, "files": files}
    pose_key = art.run_file(run_key, art.POSE_META)
    if storage.exists(pose_key):
        # The people found, for `formcoach analyze --list-tracks` and a second run with
        # --subject N.
        pose = json.loads(Path(storage.local_path(pose_key)).read_text())
        tracks = {"subject": pose.get("subject"), "tracks": pose.get("tracks", [])}
        (out_dir / "tracks.json").write_text(json.dumps(tracks, indent=2))
    (out_dir / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
    return report
