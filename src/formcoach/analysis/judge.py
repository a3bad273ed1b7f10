"""Judging one measured value against its reference range (shared by every profile)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from formcoach.analysis import messages as msg
from formcoach.analysis import series as s
from formcoach.analysis.reference import measurement_for
from formcoach.analysis.schemas import (
    Evidence,
    Finding,
    LocalizedText,
    Metric,
    MetricReference,
    RangeSpec,
    Severity,
    Status,
)
from formcoach.analysis.validity import view_note
from formcoach.feature_extraction.schemas import FeaturesDocument

UNITS: dict[str, tuple[str, str]] = {
    "deg": ("°", "°"),
    "s": (" 秒", " s"),
    "reps": (" 回", " reps"),
    "%": (" %", " %"),
}


@dataclass(frozen=True)
class Clip:
    """The features of one clip with what every judgement needs alongside them."""

    features: FeaturesDocument
    times: s.FloatArray
    frame_s: float
    view: str
    facing: str
    # The detected oblique view's angle from side-on, for the notes (feature_extraction/view.py).
    view_angle: int | None = None
    # Fewer observed frames than this make a summary metric not measurable (settings).
    min_observed_frames: int = 5

    def span(self) -> Evidence | None:
        finite = self.times[np.isfinite(self.times)]
        if not finite.size:
            return None
        return Evidence(
            start_s=round(float(finite[0]), 3), end_s=round(float(finite[-1]) + self.frame_s, 3)
        )

    def has(self, name: str) -> bool:
        """Whether features.json carries this series with at least one value."""
        return bool(np.isfinite(s.series(self.features, name)).any())


@dataclass
class Measured:
    """A value with what it rests on; value None means not measurable, with the reason."""

    value: float | None
    note: LocalizedText | None = None
    evidence: list[Evidence] = field(default_factory=list)
    samples: int | None = None
    low_confidence: bool = False
    # Why confidence is low, when "only N repetitions" would be the wrong words (e.g. steps).
    confidence_note: LocalizedText | None = None


def status_of(spec: RangeSpec, value: float) -> Status:
    return "low" if value < spec.low else "high" if value > spec.high else "ok"


def severity(spec: RangeSpec, value: float, status: Status) -> Severity:
    bound = spec.low if status == "low" else spec.high
    distance = abs(value - bound)
    if spec.severity.measure == "percent":
        distance = 100.0 * distance / abs(bound) if bound else float("inf")
    bands = spec.severity.below if status == "low" else spec.severity.above
    level: Severity = bands[0].level
    for band in sorted(bands, key=lambda b: b.beyond):
        if distance >= band.beyond:
            level = band.level
    return level


def _fmt(value: float, unit: str) -> tuple[str, str]:
    ja, en = UNITS.get(unit, (f" {unit}", f" {unit}"))
    # Whole numbers: 2D pose angles carry ≈5° of error, so decimals would be false precision;
    # seconds keep one decimal because a tempo phase lasts only one or two.
    text = f"{value:.1f}" if unit == "s" else f"{value:.0f}"
    return f"{text}{ja}", f"{text}{en}"


def low_confidence_note(samples: int | None) -> LocalizedText:
    count_ja = f"{samples} 回分" if samples is not None else "わずか"
    count_en = (
        f"{samples} repetition{'' if samples == 1 else 's'}" if samples else "few repetitions"
    )
    return LocalizedText(
        ja=f"{count_ja}のデータしかないため、信頼度は低めです。",
        en=f"Based on only {count_en}: low confidence.",
    )


def plausible(key: str, measured: Measured, unit: str) -> Measured:
    """The measurement, or not measurable when its value is outside the human range."""
    bounds = measurement_for(key)
    if measured.value is None or bounds is None:
        return measured
    low, high = bounds.plausible
    if low <= measured.value <= high:
        return measured
    return Measured(
        value=None,
        note=msg.implausible_note(measured.value, low, high, unit),
        samples=measured.samples,
    )


def uncertainty_of(key: str) -> float | None:
    bounds = measurement_for(key)
    return None if bounds is None else bounds.uncertainty


def judge(
    key: str,
    spec: RangeSpec,
    measured: Measured,
    view: str | None = None,
    view_angle: int | None = None,
) -> tuple[Metric, Finding | None]:
    """The metric, and its finding when it is out of range by more than its uncertainty and
    the spec names one. With ``view``, a metric not valid from that view is not measurable."""
    reference = MetricReference(low=spec.low, high=spec.high, source=spec.source)
    confidence = "low" if measured.low_confidence else None
    wrong_view = view_note(key, view, view_angle) if view is not None else None
    if wrong_view is not None:
        measured = Measured(value=None, note=wrong_view, samples=measured.samples)
    measured = plausible(key, measured, spec.unit)
    uncertainty = uncertainty_of(key)
    if measured.value is None:
        metric = Metric(
            value=None,
            unit=spec.unit,
            label=spec.label,
            reference=reference,
            status="not_measurable",
            note=measured.note,
            samples=measured.samples,
            uncertainty=uncertainty,
        )
        return metric, None
    status: Status = status_of(spec, measured.value)
    note = measured.note or spec.note
    if status in ("low", "high") and uncertainty is not None:
        bound = spec.low if status == "low" else spec.high
        if abs(measured.value - bound) <= uncertainty:
            # A reading inside the error of the limit may well be within it: never a fault.
            status = "borderline"
            extra_b = msg.borderline_note(uncertainty, spec.unit)
            note = (
                extra_b
                if note is None
                else LocalizedText(ja=note.ja + extra_b.ja, en=f"{note.en} {extra_b.en}")
            )
    if measured.low_confidence:
        extra = measured.confidence_note or low_confidence_note(measured.samples)
        note = (
            extra
            if note is None
            else LocalizedText(ja=note.ja + extra.ja, en=f"{note.en} {extra.en}")
        )
    metric = Metric(
        value=s.round_or_none(measured.value),
        unit=spec.unit,
        label=spec.label,
        reference=reference,
        status=status,
        note=note,
        samples=measured.samples,
        confidence=confidence,
        uncertainty=uncertainty,
    )
    side = spec.findings.get(status) if status in ("low", "high") else None
    if side is None:
        return metric, None
    v_ja, v_en = _fmt(measured.value, spec.unit)
    # Only the crossed bound is quoted: most exercise ranges are one-sided (depth "at least 80°").
    b_ja, b_en = _fmt(spec.low if status == "low" else spec.high, spec.unit)
    bound_ja = f"目安 {b_ja} {'以上' if status == 'low' else '以下'}"
    bound_en = f"reference: {'at least' if status == 'low' else 'at most'} {b_en}"
    ja = f"{spec.label.ja}: {v_ja}（{bound_ja}、出典: {spec.source}）。{side.explain.ja}"
    en = f"{spec.label.en}: {v_en} ({bound_en}; source: {spec.source}). {side.explain.en}"
    if measured.low_confidence:
        extra = measured.confidence_note or low_confidence_note(measured.samples)
        ja, en = ja + extra.ja, f"{en} {extra.en}"
    finding = Finding(
        code=side.code,
        severity=severity(spec, measured.value, status),
        message=LocalizedText(ja=ja, en=en),
        evidence=measured.evidence,
        metric=key,
    )
    return metric, finding


def info_metric(
    label: LocalizedText,
    value: float | None,
    unit: str,
    note: LocalizedText | None = None,
    samples: int | None = None,
) -> Metric:
    """An unjudged metric: status ok, or not_measurable with its reason when value is None."""
    return Metric(
        value=s.round_or_none(value),
        unit=unit,
        label=label,
        status="ok" if value is not None else "not_measurable",
        note=note,
        samples=samples,
    )
