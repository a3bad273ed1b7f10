"""Compositions over several services: deleting a run (its drill videos too), deleting a user
(their runs first), comparing two runs (through the analysis service)."""

from __future__ import annotations

import json

from sqlalchemy import delete as sa_delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from formcoach.accounts.sessions import end_user_sessions
from formcoach.accounts.users import ApiToken, User
from formcoach.kit.errors import AppError
from formcoach.kit.i18n import Language
from formcoach.kit.settings import Settings
from formcoach.kit.storage import Storage
from formcoach.runs.models import Run
from formcoach.runs.schemas import MetricChange, RunComparison
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
    """Per-metric change between two completed runs of the user (before -> after)."""
    from formcoach.analysis.compare import compare_analyses
    from formcoach.kit.pipeline import ANALYSIS, run_file

    runs = [get_run_for_user(session, user.id, i) for i in (before_id, after_id)]
    for run in runs:
        if run.status != "completed":
            raise AppError("run_not_ready", status=run.status)
    before, after = (json.loads(storage.get_bytes(run_file(r.run_key, ANALYSIS))) for r in runs)
    changes = compare_analyses(before, after, lang)
    return RunComparison(
        before_id=before_id,
        after_id=after_id,
        movement_before=str(before["movement"]),
        movement_after=str(after["movement"]),
        same_movement=before["movement"] == after["movement"],
        metrics=[MetricChange(**c) for c in changes],
    )
