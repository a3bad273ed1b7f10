"""Small helpers on video_jobs rows shared by the local and the cloud paths, and the spend
ledger kept in step with them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from formcoach.accounts.users import utcnow
from formcoach.kit.db import session_scope
from formcoach.kit.i18n import Language, pick
from formcoach.kit.settings import Settings
from formcoach.kit.storage import get_storage
from formcoach.video_generation.models import GenerationSpend, JobStatus, VideoJob

MESSAGES: dict[str, dict[str, str]] = {
    "queued": {"ja": "動画の生成を待っています", "en": "Video generation queued"},
    "running": {"ja": "動画を生成しています", "en": "Video generation in progress"},
    "completed": {"ja": "動画の生成が完了しました", "en": "Video generation completed"},
    "failed": {"ja": "動画の生成に失敗しました", "en": "Video generation failed"},
}
# Bumped whenever the local renderer's output changes, so cached videos are not reused.
LOCAL_RENDERER_VERSION = "3"  # 3: the band of band drills
STANDARD_FIGURE = "standard"


def video_key(job_id: int) -> str:
    return f"videos/{job_id}/drill.mp4"


def thumbnail_key(job_id: int) -> str:
    return f"videos/{job_id}/thumbnail.jpg"


def set_status(job: VideoJob, status: JobStatus) -> None:
    job.status = status
    job.message = pick(MESSAGES[status], job.language)
    job.updated_at = utcnow()


def cache_key(
    drill_id: str,
    size: str,
    seconds: str,
    language: Language,
    generator: str,
    figure: str,
    model: str,
) -> str:
    """Same inputs, same video: the key under which a finished video is reused."""
    version = LOCAL_RENDERER_VERSION if generator == "local" else model
    raw = "|".join((drill_id, size, seconds, language, generator, figure, version))
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def day_start(now: datetime | None = None) -> datetime:
    moment = now or datetime.now(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def record_failure(settings: Settings, job_id: int, code: str, message: str) -> None:
    with session_scope(settings.db_url) as session:
        job = session.get(VideoJob, job_id)
        if job is not None:
            job.error_code, job.error_message = code, message
            set_status(job, "failed")


def record_success(settings: Settings, job_id: int) -> bool:
    """Mark the job done; False when its run was deleted while it rendered, in which case the
    files just written are deleted too (nothing of a deleted run may stay behind)."""
    with session_scope(settings.db_url) as session:
        job = session.get(VideoJob, job_id)
        if job is not None:
            job.storage_key, job.thumbnail_key = video_key(job_id), thumbnail_key(job_id)
            job.error_code = job.error_message = None
            set_status(job, "completed")
            return True
    get_storage(settings).delete_prefix(f"videos/{job_id}")
    return False


def record_spend(session: Session, job: VideoJob, usd_per_second: float) -> None:
    """Make the ledger say what the job says it costs (billed_seconds, submitted_at).

    Called in the same transaction as every change of those two columns, so ledger and job
    never disagree while the job exists; once the job is deleted, its row stays as it was.
    A job billed nothing (refused, failed) has no row.
    """
    if job.request_marker is None:
        return
    row = session.scalar(
        select(GenerationSpend).where(GenerationSpend.request_marker == job.request_marker)
    )
    if job.billed_seconds <= 0 or job.submitted_at is None:
        if row is not None:
            session.execute(delete(GenerationSpend).where(GenerationSpend.id == row.id))
        return
    if row is None:
        row = GenerationSpend(request_marker=job.request_marker)
        session.add(row)
    row.generator = job.generator
    row.billed_seconds = job.billed_seconds
    row.usd = round(job.billed_seconds * usd_per_second, 4)
    submitted = job.submitted_at
    if submitted.tzinfo is None:  # read back from SQLite without the zone: it is UTC
        submitted = submitted.replace(tzinfo=UTC)
    row.submitted_at = submitted
    row.day = submitted.astimezone(UTC).date()
    session.flush()


def has_spend(session: Session, job: VideoJob) -> bool:
    if job.request_marker is None:
        return False
    found = session.scalar(
        select(GenerationSpend.id).where(GenerationSpend.request_marker == job.request_marker)
    )
    return found is not None
