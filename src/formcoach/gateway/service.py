"""Compositions over several services: deleting a run (its drill videos too), deleting a user
(their runs first), comparing two runs (through the analysis service)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from formcoach.accounts.sessions import end_user_sessions
from formcoach.accounts.users import ApiToken, User
from formcoach.analysis.schemas import Reference
from formcoach.kit.errors import AppError
from formcoach.kit.i18n import Language
from formcoach.kit.settings import Settings
from formcoach.kit.storage import Storage
from formcoach.runs.models import Run
from formcoach.runs.schemas import MetricChange, RunComparison, SubjectCheck
from formcoach.runs.service import get_run_for_user


def delete_user(
    session: Session, storage: Storage, user_id: int, settings: Settings | None = None
) -> list[str]:
    """Remove the user, every run of theirs (files included) and their tokens; returns the
    storage folders deleted (see delete_run)."""
    user = session.get(User, user_id)
    if user is None:
        raise AppError("not_found")
    folders: list[str] = []
    for run in list(session.scalars(select(Run).where(Run.user_id == user_id))):
        folders += delete_run(session, storage, run, settings)
    # Explicit rather than left to ON DELETE CASCADE, which SQLite only honours per connection.
    session.execute(sa_delete(ApiToken).where(ApiToken.user_id == user_id))
    end_user_sessions(session, user_id)
    session.delete(user)
    session.flush()
    return folders


def delete_run(
    session: Session, storage: Storage, run: Run, settings: Settings | None = None
) -> list[str]:
    """Remove the run, its files and its drill videos (cancelling paid cloud jobs, given settings).

    Returns the storage folders deleted. A worker may still be writing into them until the
    caller commits, so the caller deletes them once more after the commit
    (``delete_folders``); the worker itself stops and cleans up when it sees the run gone.
    """
    from formcoach.video_generation.service import delete_videos_for_run

    folders = delete_videos_for_run(session, storage, run.id, settings)
    storage.delete_prefix(run.folder)
    session.delete(run)
    session.flush()
    return [*folders, run.folder]


def compare_runs(
    session: Session, storage: Storage, user: User, before_id: int, after_id: int, lang: Language
) -> RunComparison:
    """Per-metric change and verdict between two completed runs of the user (before ->
    after), and whether they are of the same person."""
    from formcoach.analysis.compare import compare_analyses, subject_match
    from formcoach.kit.pipeline import ANALYSIS, FEATURES

    runs = _completed(session, user, before_id, after_id)
    before, after = (_artifact(storage, r, ANALYSIS) for r in runs)
    # Runs analysed from features written before `scale` existed (or without features.json)
    # have no stature: the same-person check then says it cannot tell.
    scales = [_artifact(storage, r, FEATURES, missing_ok=True).get("scale") for r in runs]
    changes = compare_analyses(before, after, lang)
    subject = subject_match(runs[0].person, runs[1].person, scales[0], scales[1])
    return RunComparison(
        before_id=before_id,
        after_id=after_id,
        movement_before=str(before["movement"]),
        movement_after=str(after["movement"]),
        same_movement=before["movement"] == after["movement"],
        metrics=[MetricChange(**c) for c in changes],
        subject=SubjectCheck(**subject),
    )


def compare_overlay(
    session: Session, storage: Storage, user: User, before_id: int, after_id: int, ref: Reference
) -> dict[str, Any]:
    """The two runs' skeletons at matching phases (analysis/phases.py), for the compare page's
    canvas: read from each run's features.json and keypoints.json."""
    from formcoach.analysis.phases import overlay_data
    from formcoach.kit.pipeline import ANALYSIS, FEATURES, KEYPOINTS_JSON

    runs = _completed(session, user, before_id, after_id)
    movements = [str(_artifact(storage, r, ANALYSIS)["movement"]) for r in runs]
    features = [_artifact(storage, r, FEATURES) for r in runs]
    keypoints = [_artifact(storage, r, KEYPOINTS_JSON) for r in runs]
    data = overlay_data(
        movements[0],
        movements[1],
        (features[0], features[1]),
        (keypoints[0], keypoints[1]),
        ref,
    )
    # The frame step moves each video by one of its own frames.
    data["fps"] = [float(f.get("fps") or 30.0) for f in features]
    return data


def _completed(session: Session, user: User, *run_ids: int) -> list[Run]:
    runs = [get_run_for_user(session, user.id, i) for i in run_ids]
    for run in runs:
        if run.status != "completed":
            raise AppError("run_not_ready", status=run.status)
    return runs


def _artifact(storage: Storage, run: Run, name: str, missing_ok: bool = False) -> dict[str, Any]:
    from formcoach.kit.pipeline import run_file

    key = run_file(run.run_key, name)
    if missing_ok and not storage.exists(key):
        return {}
    data: dict[str, Any] = json.loads(storage.get_bytes(key))
    return data
