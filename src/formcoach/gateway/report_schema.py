"""ReportOut: the schema of GET /api/runs/{id}/report (formcoach.report/1), in /openapi.json.

The top level forbids unknown fields, so a field added to build_report must be declared here
(and is then documented). The parts below it allow extras: they carry the artifacts' own
fields (analysis.json metrics and scores), which grow additively.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from formcoach.analysis.schemas import Severity, Status
from formcoach.kit.i18n import Language
from formcoach.pose_estimation.schemas import SubjectChoice


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class VideoOut(_Open):
    fps: float
    frames: int
    duration_s: float
    width: int
    height: int


class VerticalOut(BaseModel):
    source: Literal["device_sensor", "camera_axes"] = Field(
        description="What every angle's vertical is: the recording device's gravity sensor "
        "(camera tilt corrected) or the camera's own axes (hold it level)"
    )
    camera_roll_deg: float | None = Field(
        description="The corrected tilt: true vertical in the image, degrees clockwise"
    )


class PoseOut(_Open):
    model: str
    frames_with_subject: int
    detection_rate: float
    subject_choice: SubjectChoice | None = Field(
        default=None,
        description="The analysed track, why it was chosen, and whether the runner-up was close "
        "(null for runs made before subject choices were recorded)",
    )


class ReferenceOut(_Open):
    low: float
    high: float
    source: str


class MetricOut(_Open):
    value: float | None
    unit: str
    label: str | None = None
    reference: ReferenceOut | None = None
    status: Status
    note: str | None = None
    uncertainty: float | None = None


class EvidenceOut(_Open):
    start_s: float
    end_s: float


class FindingOut(_Open):
    code: str
    severity: Severity
    message: str
    evidence: list[EvidenceOut]
    metric: str | None
    reasons: list[str]


class ScoreOut(_Open):
    label: str
    value: float | None
    metrics: list[str] = []


class AdviceOut(_Open):
    title: str
    text: str
    finding_codes: list[str]
    drills: list[str]


class DrillOut(_Open):
    drill_id: str
    name: str
    dose: str
    cues: list[str]
    video_url: str | None = Field(
        description="Null until the drill video is made (or if it failed)"
    )
    video_job_id: int | None


class SummaryPoint(_Open):
    kind: Literal["finding", "not_assessed", "ok"]
    severity: Severity
    code: str | None = None
    text: str
    evidence: list[EvidenceOut]


class NextDrill(_Open):
    drill_id: str
    name: str
    dose: str


class SummaryScore(_Open):
    area: str
    label: str
    value: float


class SummaryOut(_Open):
    movement: str
    movement_label: str
    view: str
    view_label: str
    person: str | None
    duration_s: float
    points: list[SummaryPoint]
    next_drill: NextDrill | None
    scores: list[SummaryScore]


class ReportOut(BaseModel):
    """A run's coaching report in one language (the artifacts keep both)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    # "schema" would shadow a BaseModel attribute, hence the alias.
    schema_id: Literal["formcoach.report/1"] = Field(alias="schema")
    run_id: int
    movement: str
    movement_requested: str
    view: str = Field(description="The view read from the footage, else the requested one")
    view_requested: str | None
    view_segments: list[dict[str, Any]]
    vertical: VerticalOut
    language: Language
    video: VideoOut
    pose: PoseOut
    metrics: dict[str, MetricOut]
    findings: list[FindingOut]
    scores: dict[str, ScoreOut]
    advice_rewritten_by: str | None
    advice_llm_error: str | None
    advice: list[AdviceOut]
    drills: list[DrillOut]
    files: dict[str, str] = Field(description="Download URLs of the run's artifacts made so far")
    summary: SummaryOut
