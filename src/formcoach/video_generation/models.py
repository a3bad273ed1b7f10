"""Database tables of drill-video jobs (the durable record the job runner resumes from) and of
the paid cloud seconds (the spend ledger)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from sqlalchemy import Date, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from formcoach.accounts.users import utcnow
from formcoach.kit.db import Base, UTCDateTime
from formcoach.kit.i18n import Language

JOB_STATUSES: tuple[str, ...] = ("queued", "running", "completed", "failed")
JobStatus = Literal["queued", "running", "completed", "failed"]
UNFINISHED: tuple[JobStatus, ...] = ("queued", "running")


class VideoJob(Base):
    __tablename__ = "video_jobs"
    # Job ids name a user's videos (status URLs, folders): never handed out twice (0006).
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    drill_id: Mapped[str] = mapped_column(String(64))
    drill_text: Mapped[str] = mapped_column(Text, default="")  # what the caller sent
    language: Mapped[Language] = mapped_column(String(2), default="ja")
    size: Mapped[str] = mapped_column(String(16), default="1280x720")
    seconds: Mapped[str] = mapped_column(String(4), default="8")
    generator: Mapped[str] = mapped_column(String(32), default="local")
    status: Mapped[JobStatus] = mapped_column(String(16), default="queued", index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    storage_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    thumbnail_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # "standard" proportions, or a tag of the user's own; part of the cache key.
    figure: Mapped[str] = mapped_column(String(32), default="standard")
    # Same key = same video (drill, size, seconds, language, generator, figure): reused at once.
    cache_key: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # Cloud jobs. The marker goes into the prompt and is committed before the provider is
    # called, so a create whose answer was lost is found again instead of being sent twice.
    request_marker: Mapped[str | None] = mapped_column(String(64), nullable=True)
    provider_job_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    provider_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Seconds counted against the daily budget (0 for local videos and refused requests).
    billed_seconds: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class GenerationSpend(Base):
    """Paid cloud seconds, one row per cloud job that reached the provider: the ledger the
    daily budget and /metrics read.

    It outlives the job: deleting a run deletes its video_jobs rows, and spend counted from
    them would be forgotten (a user could delete runs to reset the budget). It keeps nothing
    about whose it was: no user, run or drill, only the job's random request marker (to update
    the row while the job runs; it names nothing once the job is gone), the generator, the
    seconds and their price, and when it was submitted.
    """

    __tablename__ = "generation_spend"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_marker: Mapped[str] = mapped_column(String(64), unique=True)
    generator: Mapped[str] = mapped_column(String(32))
    billed_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # At the price configured when the seconds were billed (FORMCOACH_CLOUD_VIDEO_USD_PER_SECOND).
    usd: Mapped[float] = mapped_column(Numeric(12, 4, asdecimal=False), default=0.0)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # UTC day of submitted_at, for sums per day or month without date functions per database.
    day: Mapped[date] = mapped_column(Date, index=True)
