"""The report's `summary`: what a customer must grasp in ten seconds, in the report's language.

What was analysed (movement, view, who), the one to three things that matter most (the most
severe findings; "could not assess X because Y" where the judged metrics could not be
measured), the first drill, and the scores that were measured."""

from __future__ import annotations

from typing import Any

from formcoach.gateway.web_text import labels
from formcoach.kit.i18n import Language

# Most severe first; an informational finding is no thing to work on.
SEVERITY_RANK = {"major": 0, "moderate": 1, "minor": 2}
MAX_POINTS = 3

TEXT = {
    "could_not_assess": {
        "ja": "{what}は評価できませんでした: {why}",
        "en": "Could not assess {what}: {why}",
    },
    "no_reason": {
        "ja": "体のその部分が十分に映っていません。",
        "en": "that part of the body was not seen well enough.",
    },
    "all_good": {
        "ja": "計測できた項目はすべて基準範囲内です。",
        "en": "Everything measured is within the reference range.",
    },
}


def _t(key: str, lang: Language, **params: str) -> str:
    return TEXT[key][lang].format(**params)


def _first_drill(report: dict[str, Any], codes: list[Any]) -> dict[str, Any] | None:
    """The drill of the advice on the most important finding, else the first drill."""
    drills = {d["drill_id"]: d for d in report["drills"]}
    for code in codes:
        for item in report["advice"]:
            if code in item["finding_codes"]:
                for drill_id in item["drills"]:
                    if drill_id in drills:
                        return dict(drills[drill_id])
    return dict(report["drills"][0]) if report["drills"] else None


def build_summary(report: dict[str, Any], person: str | None) -> dict[str, Any]:
    lang = report["language"]
    names = labels(lang)
    points: list[dict[str, Any]] = []
    ranked = sorted(
        (f for f in report["findings"] if f["severity"] in SEVERITY_RANK),
        key=lambda f: SEVERITY_RANK[f["severity"]],
    )
    for finding in ranked[:MAX_POINTS]:
        points.append(
            {
                "kind": "finding",
                "code": finding["code"],
                "severity": finding["severity"],
                "text": finding["message"],
                "evidence": finding["evidence"][:1],
            }
        )
    # Judged metrics that could not be measured matter as much as a fault: the customer must
    # not read silence as "fine".
    for key, metric in report["metrics"].items():
        if len(points) >= MAX_POINTS:
            break
        if metric.get("status") == "not_measurable" and metric.get("reference"):
            what = metric.get("label") or key
            why = metric.get("note") or _t("no_reason", lang)
            points.append(
                {
                    "kind": "not_assessed",
                    "severity": "info",
                    "text": _t("could_not_assess", lang, what=str(what), why=str(why)),
                    "evidence": [],
                }
            )
    if not points:
        points.append(
            {"kind": "ok", "severity": "info", "text": _t("all_good", lang), "evidence": []}
        )
    first = _first_drill(report, [p.get("code") for p in points])
    return {
        "movement": report["movement"],
        "movement_label": names["movement"].get(report["movement"], report["movement"]),
        "view": report["view"],
        "view_label": names["view"].get(report["view"], report["view"]),
        "person": person,
        "duration_s": report["video"]["duration_s"],
        "points": points,
        "next_drill": (
            {"drill_id": first["drill_id"], "name": first["name"], "dose": first["dose"]}
            if first
            else None
        ),
        # Only the areas that were measured: an unmeasured score is no zero.
        "scores": [
            {"area": area, "label": s.get("label") or area, "value": s["value"]}
            for area, s in report["scores"].items()
            if s.get("value") is not None
        ],
    }
