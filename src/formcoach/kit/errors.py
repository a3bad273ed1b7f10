"""The error catalogue: every machine-readable code, its HTTP status and its text in ja and en.

Services raise AppError(code, **params); the gateway turns it into
{"error": {"code": ..., "message": ...}} in the caller's language; the CLI prints the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from formcoach.kit.i18n import Language, Text, pick


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    text: Text


CATALOGUE: dict[str, ErrorSpec] = {
    "not_a_video": ErrorSpec(
        415,
        {
            # The detail is the decoder's English: the Japanese text stays Japanese (issue 20).
            "ja": "アップロードされたファイルは再生できる動画ではありません。",
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
    "clip_too_sparse": ErrorSpec(
        422,
        {
            "ja": "動画のコマが少なすぎて判定できません（{frames} コマ、{fps:g} fps）。"
            "{min_frames} コマ以上、{min_fps:g} fps 以上が必要です。"
            "スマートフォンの通常の動画モード（30 fps）で、動きの前後を含めて撮影してください"
            "（タイムラプスやコマ撮りは使えません）。",
            "en": "The clip has too few frames to judge anything ({frames} frames at {fps:g} fps). "
            "At least {min_frames} frames at {min_fps:g} fps or more are needed. Film with the "
            "phone's normal video mode (30 fps), including a little before and after the "
            "movement (time-lapse or stop-motion clips cannot be used).",
        },
    ),
    "storage_full": ErrorSpec(
        507,
        {
            "ja": "サーバーの保存領域がいっぱいです。受け付け済みのデータは失われていません。"
            "解析中の動画は空きができしだい自動で再開します。アップロードはしばらくしてから"
            "もう一度お試しください（管理者に連絡してください）。",
            "en": "The server's storage is full. Nothing already accepted is lost: analyses in "
            "progress resume by themselves once space is freed. Upload again later (and tell "
            "the administrator).",
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
    "audio_only": ErrorSpec(
        415,
        {
            "ja": "音声だけのファイルです。映像の入った動画をアップロードしてください。",
            "en": "The file has sound but no picture. Upload a video.",
        },
    ),
    "frame_too_large": ErrorSpec(
        422,
        {
            "ja": "動画の画面サイズ（{width}×{height}）が大きすぎます。1 フレーム {limit_mpx:.1f} メガピクセル以下の動画をアップロードしてください。",
            "en": "The video's frame size ({width}x{height}) is too large. Upload a video of at most {limit_mpx:.1f} megapixels per frame.",
        },
    ),
    "frame_rate_invalid": ErrorSpec(
        422,
        {
            "ja": "動画のフレームレート（{fps:g} fps）を扱えません。{limit:g} fps 以下の動画をアップロードしてください。",
            "en": "The video's frame rate ({fps:g} fps) cannot be used. Upload a video of at most {limit:g} fps.",
        },
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
    "subject_not_found": ErrorSpec(
        422,
        {
            "ja": "指定された人物 (トラック {subject}) は動画の中に見つかりません。"
            "見つかったトラック: {tracks}",
            "en": "The chosen person (track {subject}) is not in the video. Tracks found: {tracks}",
        },
    ),
    "movement_uncertain": ErrorSpec(
        422,
        {
            "ja": "動画の動きの種類を自動で確実に判定できませんでした（候補: {candidates}）。"
            "種目（ランニング、スクワット、プランクなど）を選んで、もう一度解析してください。",
            "en": "The movement in the video could not be recognised with confidence "
            "(candidates: {candidates}). Choose the movement (running, squat, plank, ...) "
            "and analyse the clip again.",
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
    "share_not_found": ErrorSpec(
        404,
        {"ja": "この共有リンクは存在しません。", "en": "This share link does not exist."},
    ),
    "share_gone": ErrorSpec(
        410,
        {
            "ja": "この共有リンクは期限切れか、取り消されました。",
            "en": "This share link has expired or was revoked.",
        },
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
    "generation_budget_exceeded": ErrorSpec(
        429,
        {
            "ja": "本日のクラウド動画生成の上限（{limit} 秒）に達しました。明日またはローカル生成でお試しください。",
            "en": "Today's cloud video-generation budget ({limit} s) is used up. "
            "Try again tomorrow or use the local generator.",
        },
    ),
    "figure_unavailable": ErrorSpec(
        409,
        {
            "ja": "この記録からは体の比率を測れません（解析が完了した記録を選んでください）。",
            "en": "Body proportions cannot be measured from that run (choose a completed run).",
        },
    ),
    "provider_not_configured": ErrorSpec(
        503,
        {
            "ja": "クラウド動画生成が設定されていません（{detail}）。",
            "en": "Cloud video generation is not configured ({detail}).",
        },
    ),
    "provider_forbidden": ErrorSpec(
        502,
        {
            "ja": "動画生成サービスに拒否されました（権限）: {detail}",
            "en": "The video-generation provider refused access: {detail}",
        },
    ),
    "provider_rejected": ErrorSpec(
        502,
        {
            "ja": "動画生成サービスが依頼を受け付けませんでした: {detail}",
            "en": "The video-generation provider rejected the request: {detail}",
        },
    ),
    "provider_rate_limited": ErrorSpec(
        503,
        {
            "ja": "動画生成サービスが混み合っています。しばらくしてから再度お試しください。",
            "en": "The video-generation provider is rate limiting requests. Try again later.",
        },
    ),
    "provider_unavailable": ErrorSpec(
        503,
        {
            "ja": "動画生成サービスに接続できません。しばらくしてから再度お試しください。",
            "en": "The video-generation provider is unavailable. Try again later.",
        },
    ),
    "provider_failed": ErrorSpec(
        502,
        {
            "ja": "動画生成サービスで生成に失敗しました: {detail}",
            "en": "The video-generation provider could not make the video: {detail}",
        },
    ),
    "provider_content_expired": ErrorSpec(
        502,
        {
            "ja": "生成された動画の保存期限が切れていたため取得できませんでした。",
            "en": "The generated video had expired at the provider before it could be downloaded.",
        },
    ),
    "provider_bad_content": ErrorSpec(
        502,
        {
            "ja": "動画生成サービスから受け取ったファイルが動画ではありませんでした。",
            "en": "The file received from the video-generation provider is not a video.",
        },
    ),
    "database_unavailable": ErrorSpec(
        503,
        {
            "ja": "データベースに接続できません。しばらくしてから再度お試しください（何も保存されていません）。",
            "en": "The database is unavailable. Please try again shortly (nothing was saved).",
        },
    ),
    "service_unavailable": ErrorSpec(
        503,
        {
            "ja": "サービス {service} に接続できません。しばらくしてから再度お試しください。",
            "en": "The {service} service is unavailable. Please try again shortly.",
        },
    ),
    "not_ready": ErrorSpec(
        503,
        {
            "ja": "準備ができていません。使用できない構成要素: {components}。",
            "en": "Not ready. Unavailable component(s): {components}.",
        },
    ),
    "too_many_attempts": ErrorSpec(
        429,
        {
            "ja": "サインインの失敗が続いたため、一時的に受け付けを止めています。{retry_after} 秒後にもう一度お試しください。",
            "en": "Too many failed sign-in attempts. Try again in {retry_after} s.",
        },
    ),
    "too_many_queued_runs": ErrorSpec(
        429,
        {
            "ja": "処理待ちまたは処理中の解析がすでに {limit} 件あります。どれかが終わってからもう一度お試しください。",
            "en": "You already have {limit} analyses queued or running. Try again once one has finished.",
        },
    ),
    # Resumable uploads (tus 1.0 core protocol, gateway/uploads.py).
    "upload_offset_mismatch": ErrorSpec(
        409,
        {
            "ja": "アップロードの位置が一致しません（サーバーには {offset} バイトあります）。続きから送り直してください。",
            "en": "The upload offset does not match (the server holds {offset} bytes). Resume from there.",
        },
    ),
    "upload_busy": ErrorSpec(
        409,
        {
            "ja": "このアップロードには別の送信が進行中です。少し待ってから続きを送ってください。",
            "en": "Another transfer of this upload is in progress. Wait a moment, then resume.",
        },
    ),
    "upload_incomplete": ErrorSpec(
        409,
        {
            "ja": "アップロードがまだ完了していません（{offset} / {length} バイト）。",
            "en": "The upload is not complete yet ({offset} of {length} bytes).",
        },
    ),
    "too_many_uploads": ErrorSpec(
        429,
        {
            "ja": "未完了のアップロードがすでに {limit} 件あります。送信を終えるか取り消してください。",
            "en": "You already have {limit} unfinished uploads. Finish or cancel one first.",
        },
    ),
    "tus_version_unsupported": ErrorSpec(
        412,
        {
            "ja": "このアップロード方式（Tus-Resumable {version}）には対応していません。1.0.0 を使ってください。",
            "en": "This upload protocol version (Tus-Resumable {version}) is not supported. Use 1.0.0.",
        },
    ),
    "unsupported_media_type": ErrorSpec(
        415,
        {
            "ja": "Content-Type は {expected} にしてください。",
            "en": "The Content-Type must be {expected}.",
        },
    ),
    "weak_password": ErrorSpec(
        422,
        {"ja": "このパスワードは使えません: {rule}", "en": "This password cannot be used: {rule}"},
    ),
    "wrong_password": ErrorSpec(
        403,
        {
            "ja": "現在のパスワードが正しくありません。",
            "en": "The current password is wrong.",
        },
    ),
    "weak_admin_password": ErrorSpec(
        422,
        {
            "ja": "FORMCOACH_ADMIN_PASSWORD のパスワードは使えません: {rule} "
            "規則を満たすパスワードにするか、未設定にして生成させてください。起動を中止します。",
            "en": "FORMCOACH_ADMIN_PASSWORD cannot be used: {rule} Set one that follows the "
            "rules, or unset it to have one generated. Not starting.",
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

    def message(self, lang: Language = "en") -> str:
        if self.fixed_message:
            return self.fixed_message
        return render_message(self.code, lang, **self.params)

    def __str__(self) -> str:
        return f"{self.code}: {self.message('en')}"


def render_message(code: str, lang: Language, **params: Any) -> str:
    template = pick(CATALOGUE[code].text, lang)
    try:
        return template.format(**params)
    except (KeyError, ValueError, IndexError):
        # A missing parameter must never turn a clear error into a crash.
        return template.split("{")[0].rstrip(" （(:：")


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}
