"""Schemas of the analysis service: the reference file and the analysis.json artifact."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["info", "minor", "moderate", "major"]
# borderline: past a bound by no more than the metric's measurement uncertainty (no finding).
Status = Literal["ok", "low", "high", "borderline", "not_measurable"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "minor": 1, "moderate": 2, "major": 3}

# features.json "vertical" of files made before it was recorded: the camera's own axes.
CAMERA_AXES: dict[str, Any] = {"source": "camera_axes", "camera_roll_deg": None}

# Every code analyze() can emit; advice_generation keys its rules on these.
FINDING_CODES = (
    "cadence_low",
    "cadence_high",
    "trunk_lean_excessive",
    "trunk_lean_backward",
    "detailed_checks_unavailable",
    "movement_auto_detected",
    # Another person in the clip scored nearly as high as the analysed one (issue 19 item 6).
    "subject_candidates_close",
    # The footage's view is not the one the user chose (issue 18, item 1).
    "view_differs",
    # None of the movement's checks could be measured, with the causes (issue 18, item 6).
    "not_assessed",
    "reps_not_found",
    "movement_mismatch",
    "slow_motion_suspected",
    # Exercise profiles (reference.yaml `findings` of each judged metric).
    "squat_shallow",
    "squat_partial_reps",
    "squat_trunk_forward",
    "squat_knees_forward",
    "pushup_shallow",
    "pushup_partial_reps",
    "pushup_sag",
    "pushup_pike",
    "pushup_out_of_line",
    "bridge_incomplete",
    "bridge_partial_reps",
    "lunge_shallow",
    "lunge_partial_reps",
    "lunge_trunk_lean",
    "lunge_front_shin",
    "single_leg_squat_shallow",
    "single_leg_squat_partial_reps",
    "plank_sag",
    "plank_pike",
    "plank_out_of_line",
    "plank_unsteady",
    "side_plank_out_of_line",
    "side_plank_unsteady",
    # Running gait (analysis/gait_profile.py; reference.yaml running/walking `findings`).
    "overstriding",
    "knee_straight_landing",
    "vertical_oscillation_excessive",
    "arm_swing_straight",
    "asymmetry",
    "pelvic_drop",
    "crossover",
    # Squat, front view.
    "squat_valgus",
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


class FindingSpec(BaseModel):
    """The finding a metric raises on one side of its range, with its one-line explanation."""

    model_config = _STRICT
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    explain: LocalizedText


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
    # Score area (analysis/SCORES.md); exercise metrics name their finding per side here.
    area: str | None = None
    findings: dict[Literal["low", "high"], FindingSpec] = {}


class RepRule(BaseModel):
    """Rep counting by a hysteresis state machine on one flexion angle (biomechanics.md)."""

    model_config = _STRICT
    signal: Literal["knee", "elbow", "hip"]
    # How the left and right series become one signal.
    combine: Literal["max", "mean", "moving"]
    # A rep leaves the start zone (flexion beyond start_deg), is full when it passes target_deg
    # and ends back in the start zone; target < start means the rep extends the joint.
    start_deg: float
    target_deg: float
    first_phase: Literal["eccentric", "concentric"]
    min_rep_s: float = Field(ge=0)
    min_swing_deg: float = Field(ge=0)
    # Frames within this many degrees of the turning point count as the pause.
    pause_band_deg: float = Field(ge=0)
    # Fewer measured reps than this make averages low-confidence.
    min_reps_confident: int = Field(ge=1)
    source: SourceText


class HoldRule(BaseModel):
    """A static hold judged by shoulder-hip-ankle alignment."""

    model_config = _STRICT
    tolerance_deg: float = Field(ge=0)
    min_hold_s: float = Field(ge=0)
    source: SourceText


class MovementProfile(BaseModel):
    model_config = _STRICT
    label: LocalizedText
    judged: dict[str, RangeSpec] = {}
    reps: RepRule | None = None
    hold: HoldRule | None = None
    # Camera views the profile's angles can be measured from (empty: any view).
    views: list[str] = []


class GaitSettings(BaseModel):
    model_config = _STRICT
    min_steps: int = Field(ge=1)
    # Fewer steps than this make a cadence judgement low-confidence.
    confident_steps: int = Field(ge=1)
    # Contact time and duty factor need at least this frame rate (else not_measurable).
    min_fps_contact_time: float = Field(default=60.0, gt=0)
    # Straight stretches for symmetry (analysis/straight.py): a step longer than this many
    # median steps breaks the stretch (a turn), and this many steps each side of it are left out.
    turn_break_factor: float = Field(default=1.5, gt=1)
    turn_edge_steps: int = Field(default=1, ge=0)
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
    # Bends the squat rep counter must find for a squat or lunge (one landing is no squat).
    squat_min_reps: float = 2
    # Single-leg squat: one ankle held this high above the other (body sizes), knees bending
    # at least this far, the hips dropping at least this much (hip_height_norm range).
    single_leg_min_foot_lift: float = 0.15
    single_leg_min_knee_flexion_deg: float = 35.0
    single_leg_min_hip_range: float = 0.05
    # Exercise recognition (push-up, bridge, lunge) and the margin that makes a match certain.
    pushup_min_elbow_swing_deg: float
    bridge_max_trunk_from_horizontal_deg: float
    bridge_min_hip_swing_deg: float
    lunge_min_hip_gap_deg: float
    # Walking vs running (analysis/gait_kind.py): the share of a stride with no foot on the
    # ground; a gait without travel needs a steady trunk (a treadmill); arms going overhead in
    # rhythm (jumping jacks) are no gait.
    running_min_flight_share: float = 0.15
    # Timing error of one step's toe-off-to-contact gap, in frames (two events, each within
    # about half a frame): a flight share this close to the threshold does not decide.
    flight_timing_error_frames: float = 1.0
    treadmill_max_trunk_spread_deg: float = 15.0
    arms_overhead_deg: float = 120.0
    uncertain_margin: float
    source: SourceText


class ScoringSettings(BaseModel):
    """Points a metric earns by the severity of its deviation (analysis/SCORES.md)."""

    model_config = _STRICT
    info: float
    minor: float
    moderate: float
    major: float
    source: SourceText

    def points(self, level: Severity) -> float:
        return float(getattr(self, level))


class ContextValue(BaseModel):
    model_config = _STRICT
    label: LocalizedText
    low: float
    high: float
    source: SourceText


class MeasurementSpec(BaseModel):
    """analysis/measurement.yaml: the human range of a metric and its measurement error."""

    model_config = _STRICT
    plausible: tuple[float, float]
    uncertainty: float
    source: str
    # Camera views the metric can be measured from (analysis/validity.py); empty: any view.
    views: list[Literal["side", "oblique", "front", "rear"]] = []


class MeasurementFile(BaseModel):
    model_config = _STRICT
    version: int
    metrics: dict[str, MeasurementSpec]


class Reference(BaseModel):
    model_config = _STRICT
    version: int
    movements: dict[str, MovementProfile]
    gait: GaitSettings
    evidence: EvidenceSettings
    classification: ClassificationSettings
    scoring: ScoringSettings
    context: dict[str, ContextValue] = {}
    # Smallest detectable differences, read by analysis/compare.py (its own schema).
    sdd: dict[str, Any] | None = None


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
    # How many reps/steps an average rests on, and whether that is too few to trust.
    samples: int | None = None
    confidence: Literal["normal", "low"] | None = None
    # Measurement error in the metric's unit (analysis/measurement.yaml), when it is known.
    uncertainty: float | None = None


class Score(BaseModel):
    """0-100 per area (analysis/SCORES.md); None when no metric of the area was measured."""

    label: LocalizedText
    value: float | None
    metrics: list[str]


class Evidence(BaseModel):
    start_s: float
    end_s: float


class Finding(BaseModel):
    code: str
    severity: Severity
    message: LocalizedText
    evidence: list[Evidence] = []
    metric: str | None = None
    # not_assessed: the cause codes (analysis/not_assessed.py REASONS), most likely first.
    reasons: list[str] = []


class Analysis(BaseModel):
    # "schema" would shadow a BaseModel attribute, hence the alias.
    model_config = ConfigDict(populate_by_name=True)
    schema_id: str = Field(default="formcoach.analysis/1", alias="schema")
    movement: str
    movement_requested: str
    # The view read from the footage (feature_extraction/view.py), else the requested one.
    view: str
    view_requested: str | None = None
    view_segments: list[dict[str, Any]] = []
    # features.json "vertical": what the angles' vertical is (device sensor or camera axes).
    vertical: dict[str, Any] = Field(default_factory=lambda: dict(CAMERA_AXES))
    metrics: dict[str, Metric]
    findings: list[Finding]
    scores: dict[str, Score] = {}
    # Share of the frames in which the body parts this movement needs were all seen (the pose
    # stage's detection_rate counts any person found, even one with the legs out of frame).
    detection_rate_needed: float | None = None
