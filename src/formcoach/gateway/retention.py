"""Retention: runs older than ``FORMCOACH_RETENTION_DAYS`` are deleted with everything of theirs.

Two ways in: a sweep thread in the gateway (every ``FORMCOACH_RETENTION_SWEEP_INTERVAL_S``)
and ``formcoach purge`` (prints what it deleted). Each run goes in its own transaction through
the same ``delete_run`` as the API, so a purge stopped half-way leaves whole runs, and a run
still being processed is stopped by its worker (pipeline/orchestrator.py notices the run is gone).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from formcoach.accounts.users import User
from formcoach.gateway.service import delete_run
from formcoach.kit.background import PeriodicThread
from formcoach.kit.db import session_scope
from formcoach.kit.settings import Settings
from formcoach.kit.storage import get_storage
from formcoach.runs.models import Run
from formcoach.runs.service import delete_folders

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgedRun:
    run_id: int
    username: str
    created_at: datetime
    status: str


def expired_run_ids(settings: Settings, days: int, now: datetime | None = None) -> list[int]:
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    with session_scope(settings.db_url) as session:
        return list(session.scalars(select(Run.id).where(Run.created_at < cutoff).order_by(Run.id)))


def purge_expired(
    settings: Settings, days: int | None = None, now: datetime | None = None, dry_run: bool = False
) -> list[PurgedRun]:
    """Delete runs created more than ``days`` (default: the setting) days before ``now``."""
    days = days if days is not None else settings.retention_days
    if days is None:
        return []
    storage = get_storage(settings)
    purged: list[PurgedRun] = []
    for run_id in expired_run_ids(settings, days, now):
        with session_scope(settings.db_url) as session:
            run = session.get(Run, run_id)
            if run is None:  # deleted meanwhile (by its user, or another gateway's sweep)
                continue
            user = session.get(User, run.user_id)
            item = PurgedRun(run.id, user.username if user else "", run.created_at, run.status)
            folders = [] if dry_run else delete_run(session, storage, run, settings)
        delete_folders(storage, folders)  # again after the commit (see delete_run)
        purged.append(item)
        if not dry_run:
            log.info("retention: deleted run %s (created %s)", item.run_id, item.created_at)
    return purged


class RetentionSweeper:
    """Runs ``purge_expired`` in a daemon thread every interval while the gateway is up."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # A first pass at start-up, then one per interval.
        self._thread = PeriodicThread(
            "formcoach-retention",
            settings.retention_sweep_interval_s,
            lambda: purge_expired(self.settings),
            first_at_start=True,
        )

    def start(self) -> None:
        if self.settings.retention_days is not None:
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._thread.stop(timeout)
