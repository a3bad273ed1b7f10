"""Comparing two analyses: per-metric change, whether it is within measurement noise, and
whether it is better, worse or no change.

A change smaller than the smallest detectable difference (SDD) cannot be told apart from
day-to-day measurement error, so a before/after comparison must say so instead of calling it
progress. SDD values live in reference.yaml (top-level `sdd`) with their source. The metric's
own measurement uncertainty (analysis.json `uncertainty`, from measurement.yaml) is a second
noise figure: a change must exceed both before it counts. Better or worse then means "moved
towards" or "away from" the metric's reference range; without one only the direction is said.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from formcoach.analysis.reference import DEFAULT_REFERENCE_FILE
from formcoach.kit.i18n import Language


class SddValue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: float = Field(gt=0)
    source: str = Field(min_length=3)


class SddTable(BaseModel):
    """SDD by metric key first, else by unit; a metric with neither has no noise judgement."""

    model_config = ConfigDict(extra="forbid")
    by_metric: dict[str, SddValue] = {}
    by_unit: dict[str, SddValue] = {}

    def lookup(self, key: str, unit: str) -> SddValue | None:
        return self.by_metric.get(key) or self.by_unit.get(unit)


def load_sdd(path: Path | None = None) -> SddTable:
    """The `sdd` section of the reference file; an override file without one uses the packaged
    file's, so replacing the ranges never silently drops the noise judgement."""
    resolved = (path or DEFAULT_REFERENCE_FILE).resolve()
    table = _load(str(resolved), resolved.stat().st_mtime_ns)
    if table is None and resolved != DEFAULT_REFERENCE_FILE.resolve():
        return load_sdd()
    return table or SddTable()


@lru_cache(maxsize=4)
def _load(path: str, _mtime_ns: int) -> SddTable | None:
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    section = data.get("sdd")
    return SddTable.model_validate(section) if section else None


def _label(metric: dict[str, Any], key: str, lang: Language) -> str:
    label = metric.get("label")
    if isinstance(label, dict):
        return str(label.get(lang) or label.get("en") or key)
    return str(label or key)


Verdict = Literal["better", "worse", "no_change", "higher", "lower"]


def noise_threshold(
    sdd: float | None, uncertainty_before: float | None, uncertainty_after: float | None
) -> float | None:
    """The largest change that is still noise: the larger of the SDD and the metric's own
    measurement uncertainty (the larger of the two runs'); None when neither is known."""
    known = [v for v in (sdd, uncertainty_before, uncertainty_after) if v is not None]
    return max(known) if known else None


def distance_to_range(value: float, low: float | None, high: float | None) -> float:
    """How far the value lies outside [low, high] (0 inside; an open side never counts)."""
    below = low - value if low is not None else 0.0
    above = value - high if high is not None else 0.0
    return max(below, above, 0.0)


def verdict(
    before: float | None,
    after: float | None,
    noise: float | None,
    reference: dict[str, Any] | None,
) -> Verdict | None:
    """Better / worse / no change of one metric, or only its direction.

    None when a value is missing. A change smaller than `noise` is "no_change" (a change
    smaller than the measurement error is no evidence of progress). Otherwise, with a reference range,
    "better" when the after value is nearer the range than before, "worse" when farther; when
    the distance to the range is the same (both inside it, say) or there is no range, the
    direction alone ("higher"/"lower"): the range cannot say which way is better inside it.
    With no noise figure at all only an exactly equal value is no change.
    """
    if before is None or after is None:
        return None
    change = after - before
    # Strictly smaller, like `within_noise` against the SDD: a change of exactly the SDD is
    # detectable by its definition.
    if change == 0 or (noise is not None and abs(change) < noise):
        return "no_change"
    if reference is not None:
        low, high = reference.get("low"), reference.get("high")
        d_before = distance_to_range(before, low, high)
        d_after = distance_to_range(after, low, high)
        if d_after < d_before:
            return "better"
        if d_after > d_before:
            return "worse"
    return "higher" if change > 0 else "lower"


def compare_analyses(
    before: dict[str, Any], after: dict[str, Any], lang: Language, sdd: SddTable | None = None
) -> list[dict[str, Any]]:
    """One row per metric present in either analysis (analysis.json dicts), in `after`'s order."""
    table = sdd or load_sdd()
    b_metrics: dict[str, Any] = before.get("metrics", {})
    a_metrics: dict[str, Any] = after.get("metrics", {})
    keys = list(a_metrics) + [k for k in b_metrics if k not in a_metrics]
    rows: list[dict[str, Any]] = []
    for key in keys:
        b, a = b_metrics.get(key), a_metrics.get(key)
        metric = a or b or {}
        unit = str(metric.get("unit", ""))
        b_val = b.get("value") if b else None
        a_val = a.get("value") if a else None
        change = None if b_val is None or a_val is None else round(a_val - b_val, 2)
        spec = table.lookup(key, unit)
        within = None if change is None or spec is None else abs(change) < spec.value
        noise = noise_threshold(
            spec.value if spec else None,
            b.get("uncertainty") if b else None,
            a.get("uncertainty") if a else None,
        )
        # The after run's range: the one the coach reads on today's report.
        reference = (a or {}).get("reference") or (b or {}).get("reference")
        rows.append(
            {
                "key": key,
                "label": _label(metric, key, lang),
                "unit": unit,
                "before": b_val,
                "after": a_val,
                "change": change,
                "sdd": spec.value if spec else None,
                "sdd_source": spec.source if spec else None,
                "within_noise": within,
                "noise": noise,
                "reference": reference,
                "verdict": verdict(b_val, a_val, noise, reference),
            }
        )
    return rows


# Statures entered for one person rarely differ by more than this (typing, shoes, a child's
# growth over a season stays under it between two sessions a coach compares).
HEIGHT_TOLERANCE_CM = 4.0
SubjectMatch = Literal["same", "different", "unknown"]


def _norm(label: str | None) -> str | None:
    """The person label as the history filter compares it (runs.models.person_search_key)."""
    import unicodedata

    if label is None or not label.strip():
        return None
    return unicodedata.normalize("NFKC", label).casefold().strip()


def subject_match(
    person_before: str | None,
    person_after: str | None,
    scale_before: dict[str, Any] | None,
    scale_after: dict[str, Any] | None,
) -> dict[str, Any]:
    """Whether the two runs are of the same person, by label and by stature.

    The video alone cannot tell two people apart by size: the body's length in pixels depends
    on the camera's distance, and the stature in features.json `scale` is the one entered with
    the upload (`height_source` "user") or the default. So stature only counts when both were
    entered; otherwise it is "unknown" and the page says so.
    """
    a, b = _norm(person_before), _norm(person_after)
    by_label: SubjectMatch = (
        "unknown" if a is None or b is None else "same" if a == b else "different"
    )
    heights: list[float | None] = []
    for scale in (scale_before, scale_after):
        entered = scale is not None and scale.get("height_source") == "user"
        heights.append(float(scale["height_cm"]) if entered and scale else None)
    hb, ha = heights
    by_height: SubjectMatch = (
        "unknown"
        if hb is None or ha is None
        else "same"
        if abs(hb - ha) <= HEIGHT_TOLERANCE_CM
        else "different"
    )
    return {
        "by_label": by_label,
        "by_height": by_height,
        "height_before_cm": hb,
        "height_after_cm": ha,
        "different": "different" in (by_label, by_height),
    }
