"""Request and response models of the runs resource (they document the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from formcoach.kit.i18n import Language
from formcoach.kit.schemas import ErrorDetail
from formcoach.runs.models import RunStatus, StageStatus


class StageOut(BaseModel):
    name: str
    status: StageStatus
    progress: float
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    error_code: str | None
    # Filled by the gateway (gateway/eta.py); null where there is no estimate yet.
    elapsed_s: float | None = Field(
        default=None, description="Seconds the stage has run so far (its duration once done)"
    )
    eta_s: float | None = Field(default=None, description="Estimated seconds until it is done")


class RunOut(BaseModel):
    id: int
    url: str
    status: RunStatus
    stage: str | None
    progress: float
    movement: str
    view: str
    height_cm: float | None
    language: Language
    original_filename: str
    person: str | None = Field(default=None, description="Customer or athlete filmed")
    subject: int | None = Field(
        default=None, description="Track id chosen for analysis; null = the most prominent"
    )
    camera_roll_deg: float | None = Field(
        default=None,
        description="The recording device's tilt: the true vertical's direction in the image, "
        "degrees from the image's up axis, clockwise positive; null = not known",
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    stages: list[StageOut]
    error: ErrorDetail | None
    report_url: str | None
    report_ready: bool = Field(
        description="True once analysis and advice are written: GET report answers from then "
        "on, while status may still be running"
    )
    pending_outputs: list[Literal["annotated_video", "drill_videos"]] = Field(
        description="Outputs still being made after the report; empty when done (or failed)"
    )
    eta_s: float | None = Field(
        default=None, description="Estimated seconds of work until the run is done (null: unknown)"
    )
    report_eta_s: float | None = Field(
        default=None, description="Estimated seconds until the report (results) can be shown"
    )


class RunCreated(BaseModel):
    id: int
    url: str
    status: RunStatus


class RunPage(BaseModel):
    items: list[RunOut]
    page: int
    per_page: int
    total: int


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
    noise: float | None = Field(
        None, description="Largest change still noise: max(SDD, the metric's uncertainty)"
    )
    reference: dict[str, Any] | None = Field(None, description="The reference range {low, high}")
    verdict: Literal["better", "worse", "no_change", "higher", "lower"] | None = Field(
        None,
        description="no_change within noise; better/worse towards/away from the reference "
        "range; higher/lower without one (or at the same distance from it); null: a value "
        "is missing",
    )


class SubjectCheck(BaseModel):
    """Whether two runs are of the same person: by their person labels, and by the statures
    entered with the uploads (the video alone cannot tell: body size in pixels depends on the
    camera's distance). "unknown" when a label or an entered stature is missing."""

    by_label: Literal["same", "different", "unknown"]
    by_height: Literal["same", "different", "unknown"]
    height_before_cm: float | None
    height_after_cm: float | None
    different: bool = Field(description="True when either check says different")


class RunComparison(BaseModel):
    before_id: int
    after_id: int
    movement_before: str
    movement_after: str
    same_movement: bool
    metrics: list[MetricChange]
    subject: SubjectCheck


class TrackOut(BaseModel):
    """One person the pose stage tracked (pose.json "tracks"), with its thumbnail."""

    id: int
    start_s: float
    end_s: float
    frames: int
    prominence: float = Field(
        description="The performer score (0..1) the automatic choice ranks people by: the "
        "product of parts, each raised to its weight (older runs: body px x share seen)"
    )
    parts: dict[str, float] = Field(
        default_factory=dict,
        description="Why the score is what it is: size, seen, whole_body, centrality, motion "
        "(each 0..1) and travel (body sizes across the frame); empty for older runs",
    )
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
