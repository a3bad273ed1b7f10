"""The record mode's texts (new-analysis page), in ja and en; the filming tips themselves come
from the analysis (analysis/filming.py), as in the reports."""

from __future__ import annotations

from typing import Any

from formcoach.analysis.filming import filming_tips
from formcoach.kit.i18n import Language
from formcoach.kit.pipeline import MOVEMENTS

RECORD_TEXT: dict[str, dict[str, str]] = {
    "mode_file": {"ja": "ファイルを選ぶ", "en": "Upload a file"},
    "mode_record": {"ja": "この端末で撮影", "en": "Record here"},
    "pick_movement": {"ja": "先に種目を選んでください。", "en": "Choose the movement first."},
    "start_camera": {"ja": "カメラを起動", "en": "Start camera"},
    "switch_camera": {"ja": "カメラ切替", "en": "Switch camera"},
    "record": {"ja": "録画開始", "en": "Record"},
    "stop": {"ja": "停止", "en": "Stop"},
    "retake": {"ja": "撮り直す", "en": "Retake"},
    "use": {"ja": "この動画で解析", "en": "Use this clip"},
    "guide": {"ja": "撮影ガイド", "en": "Framing guide"},
    "denied": {
        "ja": "カメラの使用が許可されていません。ブラウザの設定で許可するか、「ファイルを選ぶ」"
        "から撮影済みの動画をアップロードしてください。",
        "en": "Camera access was refused. Allow it in the browser settings, or upload a clip "
        "with “Upload a file”.",
    },
    "no_camera": {
        "ja": "この端末ではカメラが見つかりません。「ファイルを選ぶ」から動画をアップロードしてください。",
        "en": "No camera was found on this device. Upload a clip with “Upload a file”.",
    },
    "no_recorder": {
        "ja": "このブラウザは録画に対応していません。「ファイルを選ぶ」を使ってください。",
        "en": "This browser cannot record video. Use “Upload a file”.",
    },
    "checking": {"ja": "構図を確認中…", "en": "Checking the framing…"},
    "retrying": {
        "ja": "接続が切れました。続きから送り直しています…",
        "en": "Connection lost. Resuming where it stopped…",
    },
    "sending": {"ja": "送信中", "en": "Sending"},
    "kept": {
        "ja": "未送信の録画がこの端末に保存されています。",
        "en": "An unsent recording is kept on this device.",
    },
    "send_kept": {"ja": "送信する", "en": "Send it"},
    "discard": {"ja": "破棄", "en": "Discard"},
}


def record_context(lang: Language) -> dict[str, Any]:
    """The template's `r` texts and the JSON the page's script reads (texts, tips per movement)."""
    texts = {k: v[lang] for k, v in RECORD_TEXT.items()}
    tips = {
        m: [{"code": code, "text": getattr(tip, lang)} for code, tip in filming_tips(m)]
        for m in MOVEMENTS
    }
    return {"r": texts, "record_json": {"text": texts, "tips": tips}}
