"""Request and response models of the gateway API (they document the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-@]+$")
    # Length and strength rules (settings.password_min_length...) answer 422 weak_password.
    password: str = Field(min_length=1, max_length=256)
    language: Literal["ja", "en"] = "ja"
    is_admin: bool = False


class UserOut(BaseModel):
    id: int
    username: str
    language: str
    is_admin: bool
    is_active: bool
    created_at: datetime


class TokenCreate(BaseModel):
    name: str = Field(default="", max_length=100)


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None = None
    token: str | None = Field(default=None, description="Shown once, when the token is created")


class StageOut(BaseModel):
    name: str
    status: Literal["pending", "running", "done", "failed"]
    progress: float
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    error_code: str | None


class RunOut(BaseModel):
    id: int
    url: str
    status: Literal["queued", "running", "completed", "failed"]
    stage: str | None
    progress: float
    movement: str
    view: str
    height_cm: float | None
    language: str
    original_filename: str
    person: str | None = Field(default=None, description="Customer or athlete filmed")
    subject: int | None = Field(
        default=None, description="Track id chosen for analysis; null = the most prominent"
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    stages: list[StageOut]
    error: ErrorDetail | None
    report_url: str | None


class RunCreated(BaseModel):
    id: int
    url: str
    status: str


class RunPage(BaseModel):
    items: list[RunOut]
    page: int
    per_page: int
    total: int


class UserUpdate(BaseModel):
    """Fields an administrator (or, for language only, the user) may change; omitted = unchanged."""

    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=1, max_length=256)
    language: Literal["ja", "en"] | None = None
    is_admin: bool | None = None


class PasswordChange(BaseModel):
    """A signed-in user's own password change (POST /api/me/password)."""

    current_password: str = Field(min_length=1, max_length=256)
    # The password rules (settings.password_min_length...) answer 422 weak_password.
    new_password: str = Field(min_length=1, max_length=256)


class PasswordChanged(BaseModel):
    revoked_tokens: int = Field(
        description="API tokens revoked with the old password (all but the one used, if any)"
    )


class MetricChange(BaseModel):
    key: str
    label: str
    unit: str
    before: float | None
    after: float | None
    change: float | None
    sdd: float | None = Field(description="Smallest detectable difference, same unit")
    sdd_source: str | None
    within_noise: bool | None = Field(
        description="True when |change| < SDD; null when no SDD is known or a value is missing"
    )


class RunComparison(BaseModel):
    before_id: int
    after_id: int
    movement_before: str
    movement_after: str
    same_movement: bool
    metrics: list[MetricChange]


class TrackOut(BaseModel):
    """One person the pose stage tracked (pose.json "tracks"), with its thumbnail."""

    id: int
    start_s: float
    end_s: float
    frames: int
    prominence: float
    best_frame: int
    box: list[float] = Field(description="x0, y0, x1, y1 px of the proxy video at best_frame")
    analysed: bool = Field(description="True for the person this run analysed")
    thumbnail_url: str


class RunTracks(BaseModel):
    run_id: int
    subject: int | None
    tracks: list[TrackOut]


class Reanalyse(BaseModel):
    subject: int = Field(ge=1, le=2**31 - 1, description="Track id from GET /api/runs/{id}/tracks")
