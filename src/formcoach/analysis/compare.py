"""Comparing two analyses: per-metric change, and whether it is within measurement noise.

A change smaller than the smallest detectable difference (SDD) cannot be told apart from
day-to-day measurement error, so a before/after comparison must say so instead of calling it
progress. SDD values live in reference.yaml (top-level `sdd`) with their source.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

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
            }
        )
    return rows
