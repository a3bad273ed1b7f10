"""Texts of the progress estimate, the coach's compare page and the grouped details (issue 20),
in Japanese and English; web_text.TEXT takes them in."""

from __future__ import annotations

from formcoach.kit.i18n import Language

MORE_TEXT: dict[str, dict[str, str]] = {
    # Progress (gateway/eta.py).
    "eta_unknown": {"ja": "残り時間を見積もり中…", "en": "Estimating the time left…"},
    "eta_how": {
        "ja": "残り時間は、動画の長さと各段階の重み、ここまでの実際の処理速度からの見積もりです。",
        "en": "The time left is estimated from the clip's length, each stage's share of the work "
        "and how fast this analysis has gone so far.",
    },
    "pending_annotated": {
        "ja": "解析動画を作成中です。できあがるとここに表示されます。",
        "en": "The annotated video is being made; it appears here when it is ready.",
    },
    "pending_drills": {
        "ja": "ドリル動画を作成中です。できあがるとここに表示されます。",
        "en": "The drill videos are being made; they appear here when they are ready.",
    },
    # Grouped details.
    "details": {"ja": "詳しい結果", "en": "Details"},
    "details_more": {"ja": "その他の計測値", "en": "Other measurements"},
    "details_more_help": {
        "ja": "基準値のない参考値と、この動画では計測できなかった項目です。",
        "en": "Values with no reference range, and what this video could not measure.",
    },
    "details_files": {"ja": "データのダウンロード", "en": "Data downloads"},
    "info_findings": {"ja": "参考情報", "en": "For information"},
}

CLOCK: dict[str, dict[str, str]] = {
    "s": {"ja": "{n}秒", "en": "{n} s"},
    "min": {"ja": "{m}分{s}秒", "en": "{m} min {s} s"},
    "left": {"ja": "残り約 {t}", "en": "About {t} left"},
    "report": {"ja": " · 結果の表示まで約 {t}", "en": " · results in about {t}"},
    "report_ready": {"ja": " · 結果を表示しました", "en": " · results are shown below"},
    "soon": {"ja": "まもなく完了", "en": "Almost done"},
    "elapsed": {"ja": "経過 {t}", "en": "{t} so far"},
    "took": {"ja": "{t}", "en": "{t}"},
    "stage_left": {"ja": "残り約 {t}", "en": "about {t} left"},
    "unknown": {"ja": "残り時間を見積もり中…", "en": "Estimating the time left…"},
}


def clock_texts(lang: Language) -> dict[str, str]:
    """The progress page's time phrases, for its script ({n}, {m}, {s}, {t} placeholders)."""
    return {key: value[lang] for key, value in CLOCK.items()}
