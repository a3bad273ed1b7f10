"""Checking the user's choice of movement against the clip (issue 19).

A walking analysis of a one-leg balance clip gives walking advice to someone who never walked.
When the movement is chosen, the clip is classified as for "auto"; a confident answer that
contradicts the choice gives a `movement_mismatch` finding, and the form findings of the chosen
movement are then not raised as facts (the service drops them, advice prescribes nothing).
An uncertain classification, or one that merely finds nothing, is no contradiction: the user
may know better, except for a gait chosen on a clip without a single run of steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from formcoach.analysis.classify import LABELS, NOT_OFFERED, classify, step_count
from formcoach.analysis.schemas import Finding, LocalizedText, Reference
from formcoach.feature_extraction.schemas import FeaturesDocument

GAIT = ("running", "walking")


@dataclass(frozen=True)
class Mismatch:
    requested: str
    seen: str  # the movement the clip shows, or "other"
    reason: LocalizedText


def check(
    features: FeaturesDocument, reference: Reference, requested: str, view: str
) -> Mismatch | None:
    """The contradiction between the chosen movement and the clip, if there is one."""
    if requested == "auto":
        return None
    detection = classify(features, reference, view)
    if detection.uncertain:
        return None
    seen = detection.movement
    if seen == requested:
        return None
    if seen != "other":
        return Mismatch(requested, seen, detection.reason)
    if detection.reason == NOT_OFFERED:
        return Mismatch(requested, seen, detection.reason)
    steps = max(step_count(features) or 0, _frontal_stances(features))
    if requested in GAIT and steps < reference.gait.min_steps:
        return Mismatch(
            requested,
            seen,
            LocalizedText(
                ja=f"歩く・走る動きに必要な交互の歩みがありませんでした（検出 {steps} 歩）",
                en=f"the clip shows no run of alternating steps, which any walk or run has "
                f"({steps} found)",
            ),
        )
    return None


def _frontal_stances(features: FeaturesDocument) -> int:
    """Stances counted from a front or rear view: there the side-view step events are absent,
    but the frontal analysis still sees each foot land."""
    frontal = features.gait.frontal_view
    counts = (frontal.get(side, {}) for side in ("left", "right"))
    return sum(int(c.get("stances") or 0) for c in counts if isinstance(c, Mapping))


def _label(movement: str) -> tuple[str, str]:
    return LABELS.get(movement, ("この種目", "this movement"))


def finding(mismatch: Mismatch) -> Finding:
    want_ja, want_en = _label(mismatch.requested)
    if mismatch.seen == "other":
        seen_ja = "選んだ種目とは違う動き"
        seen_en = "a different movement"
    else:
        seen_ja, seen_en = (f"「{x}」" for x in _label(mismatch.seen))
        seen_en = seen_en.strip("「」")
    return Finding(
        code="movement_mismatch",
        severity="info",
        message=LocalizedText(
            ja=f"「{want_ja}」として解析するよう選ばれましたが、動画は{seen_ja}に見えます"
            f"（{mismatch.reason.ja}）。そのため「{want_ja}」のフォームは判定していません。"
            "種目を選び直すか、「自動」で解析し直してください。",
            en=f"The clip was to be analysed as {want_en}, but it shows {seen_en} "
            f"({mismatch.reason.en}). So no {want_en} form checks are reported as faults. "
            'Choose the movement again, or analyse the clip with "auto".',
        ),
    )
