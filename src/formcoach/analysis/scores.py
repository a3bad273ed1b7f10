"""A 0-100 score per area from the judged metrics; the formula is in analysis/SCORES.md."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from formcoach.analysis.judge import severity
from formcoach.analysis.schemas import LocalizedText, Metric, RangeSpec, Score, ScoringSettings

AREAS: dict[str, LocalizedText] = {
    "efficiency": LocalizedText(ja="効率", en="efficiency"),
    "load": LocalizedText(ja="負担", en="load"),
    "symmetry": LocalizedText(ja="左右差", en="symmetry"),
    "depth": LocalizedText(ja="深さ・可動域", en="depth"),
    "control": LocalizedText(ja="コントロール", en="control"),
    "alignment": LocalizedText(ja="姿勢・アライメント", en="alignment"),
}


def metric_points(spec: RangeSpec, metric: Metric, scoring: ScoringSettings) -> float | None:
    """100 in range, else the points of the deviation's severity; None if not measured."""
    if metric.value is None or metric.status == "not_measurable":
        return None
    # Borderline: within measurement error of the bound, so no deviation can be claimed.
    if metric.status in ("ok", "borderline"):
        return 100.0
    level = severity(spec, metric.value, metric.status)
    return scoring.points(level)


def compute_scores(
    metrics: Mapping[str, Metric],
    judged: Mapping[str, RangeSpec],
    scoring: ScoringSettings,
    repeated: Collection[str] = (),
) -> dict[str, Score]:
    """One score per area that the movement's judged metrics name, in first-named order.

    `repeated` metrics measure a fault another metric already judged; scoring them too would
    count that fault twice.
    """
    by_area: dict[str, list[str]] = {}
    for key, spec in judged.items():
        if spec.area is not None:
            by_area.setdefault(spec.area, []).append(key)
    scores: dict[str, Score] = {}
    for area, keys in by_area.items():
        points: list[float] = []
        used: list[str] = []
        for key in keys:
            metric = metrics.get(key)
            if metric is None or key in repeated:
                continue
            earned = metric_points(judged[key], metric, scoring)
            if earned is not None:
                points.append(earned)
                used.append(key)
        label = AREAS.get(area, LocalizedText(ja=area, en=area))
        value = round(sum(points) / len(points), 1) if points else None
        scores[area] = Score(label=label, value=value, metrics=used)
    return scores
