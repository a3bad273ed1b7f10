"""Public functions of the analysis service: features + reference ranges -> metrics and findings.

Judged metrics come from reference.yaml (movements.<movement>.judged); everything else is an
informational summary with no reference. A finding is only ever raised from a metric that was
actually measured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from formcoach.analysis import gait_profile, slowmo
from formcoach.analysis import messages as msg
from formcoach.analysis import series as s
from formcoach.analysis.classify import Detection, classify, measured_cadence, step_count
from formcoach.analysis.filming import needed_body_parts
from formcoach.analysis.judge import Clip, Measured, judge, plausible, severity, uncertainty_of
from formcoach.analysis.mismatch import check as check_mismatch
from formcoach.analysis.mismatch import finding as mismatch_finding
from formcoach.analysis.not_assessed import not_assessed
from formcoach.analysis.profiles import run_profile
from formcoach.analysis.reference import load_reference
from formcoach.analysis.schemas import (
    SEVERITY_RANK,
    Analysis,
    Evidence,
    Finding,
    LocalizedText,
    Metric,
    MetricReference,
    RangeSpec,
    Reference,
    Status,
)
from formcoach.analysis.scores import compute_scores
from formcoach.analysis.validity import (
    canonical,
    detected_view,
    frames_in_view,
    vertical_note,
    view_differs_message,
    view_note,
    view_segments,
)
from formcoach.feature_extraction.schemas import FeaturesDocument
from formcoach.kit.errors import AppError
from formcoach.kit.settings import get_settings

GAIT = ("running", "walking")
# Exercises whose whole-clip trunk lean says nothing (issue 18 item 8: 83° for push-ups, 91°
# for a plank, 6° for a squat leaning ~40° at the bottom): their profiles measure the phase
# that matters instead (body line, lean at the bottom of each rep).
WHOLE_CLIP_LEAN_MEANINGLESS = frozenset(
    {"squat", "plank", "push_up", "side_plank", "glute_bridge", "lunge", "single_leg_squat"}
)
PHASE_LEAN_NOTE = LocalizedText(
    ja="動画全体の体幹の傾きはこの種目では意味がないため表示しません（最下点での前傾や体の"
    "ラインの項目を見てください）。",
    en="A whole-clip trunk lean means nothing for this exercise, so none is shown (see the "
    "lean at the bottom of each rep, or the body line).",
)
# Whose sign means forward/backward only when the facing direction is known.
SIGNED_BY_FACING = frozenset({"trunk_lean_deg"})
# Finding codes by (metric, status); other judged metrics get "<metric stem>_<status>".
FINDING_CODE: dict[tuple[str, str], str] = {
    ("cadence_spm", "low"): "cadence_low",
    ("cadence_spm", "high"): "cadence_high",
    ("trunk_lean_deg", "low"): "trunk_lean_backward",
    ("trunk_lean_deg", "high"): "trunk_lean_excessive",
}


def get_reference(path: Path | None = None) -> Reference:
    """The loaded reference ranges (settings.reference_file, else the packaged reference.yaml)."""
    return load_reference(path if path is not None else get_settings().reference_file)


def analyze(
    features: FeaturesDocument | Mapping[str, Any],
    pose_meta: Mapping[str, Any],
    video_info: Mapping[str, Any],
    movement: str,
    view: str,
    reference: Reference | None = None,
) -> dict[str, Any]:
    """The analysis.json content (ARCHITECTURE.md) for one clip, JSON-ready; features may be
    the parsed features.json or its document."""
    doc = features if isinstance(features, FeaturesDocument) else parse_features(features)
    result = assess(doc, pose_meta, video_info, movement, view, reference)
    return result.model_dump(mode="json", by_alias=True)


def parse_features(content: Mapping[str, Any]) -> FeaturesDocument:
    return FeaturesDocument.model_validate(content)


def assess(
    features: FeaturesDocument,
    pose_meta: Mapping[str, Any],
    video_info: Mapping[str, Any],
    movement: str,
    view: str,
    reference: Reference | None = None,
) -> Analysis:
    """The typed analysis of one clip: what the analysis stage writes as analysis.json."""
    ref = reference if reference is not None else get_reference()
    requested = movement
    # The footage's view wins over the user's choice (issue 18): a choice is a claim, and a
    # side-view check run on a front-view clip measures nothing.
    detected, view_angle = detected_view(features)
    view_requested = view
    if detected is not None:
        view = canonical(detected)
    else:
        # Nothing read from the footage (artifacts from before view detection): the choice,
        # or the side view every check assumed before.
        view = "side" if view == "auto" else canonical(view)
    detection: Detection | None = None
    if movement == "auto":
        detection = classify(features, ref, view)
        if detection.uncertain:
            # The ids are what the user picks from, in either language.
            raise AppError("movement_uncertain", candidates=", ".join(detection.candidates))
        movement = detection.movement
    t = s.times(features)
    proxy = video_info.get("proxy") or {}
    clip = Clip(
        features=features,
        times=t,
        frame_s=s.frame_duration((features.fps, pose_meta.get("fps"), proxy.get("fps")), t),
        view=view,
        facing=features.facing,
        view_angle=view_angle,
        min_observed_frames=get_settings().min_observed_frames,
    )
    profile = ref.movements.get(movement)
    label = profile.label if profile else msg.THIS_MOVEMENT
    judged = profile.judged if profile else {}

    metrics: dict[str, Metric] = {}
    findings: list[Finding] = []
    repeated: set[str] = set()
    close = _close_candidate(pose_meta)
    if close is not None:
        findings.append(
            Finding(
                code="subject_candidates_close",
                severity="info",
                message=msg.subject_candidates_close(*close),
            )
        )
    if detection is not None:
        findings.append(
            Finding(
                code="movement_auto_detected",
                severity="info",
                message=msg.movement_auto_detected(movement, label, detection.reason),
            )
        )
    if profile is not None and (profile.reps is not None or profile.hold is not None):
        exercise_metrics, exercise_findings, repeated = run_profile(movement, profile, clip, ref)
        metrics.update(exercise_metrics)
        findings.extend(exercise_findings)
    else:
        for key, spec in judged.items():
            if key in gait_profile.KEYS:
                measured = gait_profile.measure(key, clip, ref, (spec.low, spec.high))
                metric, finding = judge(key, spec, measured, clip.view, clip.view_angle)
            else:
                metric, finding = _judge(key, spec, clip, ref, movement)
            metrics[key] = metric
            if finding is not None:
                findings.append(finding)
        findings = _one_per_code(findings)
    mismatch = check_mismatch(features, ref, requested, view)
    if mismatch is not None:
        # The chosen movement's checks read a movement the clip does not show: keep the
        # measures, raise none of its faults.
        findings = [mismatch_finding(mismatch), *(f for f in findings if f.severity == "info")]
    metrics.update(_summaries(movement, clip, ref, judged))
    if movement in GAIT:
        metrics.update(gait_profile.summaries(clip, movement))
    slowed = slowmo.factor(video_info)
    if slowed is not None:
        metrics = slowmo.untimed(metrics)
        findings = [
            slowmo.finding(slowed),
            *(f for f in findings if f.metric not in slowmo.TIMING),
        ]
    if detected is not None and view_requested != "auto" and view != canonical(view_requested):
        findings.append(
            Finding(
                code="view_differs",
                severity="info",
                message=view_differs_message(detected, view_requested, view_angle),
            )
        )
    needed_rate = _needed_rate(features, movement)
    frame_height = float(proxy.get("height") or pose_meta.get("height") or 0)
    unassessed = not_assessed(clip, metrics, list(judged), needed_rate, frame_height)
    if unassessed is not None:
        findings.append(unassessed)
    if not judged:
        findings.append(
            Finding(
                code="detailed_checks_unavailable",
                severity="info",
                message=msg.detailed_checks_unavailable(movement, label),
            )
        )
    result = Analysis(
        movement=movement,
        movement_requested=requested,
        view=detected if detected is not None else view,
        view_requested=view_requested,
        view_segments=view_segments(features),
        vertical=features.vertical.model_dump(),
        metrics=metrics,
        findings=findings,
        scores=compute_scores(metrics, judged, ref.scoring, repeated),
        detection_rate_needed=needed_rate,
    )
    return result


def _close_candidate(pose_meta: Mapping[str, Any]) -> tuple[int, int] | None:
    """The chosen track and the runner-up (pose.json subject_choice, alternatives best
    first) when the choice was automatic and close; None when it was clear or the user chose."""
    choice = pose_meta.get("subject_choice")
    if not isinstance(choice, Mapping) or not choice.get("close"):
        return None
    if choice.get("basis") == "requested" or not isinstance(choice.get("chosen"), int):
        return None
    others = [a["id"] for a in choice.get("alternatives") or [] if isinstance(a.get("id"), int)]
    return (choice["chosen"], others[0]) if others else None


def _needed_rate(features: FeaturesDocument, movement: str) -> float | None:
    """Share of frames showing the parts the movement needs (filming.needed_body_parts).
    None for features.json files written before the rates existed."""
    rates = features.body_parts_seen_rate
    values = [rates.get(p) for p in needed_body_parts(movement)]
    if not values or any(v is None for v in values):
        return None
    return round(min(float(v) for v in values if v is not None), 4)


def _one_per_code(findings: list[Finding]) -> list[Finding]:
    """Two measures of one fault (e.g. overstriding by shank angle and by heel distance) give
    one finding: the more severe, with the evidence of both."""
    kept: dict[str, Finding] = {}
    for finding in findings:
        first = kept.get(finding.code)
        if first is None:
            kept[finding.code] = finding
            continue
        worse = (
            finding if SEVERITY_RANK[finding.severity] > SEVERITY_RANK[first.severity] else first
        )
        evidence = sorted({(e.start_s, e.end_s) for e in (*first.evidence, *finding.evidence)})
        kept[finding.code] = worse.model_copy(
            update={"evidence": [Evidence(start_s=a, end_s=b) for a, b in evidence]}
        )
    return list(kept.values())


def _measure(key: str, clip: Clip, ref: Reference) -> tuple[float | None, LocalizedText | None]:
    """The value of a judged metric, or None and the reason it could not be measured."""
    if key == "cadence_spm" and not gait_profile.periodic(clip):
        # Steps are found from the feet passing each other, which only a side view shows.
        frontal = clip.view in gait_profile.FRONTAL_VIEWS
        return None, gait_profile.NEEDS_SIDE if frontal else gait_profile.NOT_PERIODIC
    if key == "cadence_spm":
        value = measured_cadence(clip.features, ref)
        if value is None:
            return None, msg.cadence_unavailable(step_count(clip.features), ref.gait.min_steps)
        return value, None
    # Every other judged metric is the median of the per-frame series of the same name.
    wrong_view = view_note(key, clip.view, clip.view_angle)
    if wrong_view is not None or clip.view != "side":
        return None, wrong_view or msg.NEEDS_SIDE_VIEW
    if key in SIGNED_BY_FACING and clip.facing not in ("left", "right"):
        return None, msg.FACING_UNKNOWN
    value = s.median(s.series(clip.features, key))
    return (value, None) if value is not None else (None, msg.NO_VALID_FRAMES)


def _judge(
    key: str, spec: RangeSpec, clip: Clip, ref: Reference, movement: str
) -> tuple[Metric, Finding | None]:
    value, unavailable = _measure(key, clip, ref)
    checked = plausible(key, Measured(value=value, note=unavailable), spec.unit)
    value, unavailable = checked.value, checked.note
    uncertainty = uncertainty_of(key)
    reference = MetricReference(low=spec.low, high=spec.high, source=spec.source)
    if value is None:
        metric = Metric(
            value=None,
            unit=spec.unit,
            label=spec.label,
            reference=reference,
            status="not_measurable",
            note=unavailable,
            uncertainty=uncertainty,
        )
        return metric, None
    status: Status = "low" if value < spec.low else "high" if value > spec.high else "ok"
    borderline = None
    bound = spec.low if status == "low" else spec.high
    if status != "ok" and uncertainty is not None and abs(value - bound) <= uncertainty:
        status, borderline = "borderline", msg.borderline_note(uncertainty, spec.unit)
    steps = step_count(clip.features) if key == "cadence_spm" else None
    few = msg.few_steps(steps, ref.gait.confident_steps) if steps is not None else None
    if steps is not None and steps >= ref.gait.confident_steps:
        few = None
    note = spec.note
    vertical = vertical_note(clip.features) if key in SIGNED_BY_FACING else None
    for extra in (few, borderline, vertical):
        if extra is not None:
            note = (
                extra
                if note is None
                else LocalizedText(ja=note.ja + extra.ja, en=f"{note.en} {extra.en}")
            )
    metric = Metric(
        value=s.round_or_none(value),
        unit=spec.unit,
        label=spec.label,
        reference=reference,
        status=status,
        note=note,
        samples=steps,
        confidence="low" if few is not None else None,
        uncertainty=uncertainty,
    )
    if status in ("ok", "borderline"):
        return metric, None
    code = FINDING_CODE.get((key, status), f"{key.rsplit('_', 1)[0]}_{status}")
    message = msg.out_of_range(code, spec, value, movement)
    if few is not None:
        message = LocalizedText(ja=message.ja + few.ja, en=f"{message.en} {few.en}")
    finding = Finding(
        code=code,
        severity=severity(spec, value, status),
        message=message,
        evidence=_evidence(key, spec, clip, ref, status),
        metric=key,
    )
    return metric, finding


def _evidence(
    key: str, spec: RangeSpec, clip: Clip, ref: Reference, status: Status
) -> list[Evidence]:
    if key == "cadence_spm":
        # A cadence belongs to the whole analysed span, not to single frames.
        whole = clip.span()
        return [whole] if whole is not None else []
    values = s.series(clip.features, key)
    n = min(values.size, clip.times.size)
    values = values[:n]
    with np.errstate(invalid="ignore"):
        flagged = values < spec.low if status == "low" else values > spec.high
    ranges = s.spans(clip.times[:n], flagged, clip.frame_s, ref.evidence.merge_gap_s)
    return [Evidence(start_s=round(a, 3), end_s=round(b, 3)) for a, b in ranges]


def _summary(
    label: LocalizedText,
    value: float | None,
    unit: str,
    note: LocalizedText | None = None,
    key: str | None = None,
) -> Metric:
    if value is None:
        return Metric(
            value=None, unit=unit, label=label, status="not_measurable", note=msg.NO_VALID_FRAMES
        )
    uncertainty = None
    if key is not None:
        checked = plausible(key, Measured(value=value), unit)
        uncertainty = uncertainty_of(key)
        if checked.value is None:
            return Metric(
                value=None,
                unit=unit,
                label=label,
                status="not_measurable",
                note=checked.note,
                uncertainty=uncertainty,
            )
    return Metric(
        value=s.round_or_none(value),
        unit=unit,
        label=label,
        status="ok",
        note=note,
        uncertainty=uncertainty,
    )


def _observed_summary(
    key: str,
    label: LocalizedText,
    values: s.FloatArray,
    stat: Callable[[s.FloatArray], float | None],
    note: LocalizedText | None,
    min_frames: int,
) -> Metric:
    """A summary of the observed frames only, or not measurable when they are too few."""
    count = int(np.isfinite(values).sum())
    if 0 < count < min_frames:
        return Metric(
            value=None,
            unit="deg",
            label=label,
            status="not_measurable",
            note=msg.too_few_observed_note(count, min_frames),
            samples=count,
        )
    return _summary(label, stat(values), "deg", note, key)


def _summaries(
    movement: str, clip: Clip, ref: Reference, judged: Mapping[str, RangeSpec]
) -> dict[str, Metric]:
    """Informational metrics: no reference, status ok (or not_measurable when absent)."""
    out: dict[str, Metric] = {}
    side_note = msg.NOT_SIDE_VIEW_ANGLES if clip.view != "side" else None
    in_view = frames_in_view(clip.features, clip.times, clip.view)
    if in_view.size < clip.times.size or not in_view.any():
        in_view = np.ones(max(clip.times.size, 1), dtype=np.bool_)

    def withheld(key: str, label: LocalizedText) -> Metric | None:
        # Outside its valid views a summary is not shown at all, not shown "as indicative".
        note = view_note(key, clip.view, clip.view_angle)
        if note is None:
            return None
        return Metric(value=None, unit="deg", label=label, status="not_measurable", note=note)

    if movement in GAIT:
        steps = step_count(clip.features)
        out["step_count"] = _summary(
            msg.STEP_COUNT_LABEL, float(steps) if steps is not None else None, "steps"
        )
    stats = {"peak": s.maximum, "min": s.minimum, "median": s.median}
    plan = (("knee", ("peak", "min")), ("hip", ("peak", "min")), ("elbow", ("median",)))
    for joint, wanted in plan:
        for stat in wanted:
            for side in ("left", "right"):
                values = s.observed_series(clip.features, f"{side}_{joint}_flexion_deg")
                values = np.where(in_view[: values.size], values, np.nan)
                note = side_note or _context_note(movement, joint, stat, ref)
                key = f"{joint}_flexion_{stat}_{side}_deg"
                out[key] = withheld(key, msg.joint_label(joint, stat, side)) or _observed_summary(
                    key,
                    msg.joint_label(joint, stat, side),
                    values,
                    stats[stat],
                    note,
                    clip.min_observed_frames,
                )
    if movement in WHOLE_CLIP_LEAN_MEANINGLESS:
        out["trunk_lean_deg"] = Metric(
            value=None,
            unit="deg",
            label=msg.TRUNK_LEAN_LABEL,
            status="not_measurable",
            note=PHASE_LEAN_NOTE,
        )
    elif "trunk_lean_deg" not in judged:
        facing_known = clip.facing in ("left", "right")
        lean_series = s.series(clip.features, "trunk_lean_deg")
        lean = s.median(np.where(in_view[: lean_series.size], lean_series, np.nan))
        # Forward is positive only when the facing is known; else only the size is given.
        if lean is not None and not facing_known:
            lean = abs(lean)
        out["trunk_lean_deg"] = withheld("trunk_lean_deg", msg.TRUNK_LEAN_LABEL) or _summary(
            msg.TRUNK_LEAN_LABEL,
            lean,
            "deg",
            _joined(None if facing_known else msg.FACING_UNKNOWN, vertical_note(clip.features)),
        )
    if movement == "plank":
        context = ref.context.get("plank_body_line_deg")
        out["body_line_deg"] = withheld("body_line_deg", msg.BODY_LINE_LABEL) or _summary(
            msg.BODY_LINE_LABEL,
            s.median(s.series(clip.features, "body_line_deg")),
            "deg",
            side_note or (msg.body_line_note(context) if context else None),
        )
    return out


def _joined(*notes: LocalizedText | None) -> LocalizedText | None:
    present = [n for n in notes if n is not None]
    if not present:
        return None
    return LocalizedText(ja="".join(n.ja for n in present), en=" ".join(n.en for n in present))


def _context_note(movement: str, joint: str, stat: str, ref: Reference) -> LocalizedText | None:
    if joint != "knee" or stat != "peak":
        return None
    if movement == "running" and "knee_flexion_peak_stance_deg" in ref.context:
        return msg.knee_peak_running_note(ref.context["knee_flexion_peak_stance_deg"])
    if movement == "squat" and "squat_knee_flexion_deg" in ref.context:
        return msg.squat_depth_note(ref.context["squat_knee_flexion_deg"])
    return None
