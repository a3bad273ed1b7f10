"""Feature extraction outputs: features.json (typed) and the in-memory FeatureResult."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from formcoach.feature_extraction.angles import JOINT_SERIES, SEGMENT_SERIES
from formcoach.feature_extraction.upright import Vertical

SCHEMA: Literal["formcoach.features/1"] = "formcoach.features/1"
Facing = Literal["left", "right", "unknown"]

SERIES_NAMES: tuple[str, ...] = (
    "left_knee_flexion_deg",
    "right_knee_flexion_deg",
    "left_hip_flexion_deg",
    "right_hip_flexion_deg",
    "left_elbow_flexion_deg",
    "right_elbow_flexion_deg",
    "trunk_lean_deg",
    "body_line_deg",
    "hip_height_norm",
    *JOINT_SERIES,
    *SEGMENT_SERIES,
    # Added later (appended so older column positions stay): squat depth and front-view valgus.
    "hip_above_knee_norm",
    "left_fppa_deg",
    "right_fppa_deg",
    "foot_lift_norm",
)
# Angles to 0.001° and normalised heights to 1e-3 of body size are far below keypoint noise.
_SERIES_DIGITS = 3
_TIME_DIGITS = 6


class SeriesStats(BaseModel):
    mean: float | None
    median: float | None
    min: float | None
    max: float | None
    p10: float | None
    p90: float | None
    valid_frames: int
    # Frames whose value rests on seen landmarks only (valid_frames also counts short filled
    # gaps); every statistic above is taken over these.
    observed_frames: int | None = None


class FeatureSummary(BaseModel):
    # Defaults describe a clip with no steps found, so a hand-built document stays valid.
    cadence_spm: float | None = None
    step_count: int = 0
    step_events_s: list[float] = []
    step_times_s: list[float] = []
    stats: dict[str, SeriesStats] = {}


class GaitEvents(BaseModel):
    """Initial contacts per foot (Zeni's rule) and what is measured at them."""

    initial_contacts_s: dict[str, list[float]] = {}
    cadence_from_contacts_spm: float | None = None
    knee_angle_at_contact_deg: dict[str, float | None] = {}
    # Added later (additive): toe-offs, whether the steps form a real periodic alternating gait
    # (cadences are None when not, with the reason code), side-view stride measures and the
    # rear/front-view pelvic drop and foot placement (feature_extraction/stride.py, ANGLES.md).
    toe_offs_s: dict[str, list[float]] = {}
    periodic: bool | None = None
    not_periodic_reason: str | None = None
    side_view: dict[str, Any] = {}
    frontal_view: dict[str, Any] = {}


class FeaturesDocument(BaseModel):
    """features.json; other services can parse it with ``FeaturesDocument.model_validate``."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    # "schema" would shadow a BaseModel attribute, hence the alias.
    schema_: Literal["formcoach.features/1"] = Field(default=SCHEMA, alias="schema")
    fps: float
    times: list[float]
    facing: Facing
    series: dict[str, list[float | None]]
    summary: FeatureSummary = FeatureSummary()
    # Added after formcoach.features/1 was first published; older files get the defaults.
    facing_segments: list[dict[str, Any]] = []
    scale: dict[str, Any] | None = None
    distances_cm: dict[str, float | None] = {}
    gait: GaitEvents = GaitEvents()
    subject_frames: int | None = None
    # Per series, the [start, stop) frame runs whose value rests on seen landmarks only (not
    # on a filled gap); a series missing here is treated as observed wherever it has a value.
    observed: dict[str, list[list[int]]] = {}
    # Share of the frames in which each body part (trunk, legs, arms) was seen whole on at
    # least one side: the detection rate of what a movement needs.
    body_parts_seen_rate: dict[str, float] = {}
    # The camera view read from the footage (feature_extraction/view.py): {"view", "facing",
    # "ratio_median", "angle_from_side_deg", "frames_by_view", "segments", "windows"}.
    view: dict[str, Any] = {}
    # What "vertical" means in every angle: the recording device's gravity sensor, or the
    # camera's own axes (feature_extraction/upright.py); older files: the camera's axes.
    vertical: Vertical = Vertical()
    conventions: str = "src/formcoach/feature_extraction/ANGLES.md"

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


def _json_float(value: float, digits: int) -> float | None:
    return None if not math.isfinite(value) else round(float(value), digits)


def _round_opt(value: float | None, digits: int) -> float | None:
    return None if value is None else _json_float(value, digits)


def series_stats(
    values: NDArray[np.float64], observed: NDArray[np.bool_] | None = None
) -> SeriesStats:
    """Statistics of the observed frames: a filled sample is never the peak of a series."""
    finite = np.isfinite(values)
    seen = finite if observed is None else finite & observed[: values.size]
    valid = values[seen]
    if valid.size == 0:
        return SeriesStats(
            mean=None,
            median=None,
            min=None,
            max=None,
            p10=None,
            p90=None,
            valid_frames=int(finite.sum()),
            observed_frames=0,
        )
    p10, p50, p90 = np.percentile(valid, [10, 50, 90])

    def r(v: float) -> float | None:
        return _json_float(float(v), _SERIES_DIGITS)

    return SeriesStats(
        mean=r(float(valid.mean())),
        median=r(float(p50)),
        min=r(float(valid.min())),
        max=r(float(valid.max())),
        p10=r(float(p10)),
        p90=r(float(p90)),
        valid_frames=int(finite.sum()),
        observed_frames=int(valid.size),
    )


def mask_spans(mask: NDArray[np.bool_]) -> list[list[int]]:
    """[start, stop) frame-index runs of True: a compact per-frame mask for features.json."""
    padded = np.concatenate(([False], mask.astype(bool), [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [[int(a), int(b)] for a, b in zip(edges[::2], edges[1::2], strict=True)]


@dataclass
class FeatureResult:
    """Per-frame series (NaN = not measurable) and gait summary of one video."""

    times: NDArray[np.float64]
    fps: float
    facing: Facing
    series: dict[str, NDArray[np.float64]]
    step_events_s: list[float] = field(default_factory=list)
    step_times_s: list[float] = field(default_factory=list)
    cadence_spm: float | None = None
    facing_segments: list[dict[str, Any]] = field(default_factory=list)
    contacts_s: dict[str, list[float]] = field(default_factory=dict)
    cadence_from_contacts_spm: float | None = None
    knee_at_contact_deg: dict[str, float | None] = field(default_factory=dict)
    toe_offs_s: dict[str, list[float]] = field(default_factory=dict)
    periodic: bool | None = None
    not_periodic_reason: str | None = None
    side_view: dict[str, Any] = field(default_factory=dict)
    frontal_view: dict[str, Any] = field(default_factory=dict)
    distances_cm: dict[str, float | None] = field(default_factory=dict)
    scale: dict[str, Any] | None = None
    subject_frames: int | None = None
    observed: dict[str, NDArray[np.bool_]] = field(default_factory=dict)
    body_parts_seen: dict[str, NDArray[np.bool_]] = field(default_factory=dict)
    view: dict[str, Any] = field(default_factory=dict)
    vertical: dict[str, Any] = field(default_factory=dict)

    @property
    def step_count(self) -> int:
        return len(self.step_events_s)

    def document(self) -> FeaturesDocument:
        return FeaturesDocument(
            fps=round(float(self.fps), 3),
            times=[round(float(t), _TIME_DIGITS) for t in self.times],
            facing=self.facing,
            series={
                name: [_json_float(v, _SERIES_DIGITS) for v in self.series[name].tolist()]
                for name in SERIES_NAMES
            },
            summary=FeatureSummary(
                cadence_spm=None if self.cadence_spm is None else round(self.cadence_spm, 2),
                step_count=self.step_count,
                step_events_s=[round(t, 4) for t in self.step_events_s],
                step_times_s=[round(t, 4) for t in self.step_times_s],
                stats={
                    name: series_stats(self.series[name], self.observed.get(name))
                    for name in SERIES_NAMES
                },
            ),
            facing_segments=self.facing_segments,
            scale=self.scale,
            distances_cm={k: _round_opt(v, 1) for k, v in self.distances_cm.items()},
            gait=GaitEvents(
                initial_contacts_s={
                    k: [round(t, 4) for t in v] for k, v in self.contacts_s.items()
                },
                cadence_from_contacts_spm=_round_opt(self.cadence_from_contacts_spm, 2),
                knee_angle_at_contact_deg={
                    k: _round_opt(v, 2) for k, v in self.knee_at_contact_deg.items()
                },
                toe_offs_s={k: [round(t, 4) for t in v] for k, v in self.toe_offs_s.items()},
                periodic=self.periodic,
                not_periodic_reason=self.not_periodic_reason,
                side_view=self.side_view,
                frontal_view=self.frontal_view,
            ),
            subject_frames=self.subject_frames,
            observed={
                name: mask_spans(self.observed[name])
                for name in SERIES_NAMES
                if name in self.observed
            },
            body_parts_seen_rate={
                part: round(float(mask.mean()), 4) if mask.size else 0.0
                for part, mask in self.body_parts_seen.items()
            },
            view=self.view,
            vertical=Vertical.model_validate(self.vertical or {}),
        )

    def to_json(self) -> dict[str, Any]:
        """The features.json content: JSON-safe (None wherever a value is missing)."""
        return self.document().to_json()

    def write_angles_csv(self, path: Path) -> None:
        """angles.csv: time_s and every series, one row per frame, empty cells where missing."""
        columns = [self.series[name] for name in SERIES_NAMES]
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["time_s", *SERIES_NAMES])
            for i, t in enumerate(self.times.tolist()):
                cells = [_json_float(col[i], _SERIES_DIGITS) for col in columns]
                writer.writerow([f"{t:.{_TIME_DIGITS}f}", *("" if c is None else c for c in cells)])
