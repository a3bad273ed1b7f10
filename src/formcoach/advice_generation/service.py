"""Public functions of the advice_generation service (other services call these by name).

Drill look-ups: list_drills, get_drill, match_drill. Advice: advise(analysis) turns the
findings of analysis.json into at most a few focus points with drills, by the rules in
rules.yaml.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from string import Formatter
from typing import Any

import yaml

from formcoach.advice_generation.library import Library, load_library
from formcoach.advice_generation.schemas import (
    Advice,
    AdviceItem,
    AdviceText,
    Drill,
    DrillMatch,
    LocalizedText,
    PrescribedDrill,
    RuleBook,
)
from formcoach.analysis.schemas import Analysis, Metric
from formcoach.kit.settings import get_settings

log = logging.getLogger(__name__)

RULES_FILE = Path(__file__).with_name("rules.yaml")
SEVERITY_RANK = {"major": 3, "moderate": 2, "minor": 1, "info": 0}
DETAIL_FIELDS = frozenset(
    {"value", "abs_value", "low", "high", "plus5", "plus10", "side_ja", "side_en"}
)


def _library() -> Library:
    return load_library(get_settings().drill_library_file)


def list_drills() -> list[Drill]:
    """Every drill of the library, in library order."""
    return list(_library().drills)


def get_drill(drill_id: str) -> Drill:
    """The drill with this id; KeyError if there is none."""
    return _library().by_id[drill_id]


def match_drill(text: str) -> DrillMatch:
    """The drill a free text names ("プランク: 体幹を…", "Plank: a basic exercise…").

    Exact id/name/alias of the text's name part first, then names contained in the text
    (the longest wins), then a typo-tolerant match; otherwise drill None and up to three
    suggested drill ids.
    """
    return _library().match(text)


@lru_cache(maxsize=4)
def load_rules(path: Path = RULES_FILE) -> RuleBook:
    with open(path, encoding="utf-8") as handle:
        book = RuleBook.model_validate(yaml.safe_load(handle))
    for code, rule in book.rules.items():
        for variant in (rule, *rule.movements.values()):
            if variant.detail is not None:
                for template in (variant.detail.ja, variant.detail.en):
                    fields = {name for _, name, _, _ in Formatter().parse(template) if name}
                    if not fields <= DETAIL_FIELDS:
                        raise ValueError(f"{path}: {code}: unknown fields {fields - DETAIL_FIELDS}")
    return book


def advise(analysis: Analysis | Mapping[str, Any], rules: RuleBook | None = None) -> dict[str, Any]:
    """The advice.json content (ARCHITECTURE.md) for one analysis, JSON-ready."""
    doc = analysis if isinstance(analysis, Analysis) else Analysis.model_validate(analysis)
    return prescribe(doc, rules).model_dump(mode="json", by_alias=True)


def prescribe(analysis: Analysis, rules: RuleBook | None = None) -> Advice:
    """The typed advice for one analysis: what the advice stage writes as advice.json."""
    book = rules if rules is not None else load_rules()
    library = _library()
    movement = analysis.movement
    metrics = analysis.metrics

    # One focus point per finding code, ranked by severity, then by the rule's priority.
    candidates: list[tuple[int, int, AdviceItem]] = []
    seen: set[str] = set()
    for finding in analysis.findings:
        code = finding.code
        if code in seen or code in book.ignored:
            continue
        seen.add(code)
        rule = book.rules.get(code)
        if rule is None:
            log.warning("no advice rule for finding code %r", code)
            continue
        severity = finding.severity
        variant: AdviceText = rule.movements.get(movement, rule)
        metric = metrics.get(finding.metric or "")
        # Information is worth saying but is no fault to train away.
        drills = [] if severity == "info" else variant.drills
        item = _item(variant, [code], drills, metric, library)
        candidates.append((-SEVERITY_RANK.get(severity, 0), rule.priority, item))
    candidates.sort(key=lambda c: (c[0], c[1]))
    items: list[AdviceItem] = []
    for _, _, item in candidates:
        same = next((i for i in items if item.drills and i.drills == item.drills), None)
        if same is None:
            items.append(item)
            continue
        # One fault seen twice (a shallow squat and its short reps) is one thing to work on:
        # a coach gives one focus point with its drills, and keeps the slot for the next fault.
        same.finding_codes.extend(item.finding_codes)
        if item.detail is not None:
            same.text = LocalizedText(
                ja=f"{same.text.ja}{item.detail.ja}", en=f"{same.text.en} {item.detail.en}"
            )

    codes = {f.code for f in analysis.findings}
    if codes & set(book.no_drills_when):
        # The chosen movement is not the clip's: its drills would train the wrong thing.
        items = [i.model_copy(update={"drills": []}) for i in items]
    elif not any(item.drills for item in items):
        # Every report gets something to practise, and a drill video to watch.
        unchecked = book.general is not None and bool(codes & set(book.general_when))
        base = (
            book.general
            if unchecked and book.general is not None
            else book.maintenance_by_movement.get(movement, book.maintenance)
        )
        items.insert(0, _item(base, [], base.drills, None, library))
    items = items[: book.max_focus_points]

    prescribed: list[PrescribedDrill] = []
    for drill_id in dict.fromkeys(d for item in items for d in item.drills):
        drill = library.by_id[drill_id]
        prescribed.append(
            PrescribedDrill(
                drill_id=drill.id,
                name=drill.name,
                dose=drill.dose,
                cues=drill.cues,
                purpose=drill.purpose,
            )
        )
    return Advice(advice=items, drills=prescribed)


def _item(
    variant: AdviceText,
    codes: list[str],
    drills: list[str],
    metric: Metric | None,
    library: Library,
) -> AdviceItem:
    known = [d for d in drills if d in library.by_id]
    if len(known) != len(drills):
        # A replaced drill library may lack a drill the rules name: advise without it.
        log.warning("rules name drills missing from the library: %s", set(drills) - set(known))
    text = variant.text
    detail = _detail(variant.detail, metric)
    if detail is not None:
        text = LocalizedText(ja=f"{text.ja}{detail.ja}", en=f"{text.en} {detail.en}")
    return AdviceItem(
        title=variant.title, text=text, finding_codes=codes, drills=known, detail=detail
    )


def _detail(template: LocalizedText | None, metric: Metric | None) -> LocalizedText | None:
    """The personalised sentence of a focus point, when the metric has a value to put in it."""
    if template is None or metric is None:
        return None
    value = metric.value
    if value is None:
        return None
    params: dict[str, float | str] = {
        "value": float(value),
        "abs_value": abs(float(value)),
        "plus5": float(value) * 1.05,
        "plus10": float(value) * 1.10,
        # Signed left-right metrics are right minus left: a positive value names the right.
        "side_ja": "右" if value > 0 else "左",
        "side_en": "right" if value > 0 else "left",
    }
    if metric.reference is not None:
        params["low"] = metric.reference.low
        params["high"] = metric.reference.high
    try:
        return LocalizedText(ja=template.ja.format(**params), en=template.en.format(**params))
    except KeyError:
        # An informational metric has no reference range to quote: leave the sentence out.
        return None
