"""The error catalogue: every machine-readable code, its HTTP status and its text in ja and en.

Services raise AppError(code, **params); the gateway turns it into
{"error": {"code": ..., "message": ...}} in the caller's language; the CLI prints the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from formcoach.kit.i18n import Text, pick


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    text: Text


CATALOGUE: dict[str, ErrorSpec] = {
    "not_a_video": ErrorSpec(
        415,
        {
            "ja": "アップロードされたファイルは再生できる動画ではありません（{detail}）。",
            "en": "The uploaded file is not a decodable video ({detail}).",
        },
    ),
    "video_too_long": ErrorSpec(
        422,
        {
            "ja": "動画が長すぎます（{duration:.0f} 秒）。{limit:.0f} 秒以内の動画をアップロードしてください。",
            "en": "The video is too long ({duration:.0f} s). Upload a video of at most {limit:.0f} s.",
        },
    ),
    "video_too_short": ErrorSpec(
        422,
        {
            "ja": "動画が短すぎます（{duration:.2f} 秒）。{limit:.0f} 秒以上の動画が必要です。",
            "en": "The video is too short ({duration:.2f} s). At least {limit:.0f} s is needed.",
        },
    ),
    "file_too_large": ErrorSpec(
        413,
        {
            "ja": "ファイルが大きすぎます。上限は {limit_mb} MB です。",
            "en": "The file is too large. The limit is {limit_mb} MB.",
        },
    ),
    "empty_file": ErrorSpec(
        422,
        {"ja": "ファイルが空です。", "en": "The uploaded file is empty."},
    ),
    "no_person_detected": ErrorSpec(
        422,
        {
            "ja": "動画の中で人物を十分に検出できませんでした（{rate:.0%} のフレーム）。"
            "全身が映るように、明るい場所で撮影してください。",
            "en": "No person could be detected in enough frames ({rate:.0%} of frames). "
            "Film the whole body in good light.",
        },
    ),
    "unknown_drill": ErrorSpec(
        422,
        {
            "ja": "ドリルが見つかりません。候補: {suggestions}",
            "en": "No drill matches that text. Suggestions: {suggestions}",
        },
    ),
    "not_found": ErrorSpec(
        404,
        {"ja": "見つかりません。", "en": "Not found."},
    ),
    "unauthorized": ErrorSpec(
        401,
        {
            "ja": "認証が必要です。ユーザー名とパスワード、または API トークンを確認してください。",
            "en": "Authentication required: check the username and password or the API token.",
        },
    ),
    "forbidden": ErrorSpec(
        403,
        {"ja": "この操作には管理者権限が必要です。", "en": "This action needs an administrator."},
    ),
    "validation_error": ErrorSpec(
        422,
        {"ja": "入力が正しくありません: {detail}", "en": "Invalid input: {detail}"},
    ),
    "username_taken": ErrorSpec(
        409,
        {"ja": "そのユーザー名は既に使われています。", "en": "That username is already taken."},
    ),
    "run_not_ready": ErrorSpec(
        409,
        {
            "ja": "解析がまだ完了していません（状態: {status}）。",
            "en": "The analysis has not finished yet (status: {status}).",
        },
    ),
    "method_not_allowed": ErrorSpec(
        405,
        {"ja": "このメソッドは使えません。", "en": "Method not allowed."},
    ),
    "range_not_satisfiable": ErrorSpec(
        416,
        {"ja": "指定された範囲は取得できません。", "en": "The requested range cannot be served."},
    ),
    "video_generation_failed": ErrorSpec(
        500,
        {
            "ja": "ドリル動画を作成できませんでした。もう一度お試しください。",
            "en": "The drill video could not be generated. Please try again.",
        },
    ),
    "internal_error": ErrorSpec(
        500,
        {
            "ja": "内部エラーが発生しました。時間をおいて再度お試しください。",
            "en": "An internal error occurred. Please try again later.",
        },
    ),
}


class AppError(Exception):
    """A failure that the user can act on, identified by a catalogue code."""

    def __init__(self, code: str, **params: Any) -> None:
        if code not in CATALOGUE:
            raise KeyError(f"unknown error code {code!r}")
        super().__init__(code)
        self.code = code
        self.params = params
        self.fixed_message: str | None = None

    @classmethod
    def recorded(cls, code: str, message: str) -> AppError:
        """An error re-raised from a stored record, keeping the message it was stored with."""
        error = cls(code if code in CATALOGUE else "internal_error")
        error.fixed_message = message
        return error

    @property
    def status(self) -> int:
        return CATALOGUE[self.code].status

    def message(self, lang: str = "en") -> str:
        if self.fixed_message:
            return self.fixed_message
        return render_message(self.code, lang, **self.params)

    def __str__(self) -> str:
        return f"{self.code}: {self.message('en')}"


def render_message(code: str, lang: str, **params: Any) -> str:
    template = pick(CATALOGUE[code].text, lang)
    try:
        return template.format(**params)
    except (KeyError, ValueError, IndexError):
        # A missing parameter must never turn a clear error into a crash.
        return template.split("{")[0].rstrip(" （(:：")


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}
