"""Running an exercise profile (reps or hold) into metrics and findings."""

from __future__ import annotations

from formcoach.analysis.exercises import PREFIX, Info, front_fppa, measure_reps
from formcoach.analysis.holds import info_only, measure_hold
from formcoach.analysis.judge import Clip, Measured, info_metric, judge
from formcoach.analysis.schemas import Finding, LocalizedText, Metric, MovementProfile, Reference

LABELS: dict[str, tuple[str, str]] = {
    "reps": ("基準の深さに達した反復の回数", "full reps"),
    "tempo_eccentric_s": ("下ろす局面の時間（中央値）", "eccentric (lowering) time, median"),
    "tempo_pause_s": ("切り返しの静止時間（中央値）", "pause at the turn, median"),
    "tempo_concentric_s": ("戻す局面の時間（中央値）", "concentric (rising) time, median"),
    "trunk_lean_bottom_deg": (
        "最下点での体幹の前傾（中央値、カメラの垂直基準）",
        "trunk lean at the bottom of each rep, median (relative to the camera's vertical)",
    ),
    "back_knee_deg": ("後ろ脚の膝の屈曲（最下点）", "back knee flexion at the bottom"),
    "fppa_deg": ("膝の前額面投影角（FPPA）", "knee frontal-plane projection angle (FPPA)"),
    "hip_above_knee_cm": (
        "最下点での腰の高さ（膝より上）",
        "hip height above the knee at the bottom",
    ),
    "parallel_reps": (
        "腰が膝の高さ以下まで下がった反復の回数",
        "reps with the hips at or below the knees (parallel)",
    ),
    "hold_s": ("体のラインを測れた保持時間", "hold time with the body line measured"),
    "hold_in_tolerance_s": ("許容範囲内で保持できた時間", "hold time within tolerance"),
}
NOT_THIS_VIEW = LocalizedText(
    ja="この種目の角度は、選ばれた撮影方向からは測定できません（撮影方向を確認してください）。",
    en="This exercise's angles cannot be measured from the chosen camera view (check the view).",
)
NOT_MEASURED = LocalizedText(ja="この動画では測定していません。", en="Not measured for this clip.")
REPS_NOT_FOUND = LocalizedText(
    ja="反復動作を検出できませんでした。全身が映るように撮影し、数回くり返してください。",
    en="No repetitions were found. Film the whole body and repeat the movement a few times.",
)


def _label(key: str, prefix: str) -> LocalizedText:
    stem = key[len(prefix) + 1 :]
    ja, en = LABELS.get(stem, (stem, stem))
    return LocalizedText(ja=ja, en=en)


def _unit(key: str) -> str:
    for suffix, unit in (("_reps", "reps"), ("_deg", "deg"), ("_cm", "cm"), ("_s", "s")):
        if key.endswith(suffix):
            return unit
    return ""


def run_profile(
    movement: str, profile: MovementProfile, clip: Clip, ref: Reference
) -> tuple[dict[str, Metric], list[Finding], set[str]]:
    """Judged and informational metrics of one exercise, the findings they raise, and the
    judged keys left without a finding because another metric already judged the same fault
    (they are not scored either)."""
    measured: dict[str, Measured] = {}
    info: dict[str, Info] = {}
    silent: set[str] = set()
    findings: list[Finding] = []
    prefix = PREFIX.get(movement, movement)
    usable_view = not profile.views or clip.view in profile.views
    if movement == "squat" and clip.view == "front":
        # A front view shows the knees caving in (FPPA), not the depth or tempo.
        spec = profile.judged.get("squat_fppa_deg")
        measured["squat_fppa_deg"] = front_fppa(clip, spec.high if spec else None)
    elif usable_view and profile.reps is not None:

        def limits(key: str) -> tuple[float, float] | None:
            spec = profile.judged.get(key)
            return (spec.low, spec.high) if spec else None

        measured, info, reps = measure_reps(movement, clip, profile.reps, limits)
        if not reps:
            findings.append(Finding(code="reps_not_found", severity="info", message=REPS_NOT_FOUND))
        offset = measured.get("pushup_hip_offset_deg")
        if offset is not None and offset.value is not None:
            silent.add("pushup_line_deviation_deg")
    elif usable_view and profile.hold is not None:
        measured, info = measure_hold(movement, clip, profile.hold, ref.evidence.merge_gap_s)
        silent = info_only(movement, measured, profile.hold.tolerance_deg)

    metrics: dict[str, Metric] = {}
    for key, spec in profile.judged.items():
        value = measured.get(key) or Measured(
            None, note=NOT_MEASURED if usable_view else NOT_THIS_VIEW
        )
        metric, finding = judge(key, spec, value, clip.view, clip.view_angle)
        metrics[key] = metric
        # A second measure of a fault already judged would repeat its finding.
        if finding is not None and key not in silent:
            findings.append(finding)
    for key, (number, samples, why) in info.items():
        metrics[key] = info_metric(
            _label(key, prefix), number, _unit(key), None if number is not None else why, samples
        )
    return metrics, findings, silent
