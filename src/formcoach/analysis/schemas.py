"""Schemas of the analysis service: the reference file and the analysis.json artifact."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["info", "minor", "moderate", "major"]
Status = Literal["ok", "low", "high", "not_measurable"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "minor": 1, "moderate": 2, "major": 3}

# Every code analyze() can emit; advice_generation keys its rules on these.
FINDING_CODES = (
    "cadence_low",
    "cadence_high",
    "trunk_lean_excessive",
    "trunk_lean_backward",
    "detailed_checks_unavailable",
    "movement_auto_detected",
)


class LocalizedText(BaseModel):
    ja: str = Field(min_length=1)
    en: str = Field(min_length=1)


# --- reference.yaml -------------------------------------------------------------------------

_STRICT = ConfigDict(extra="forbid")
SourceText = Annotated[str, Field(min_length=3)]


class SeverityBand(BaseModel):
    model_config = _STRICT
    beyond: float = Field(ge=0)  # distance outside the range from which this level applies
    level: Severity


class SeverityScale(BaseModel):
    model_config = _STRICT
    measure: Literal["percent", "absolute"]
    below: list[SeverityBand] = Field(min_length=1)
    above: list[SeverityBand] = Field(min_length=1)
    source: SourceText


class RangeSpec(BaseModel):
    """One judged metric: the typical range, where it comes from and how far out is how bad."""

    model_config = _STRICT
    label: LocalizedText
    unit: str
    low: float
    high: float
    source: SourceText
    note: LocalizedText | None = None
    severity: SeverityScale


class MovementProfile(BaseModel):
    model_config = _STRICT
    label: LocalizedText
    judged: dict[str, RangeSpec] = {}


class GaitSettings(BaseModel):
    model_config = _STRICT
    min_steps: int = Field(ge=1)
    source: SourceText


class EvidenceSettings(BaseModel):
    model_config = _STRICT
    merge_gap_s: float = Field(ge=0)
    source: SourceText


class ClassificationSettings(BaseModel):
    model_config = _STRICT
    plank_min_trunk_from_vertical_deg: float
    plank_min_body_line_deg: float
    running_min_cadence_spm: float
    squat_min_hip_range: float
    squat_min_knee_flexion_deg: float
    source: SourceText


class ContextValue(BaseModel):
    model_config = _STRICT
    label: LocalizedText
    low: float
    high: float
    source: SourceText


class Reference(BaseModel):
    model_config = _STRICT
    version: int
    movements: dict[str, MovementProfile]
    gait: GaitSettings
    evidence: EvidenceSettings
    classification: ClassificationSettings
    context: dict[str, ContextValue] = {}


# --- analysis.json --------------------------------------------------------------------------


class MetricReference(BaseModel):
    low: float
    high: float
    source: str


class Metric(BaseModel):
    value: float | None
    unit: str
    label: LocalizedText  # carried in the artifact so a report needs no label table of its own
    reference: MetricReference | None = None
    status: Status = "ok"
    note: LocalizedText | None = None


class Evidence(BaseModel):
    start_s: float
    end_s: float


class Finding(BaseModel):
    code: str
    severity: Severity
    message: LocalizedText
    evidence: list[Evidence] = []
    metric: str | None = None


class Analysis(BaseModel):
    # "schema" would shadow a BaseModel attribute, hence the alias.
    model_config = ConfigDict(populate_by_name=True)
    schema_id: str = Field(default="formcoach.analysis/1", alias="schema")
    movement: str
    movement_requested: str
    view: str
    metrics: dict[str, Metric]
    findings: list[Finding]
