"""User-facing text of the analysis, in Japanese and English."""

from __future__ import annotations

from formcoach.analysis.schemas import ContextValue, LocalizedText, RangeSpec

UNITS: dict[str, tuple[str, str]] = {
    "spm": ("歩/分", "steps/min"),
    "deg": ("°", "°"),
    "steps": ("歩", "steps"),
}

# Labels of the summary metrics; judged metrics take theirs from reference.yaml.
JOINTS: dict[str, tuple[str, str]] = {
    "knee": ("膝", "knee"),
    "hip": ("股関節", "hip"),
    "elbow": ("肘", "elbow"),
}
SIDES: dict[str, tuple[str, str]] = {"left": ("左", "left"), "right": ("右", "right")}
STATS: dict[str, tuple[str, str]] = {
    "peak": ("最大", "peak"),
    "min": ("最小", "minimum"),
    "median": ("中央値", "median"),
}

THIS_MOVEMENT = LocalizedText(ja="この動き", en="this movement")
STEP_COUNT_LABEL = LocalizedText(ja="検出した歩数", en="steps detected")
BODY_LINE_LABEL = LocalizedText(
    ja="体のライン（肩・腰・足首）", en="body line (shoulder-hip-ankle)"
)
TRUNK_LEAN_LABEL = LocalizedText(ja="上体の傾き", en="trunk lean")


def joint_label(joint: str, stat: str, side: str) -> LocalizedText:
    j, s, st = JOINTS[joint], SIDES[side], STATS[stat]
    return LocalizedText(
        ja=f"{s[0]}{j[0]}の屈曲角度（{st[0]}）", en=f"{s[1]} {j[1]} flexion ({st[1]})"
    )


def _num(value: float) -> str:
    # Whole numbers: 2D pose angles carry ≈5° of error, so decimals would be false precision.
    return f"{value:.0f}"


def _units(unit: str) -> tuple[str, str]:
    ja, en = UNITS.get(unit, (unit, unit))
    # Degrees attach to the number ("15°"); words need a space ("160 歩/分").
    return (ja, en) if ja == "°" else (f" {ja}", f" {en}")


def out_of_range(code: str, spec: RangeSpec, value: float, movement: str) -> LocalizedText:
    """States the measured value, the reference range and its source."""
    ja_unit, en_unit = _units(spec.unit)
    v, lo, hi = _num(value), _num(spec.low), _num(spec.high)
    if code in ("trunk_lean_backward", "trunk_lean_excessive"):
        backward = code == "trunk_lean_backward"
        ja_range = f"中央値 {v}{ja_unit}、参考範囲 {lo}〜{hi}{ja_unit}、出典: {spec.source}"
        en_range = f"median {v}{en_unit}, reference range {lo}–{hi}{en_unit}, source: {spec.source}"
        if backward:
            return LocalizedText(
                ja=f"上体が後ろに傾いています（{ja_range}）。"
                "上体が後ろに倒れると、足を体より前に着きやすくなります（オーバーストライド）。",
                en=f"The trunk leans back ({en_range}). Leaning back tends to put the foot down "
                "ahead of the body (overstriding).",
            )
        return LocalizedText(
            ja=f"上体の前傾が大きすぎます（{ja_range}）。"
            "腰から折れるような前傾は、腰や股関節まわりの負担につながりやすくなります。",
            en=f"The trunk leans too far forward ({en_range}). Bending forward at the waist "
            "tends to load the lower back and hips.",
        )
    below = code.endswith("_low")
    ja = (
        f"{spec.label.ja}は {v}{ja_unit}で、参考範囲 {lo}〜{hi}{ja_unit}（出典: {spec.source}）を"
        f"{'下回って' if below else '上回って'}います。"
    )
    en = (
        f"The {spec.label.en} is {v}{en_unit}, {'below' if below else 'above'} the reference "
        f"range {lo}–{hi}{en_unit} (source: {spec.source})."
    )
    if code == "cadence_high" and movement == "running":
        ja += "高めのピッチそのものは欠点ではありません（エリートランナーでは 210 歩/分に達することもあります）。"
        en += " A high cadence is not a fault in itself (elite runners reach 210 steps/min)."
    elif spec.note is not None and code == "cadence_low":
        ja += spec.note.ja
        en += " " + spec.note.en
    return LocalizedText(ja=ja, en=en)


def detailed_checks_unavailable(movement: str, movement_label: LocalizedText) -> LocalizedText:
    if movement == "other":
        return LocalizedText(
            ja="特定の種目として判定できなかったため、詳しいフォームチェックは行っていません。"
            "関節角度の推移とその要約を表示しています。",
            en="The clip was not recognised as a specific movement, so no detailed form checks "
            "were made: this report shows the joint-angle time series and their summary.",
        )
    return LocalizedText(
        ja=f"{movement_label.ja}の詳しいフォームチェックはまだ準備中です。"
        "今回は関節角度の推移とその要約のみを表示しています。",
        en=f"Detailed form checks for {movement_label.en} are not available yet: this report "
        "shows the joint-angle time series and their summary only.",
    )


def subject_candidates_close(chosen: int, other: int) -> LocalizedText:
    return LocalizedText(
        ja=f"この動画には、分析した人（人物 {chosen}）とほぼ同じくらい対象らしい人（人物 {other}）が"
        "映っていました。動画の中で枠の付いた人が対象の人か確かめ、違う場合は「人物」から"
        "選んで解析し直してください。",
        en=f"Another person in the clip (person {other}) was almost as likely to be the subject as "
        f"the one analysed (person {chosen}). Check that the person outlined in the video is "
        "the right one; if not, pick the other under People and analyse again.",
    )


def movement_auto_detected(
    movement: str, movement_label: LocalizedText, reason: LocalizedText
) -> LocalizedText:
    if movement == "other":
        return LocalizedText(
            ja=f"動きの種類を自動で判定できませんでした（{reason.ja}）。"
            "関節角度の推移のみを表示します。種目を選んで解析し直すこともできます。",
            en=f"The movement could not be recognised ({reason.en}). Only the joint-angle "
            "time series are shown; you can choose the movement and analyse the clip again.",
        )
    return LocalizedText(
        ja=f"動画の動きを「{movement_label.ja}」と自動で判定しました（{reason.ja}）。"
        "違う場合は、種目を選んで解析し直してください。",
        en=f"The movement was recognised as {movement_label.en} because {reason.en}. "
        "If that is wrong, choose the movement and analyse the clip again.",
    )


def cadence_unavailable(steps: int | None, min_steps: int) -> LocalizedText:
    found_ja = f"（検出 {steps} 歩）" if steps is not None else ""
    found_en = f" ({steps} found)" if steps is not None else ""
    return LocalizedText(
        ja=f"歩数を十分に検出できなかったため{found_ja}、ピッチを算出できませんでした。"
        f"全身が映った状態で {min_steps} 歩以上続けて動いている動画が必要です。",
        en=f"Too few steps were detected{found_en} to measure the cadence: the clip needs at "
        f"least {min_steps} consecutive steps with the whole body in view.",
    )


def few_steps(steps: int, needed: int) -> LocalizedText:
    return LocalizedText(
        ja=f"検出した歩数が {steps} 歩と少ないため（目安 {needed} 歩以上）、信頼度は低めです。",
        en=f"Only {steps} steps were detected (≥{needed} recommended): low confidence.",
    )


NO_VALID_FRAMES = LocalizedText(
    ja="この値を測れるフレームがありませんでした（関節が隠れていたか、検出できませんでした）。",
    en="No frame allowed this value to be measured (the joints were hidden or not detected).",
)
NEEDS_SIDE_VIEW = LocalizedText(
    ja="この値は真横から撮影した動画でのみ測定できます。",
    en="This value can only be measured from a side view.",
)
FACING_UNKNOWN = LocalizedText(
    ja="体の向き（左右どちらを向いているか）を判定できなかったため、前傾と後傾を区別できません。",
    en="Which way the person faces could not be told, so forward and backward lean cannot be "
    "told apart.",
)
NOT_SIDE_VIEW_ANGLES = LocalizedText(
    ja="正面や後方からの動画では膝・股関節・肘の曲がりを正確に測れないため、参考値です。",
    en="From a front or rear view knee, hip and elbow flexion cannot be measured accurately: "
    "treat this as indicative only.",
)


def knee_peak_running_note(context: ContextValue) -> LocalizedText:
    return LocalizedText(
        ja="動画全体での最大値で、脚を前に振り出す局面を含みます。接地中の膝の最大屈曲の参考値 "
        f"{context.low:.0f}〜{context.high:.0f}°（{context.source}）とは直接比べられません。",
        en="The peak over the whole clip, swing phase included: it is not comparable with the "
        f"peak knee flexion in stance of {context.low:.0f}–{context.high:.0f}° ({context.source}).",
    )


def squat_depth_note(context: ContextValue) -> LocalizedText:
    return LocalizedText(
        ja="しゃがむ深さの目安: 膝の屈曲 約60° でクォーター、約90° でハーフ、110〜120° で"
        f"太ももが床と平行（{context.source}）。",
        en="Depth guide: knee flexion ≈60° is a quarter squat, ≈90° a half squat and "
        f"110–120° parallel ({context.source}).",
    )


def body_line_note(context: ContextValue) -> LocalizedText:
    return LocalizedText(
        ja=f"180° で肩・腰・足首が一直線です。{context.low:.0f}° 以上が目安です"
        f"（{context.source}）。",
        en="180° means shoulder, hip and ankle in one line; "
        f"{context.low:.0f}° or more is the usual tolerance ({context.source}).",
    )


def implausible_note(value: float, low: float, high: float, unit: str) -> LocalizedText:
    u_ja, u_en = UNITS.get(unit, (unit, unit))
    return LocalizedText(
        ja=f"測定値 {value:.0f}{u_ja} は人の動きとしてあり得る範囲（{low:.0f}〜{high:.0f}{u_ja}）"
        "の外にあり、追跡の誤りと考えられるため表示しません。",
        en=f"Implausible value ({value:.0f} {u_en}, outside the human range "
        f"{low:.0f}–{high:.0f} {u_en}), likely a tracking error: not shown.",
    )


def borderline_note(uncertainty: float, unit: str) -> LocalizedText:
    u_ja, u_en = UNITS.get(unit, (unit, unit))
    return LocalizedText(
        ja=f"目安の境界から測定誤差（±{uncertainty:g}{u_ja}）の範囲内のため、問題とは判定しません。",
        en=f"Within measurement error (±{uncertainty:g} {u_en}) of the limit: not a fault.",
    )


def too_few_observed_note(observed: int, needed: int) -> LocalizedText:
    return LocalizedText(
        ja=f"関節がはっきり映っていたフレームが {observed} しかなく（{needed} 以上必要）、"
        "見えていない部分を推測しないため計測しません。体全体が画面に収まるように撮影してください。",
        en=f"Only {observed} frames showed these joints clearly ({needed} needed); hidden or "
        "out-of-frame joints are never guessed. Film with the whole body in the frame.",
    )
