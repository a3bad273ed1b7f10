"""Texts of the coach's compare page (issue 20 item 6), in Japanese and English: the
same-person check, the per-metric verdicts, the playback controls and the skeleton overlay;
web_text.TEXT takes them in."""

from __future__ import annotations

COMPARE_TEXT: dict[str, dict[str, str]] = {
    # Same person? (analysis/compare.py subject_match)
    "different_people": {
        "ja": "別の人の分析どうしの比較です（名前: {before} と {after}）。",
        "en": "These analyses are of different people ({before} and {after}).",
    },
    "different_heights": {
        "ja": "入力された身長が違います（{before} cm と {after} cm）。別の人の可能性があります。",
        "en": "The heights entered differ ({before} cm and {after} cm): possibly different people.",
    },
    "people_unknown": {
        "ja": "同じ人かどうかは判定できません。",
        "en": "Whether this is the same person cannot be told.",
    },
    "people_no_label": {
        "ja": "お客様・選手の名前が入力されていない分析があります。",
        "en": "An analysis has no customer / athlete name.",
    },
    "people_no_height": {
        "ja": "身長が両方に入力されていないため、体格でも比べられません"
        "（動画に映る体の大きさはカメラとの距離で変わります）。",
        "en": "Heights were not entered for both, so body size cannot be compared either "
        "(the body's size in the video depends on the camera's distance).",
    },
    # Verdicts (analysis/compare.py verdict); the icon is shown beside the text, never alone.
    "verdict": {"ja": "判定", "en": "Verdict"},
    "verdict_better": {"ja": "改善", "en": "Better"},
    "verdict_worse": {"ja": "悪化", "en": "Worse"},
    "verdict_no_change": {"ja": "変化なし", "en": "No change"},
    "verdict_higher": {"ja": "増加", "en": "Higher"},
    "verdict_lower": {"ja": "減少", "en": "Lower"},
    "verdict_none": {"ja": "比較できません", "en": "Not comparable"},
    "verdict_why_noise": {
        "ja": "測定誤差（±{noise}）の範囲内",
        "en": "within measurement error (±{noise})",
    },
    "verdict_why_towards": {"ja": "基準範囲に近づいた", "en": "towards the reference range"},
    "verdict_why_away": {"ja": "基準範囲から離れた", "en": "away from the reference range"},
    "verdict_why_no_ref": {
        "ja": "基準範囲がないため良し悪しは判定しません",
        "en": "no reference range, so not judged better or worse",
    },
    "verdict_why_same_distance": {
        "ja": "基準範囲からの距離は同じ（範囲内など）",
        "en": "same distance from the reference range (inside it, say)",
    },
    "verdict_why_no_noise": {"ja": "誤差の目安なし", "en": "no error figure"},
    "verdict_why_missing": {"ja": "片方で計測できていません", "en": "not measured in one of them"},
    "verdict_note": {
        "ja": "判定: 測定誤差（最小検出変化量と項目ごとの測定誤差の大きい方）より小さい変化は"
        "「変化なし」、それを超えた変化は基準範囲に近づけば「改善」、離れれば「悪化」です。",
        "en": "Verdict: a change smaller than the measurement error (the larger of the smallest "
        "detectable difference and the metric's own error) is “no change”; a larger one is "
        "“better” when it moves towards the reference range and “worse” when away from it.",
    },
    # Playback.
    "speed": {"ja": "再生速度", "en": "Speed"},
    "frame_back": {"ja": "1 コマ戻る", "en": "One frame back"},
    "frame_forward": {"ja": "1 コマ進む", "en": "One frame forward"},
    # The skeleton overlay (analysis/phases.py).
    "overlay": {
        "ja": "同じ局面での骨格の重ね合わせ",
        "en": "Skeletons overlaid at matching phases",
    },
    "overlay_help": {
        "ja": "腰の中心をそろえ、体の長さで大きさを合わせ、同じ向きにして重ねています。",
        "en": "Aligned at the mid-hip, scaled to the body's length and turned to face the same way.",
    },
    "overlay_canvas": {"ja": "前回と今回の骨格", "en": "Before and after skeletons"},
    "phase_initial_contact": {"ja": "接地の瞬間", "en": "Initial contact"},
    "phase_rep_bottom": {"ja": "反復の最下点", "en": "Bottom of the rep"},
    "phase_rep_top": {"ja": "反復の最上点", "en": "Top of the rep"},
    "side_left": {"ja": "左足", "en": "left foot"},
    "side_right": {"ja": "右足", "en": "right foot"},
    "phase_prev": {"ja": "前の局面", "en": "Previous phase"},
    "phase_next": {"ja": "次の局面", "en": "Next phase"},
    "legend_before": {"ja": "前回（破線・丸）", "en": "Before (dashed, circles)"},
    "legend_after": {"ja": "今回（実線・四角）", "en": "After (solid, squares)"},
    "no_phase_different_movements": {
        "ja": "種目が違うため、そろえられる局面がありません。",
        "en": "No matching phase: the movements differ.",
    },
    "no_phase_no_phase": {
        "ja": "この種目にはくり返す局面がないため、重ね合わせはありません。",
        "en": "This movement has no repeating phase to match, so there is no overlay.",
    },
    "no_phase_no_instances": {
        "ja": "両方の動画で見つかった同じ局面がありません（接地や反復が検出されていません）。",
        "en": "No matching phase was found in both clips (no foot contacts or reps in both).",
    },
}
