"""Database tables of the runs resource."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Literal

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from formcoach.accounts.users import utcnow
from formcoach.kit.db import Base, UTCDateTime
from formcoach.kit.i18n import Language
from formcoach.kit.pipeline import new_run_key, run_folder

# A run's life: queued -> running -> completed | failed; a stage's: pending -> running -> done
# | failed. Literals, so mypy rejects a misspelt status (the columns stay plain strings).
RunStatus = Literal["queued", "running", "completed", "failed"]
StageStatus = Literal["pending", "running", "done", "failed"]
TERMINAL: tuple[RunStatus, ...] = ("completed", "failed")

# Longest person label: the column's width (migration 0004), checked before it reaches the DB.
PERSON_MAX = 100


def person_search_key(text: str) -> str:
    """NFKC (full-width letters and digits become plain ones) then Unicode case folding."""
    return unicodedata.normalize("NFKC", text).casefold()


class Run(Base):
    __tablename__ = "runs"
    # SQLite would otherwise hand a deleted newest id to the next run (migration 0006).
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The run's storage folder and job identity (run_folder); random for every new run.
    run_key: Mapped[str] = mapped_column(String(32), unique=True, default=new_run_key)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[RunStatus] = mapped_column(String(16), default="queued", index=True)
    stage: Mapped[str | None] = mapped_column(String(32), nullable=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    movement: Mapped[str] = mapped_column(String(16), default="auto")
    view: Mapped[str] = mapped_column(String(8), default="auto")
    height_cm: Mapped[float | None] = mapped_column(Float, nullable=True)
    language: Mapped[Language] = mapped_column(String(2), default="ja")
    # Track id of the person to analyse (pose.json "tracks"); None = the most prominent one.
    subject: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # RunOptions.camera_roll_deg: the device's tilt while recording in the page (migration 0009).
    camera_roll_deg: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The customer or athlete filmed (free text from the upload form); None = not given.
    person: Mapped[str | None] = mapped_column(String(PERSON_MAX), nullable=True, index=True)
    # person_search_key(person): what the ?person= filter compares (see migration 0004).
    person_key: Mapped[str | None] = mapped_column(
        String(3 * PERSON_MAX), nullable=True, index=True
    )
    original_filename: Mapped[str] = mapped_column(String(255), default="")
    upload_bytes: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    stages: Mapped[list[RunStage]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="RunStage.position"
    )

    @property
    def folder(self) -> str:
        return run_folder(self.run_key)


class RunStage(Base):
    __tablename__ = "run_stages"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[StageStatus] = mapped_column(String(16), default="pending")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)

    run: Mapped[Run] = relationship(back_populates="stages")


class ShareLink(Base):
    """A read-only link to one run's report (gateway/shares.py). Only the token's SHA-256 is
    stored: a leaked database does not open anyone's report."""

    __tablename__ = "share_links"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
