"""Every text of the web pages in Japanese and English, and the labels of stored codes."""

from __future__ import annotations

from formcoach.gateway.web_text_compare import COMPARE_TEXT
from formcoach.gateway.web_text_more import MORE_TEXT, clock_texts
from formcoach.kit.i18n import Language
from formcoach.pipeline.stages import STAGE_LABELS

__all__ = ["DEFAULT_HINT", "FAILURE_HINTS", "LABELS", "TEXT", "clock_texts", "labels", "texts"]

TEXT: dict[str, dict[str, str]] = {
    "title": {"ja": "formcoach フォーム分析", "en": "formcoach form analysis"},
    "tagline": {"ja": "動画からフォームを分析", "en": "Movement analysis from video"},
    "sign_in": {"ja": "サインイン", "en": "Sign in"},
    "sign_out": {"ja": "サインアウト", "en": "Sign out"},
    "username": {"ja": "ユーザー名", "en": "Username"},
    "password": {"ja": "パスワード", "en": "Password"},
    "bad_login": {
        "ja": "ユーザー名またはパスワードが違います。",
        "en": "Wrong username or password.",
    },
    "too_many_attempts": {
        "ja": "サインインの失敗が続いたため、一時的に受け付けを止めています。{seconds} 秒後にもう一度お試しください。",
        "en": "Too many failed sign-in attempts. Try again in {seconds} s.",
    },
    "nav": {"ja": "メインメニュー", "en": "Main menu"},
    "language_switch": {"ja": "表示言語", "en": "Display language"},
    "new_analysis": {"ja": "新しい分析", "en": "New analysis"},
    "video": {"ja": "動画ファイル", "en": "Video file"},
    "drop_here": {
        "ja": "ここに動画をドラッグ＆ドロップ、またはクリックして選択（カメラロールから選べます）",
        "en": "Drag and drop a video here, or click to choose one (camera roll included)",
    },
    "no_file": {"ja": "動画を選んでください。", "en": "Choose a video first."},
    "movement": {"ja": "種目", "en": "Movement"},
    "view": {"ja": "撮影方向", "en": "Camera view"},
    "view_detected": {"ja": "動画から判定", "en": "read from the video"},
    "view_chosen": {"ja": "指定", "en": "you chose"},
    "height": {"ja": "身長 (cm、任意)", "en": "Height (cm, optional)"},
    "language": {"ja": "レポートの言語", "en": "Report language"},
    "upload": {"ja": "アップロードして分析", "en": "Upload and analyse"},
    "uploading": {"ja": "アップロード中…", "en": "Uploading…"},
    "film_title": {"ja": "撮影のしかた", "en": "How to film"},
    "film_distance": {
        "ja": "3〜5 m 離れ、全身（頭から足先まで）が画面に入るように撮影します。",
        "en": "Stand 3–5 m away so the whole body, head to toes, stays in the frame.",
    },
    "film_side": {
        "ja": "ランニングとスクワットは真横から。カメラは腰の高さで固定します。",
        "en": "Film running and squats from the side, camera fixed at hip height.",
    },
    "film_fps": {
        "ja": "できれば 60 fps 以上。明るい場所で、他の人が映らないようにします。",
        "en": "60 fps or more if the phone allows; good light, nobody else in view.",
    },
    "history": {"ja": "分析履歴", "en": "History"},
    "status": {"ja": "状態", "en": "Status"},
    "progress": {"ja": "進捗", "en": "Progress"},
    "stages": {"ja": "処理の段階", "en": "Processing stages"},
    "report": {"ja": "レポート", "en": "Report"},
    "results": {"ja": "分析結果", "en": "Results"},
    "annotated": {"ja": "解析動画", "en": "Annotated video"},
    "original": {"ja": "元の動画", "en": "Original video"},
    "metrics": {"ja": "計測値", "en": "Metrics"},
    "findings": {"ja": "所見", "en": "Findings"},
    "no_findings": {"ja": "指摘事項はありません。", "en": "Nothing to point out."},
    "jump_to": {"ja": "動画のこの場面へ", "en": "Show in the video"},
    "charts": {"ja": "角度の推移", "en": "Angles over time"},
    "chart_hint": {
        "ja": "グラフをクリックすると動画がその時点に移動します。縦線は再生位置です。",
        "en": "Click a chart to move the video there; the vertical line is the playback position.",
    },
    "advice": {"ja": "アドバイス", "en": "Advice"},
    "drills": {"ja": "おすすめのドリル", "en": "Recommended drills"},
    "dose": {"ja": "回数・時間", "en": "Dose"},
    "cues": {"ja": "意識するポイント", "en": "Cues"},
    "reference": {"ja": "基準範囲", "en": "Reference"},
    "source": {"ja": "出典", "en": "Source"},
    "no_reference": {"ja": "基準範囲なし（参考値）", "en": "No reference range (for information)"},
    "failed": {"ja": "分析に失敗しました", "en": "The analysis failed"},
    "what_to_do": {"ja": "対処方法", "en": "What to do"},
    "try_again": {"ja": "別の動画で分析する", "en": "Analyse another video"},
    "no_runs": {"ja": "該当する分析はありません。", "en": "No analyses found."},
    "share": {"ja": "お客様と共有", "en": "Share with the customer"},
    "share_help": {
        "ja": "このレポートだけを読み取り専用で開くリンクと QR コードを作ります（{days} 日で失効、いつでも取り消せます）。",
        "en": "Makes a read-only link and QR code to this report only (expires in {days} days, revocable at any time).",
    },
    "share_made": {"ja": "共有リンク", "en": "Share link"},
    "share_revoke": {"ja": "リンクを取り消す", "en": "Revoke the link"},
    "share_revoked": {"ja": "リンクを取り消しました。", "en": "The link was revoked."},
    "share_no_public_url": {
        "ja": "公開 URL（FORMCOACH_PUBLIC_URL）が未設定のため QR コードは表示できません。",
        "en": "No QR code: the public URL (FORMCOACH_PUBLIC_URL) is not set.",
    },
    "shared_report": {"ja": "共有されたレポート（閲覧のみ）", "en": "Shared report (read-only)"},
    "share_scan": {
        "ja": "スマートフォンで読み取ると、このレポートと動画を見られます。",
        "en": "Scan with a phone to see this report and its videos.",
    },
    "share_gone": {"ja": "このリンクは使えません", "en": "This link cannot be opened"},
    "share_gone_help": {
        "ja": "レポートを作った店舗に新しいリンクを依頼してください。",
        "en": "Ask the shop that made the report for a new link.",
    },
    "summary": {"ja": "まとめ", "en": "Summary"},
    "sdd": {"ja": "最小可検変化量（SDD）", "en": "Smallest detectable difference (SDD)"},
    "analysed": {"ja": "分析した内容", "en": "What was analysed"},
    "key_points": {"ja": "大切なこと", "en": "What matters most"},
    "next_step": {"ja": "次にやること", "en": "What to do next"},
    "scores": {"ja": "スコア（計測できた項目のみ）", "en": "Scores (measured areas only)"},
    "details": {"ja": "詳細", "en": "Details"},
    "more_metrics": {"ja": "その他の計測値", "en": "More measurements"},
    "downloads": {"ja": "ダウンロード", "en": "Downloads"},
    "print": {"ja": "印刷用レポート", "en": "Printable report"},
    "print_now": {"ja": "印刷する", "en": "Print"},
    "compare": {"ja": "比較", "en": "Compare"},
    "compare_runs": {"ja": "2 つの分析を比較", "en": "Compare two analyses"},
    "compare_pick": {
        "ja": "比較する分析を 2 つ選んでください。",
        "en": "Select two analyses to compare.",
    },
    "compare_selected": {"ja": "選んだ 2 件を比較", "en": "Compare the two selected"},
    "before": {"ja": "前回", "en": "Before"},
    "after": {"ja": "今回", "en": "After"},
    "change": {"ja": "変化", "en": "Change"},
    "noise": {"ja": "測定誤差の範囲内", "en": "within measurement noise"},
    "real_change": {"ja": "誤差を超える変化", "en": "beyond measurement noise"},
    "no_sdd": {"ja": "誤差の目安なし", "en": "no noise figure"},
    "sdd_note": {
        "ja": "測定誤差の目安（最小検出変化量）より小さい変化は、実際の変化とは言えません。",
        "en": "Changes smaller than the smallest detectable difference cannot be told from "
        "measurement noise.",
    },
    "play_both": {"ja": "両方を再生／一時停止", "en": "Play / pause both"},
    "different_movements": {
        "ja": "種目が異なる分析どうしの比較です。",
        "en": "These analyses are of different movements.",
    },
    "filter": {"ja": "絞り込み", "en": "Filter"},
    "person": {"ja": "お客様・選手の名前", "en": "Customer / athlete"},
    "date_from": {"ja": "開始日", "en": "From"},
    "date_to": {"ja": "終了日", "en": "To"},
    "all": {"ja": "すべて", "en": "All"},
    "delete": {"ja": "削除", "en": "Delete"},
    "confirm_delete": {
        "ja": "この分析と動画を削除します。元に戻せません。よろしいですか？",
        "en": "Delete this analysis and its videos? This cannot be undone.",
    },
    "date": {"ja": "日時", "en": "Date"},
    "file": {"ja": "ファイル", "en": "File"},
    "open": {"ja": "開く", "en": "Open"},
    "users": {"ja": "ユーザー管理", "en": "Users"},
    "add_user": {"ja": "ユーザーを追加", "en": "Add a user"},
    "admin": {"ja": "管理者", "en": "Administrator"},
    "active": {"ja": "有効", "en": "Active"},
    "disabled": {"ja": "無効", "en": "Disabled"},
    "disable": {"ja": "無効にする", "en": "Disable"},
    "enable": {"ja": "有効にする", "en": "Enable"},
    "user_language": {"ja": "言語", "en": "Language"},
    "password_rule": {"ja": "パスワード（10 文字以上）", "en": "Password (10+ characters)"},
    "reset_password": {"ja": "パスワード再設定", "en": "Reset password"},
    "new_password": {
        "ja": "新しいパスワード（10 文字以上）",
        "en": "New password (10+ characters)",
    },
    "save": {"ja": "保存", "en": "Save"},
    "cancel": {"ja": "キャンセル", "en": "Cancel"},
    "saved": {"ja": "保存しました。", "en": "Saved."},
    "tokens": {"ja": "API トークン", "en": "API tokens"},
    "change_password": {"ja": "パスワードの変更", "en": "Change your password"},
    "current_password": {"ja": "現在のパスワード", "en": "Current password"},
    "password_change_note": {
        "ja": "変更すると、あなたの API トークンはすべて無効になります。",
        "en": "Changing it revokes all your API tokens.",
    },
    "password_changed": {
        "ja": "パスワードを変更しました。API トークンはすべて無効になりました。",
        "en": "Your password was changed. All your API tokens were revoked.",
    },
    "form_expired": {
        "ja": "フォームの有効期限が切れました。ページを再読み込みしてからもう一度お試しください。",
        "en": "The form has expired. Reload the page and try again.",
    },
    "token_name": {"ja": "トークン名", "en": "Token name"},
    "create_token": {"ja": "トークンを作成", "en": "Create token"},
    "token_once": {
        "ja": "このトークンは今だけ表示されます。安全な場所に保存してください。",
        "en": "This token is shown only now. Store it somewhere safe.",
    },
    "revoke": {"ja": "無効化", "en": "Revoke"},
    "confirm_revoke": {
        "ja": "このトークンを無効にします。よろしいですか？",
        "en": "Revoke this token?",
    },
    "created": {"ja": "作成日", "en": "Created"},
    "last_used": {"ja": "最終使用", "en": "Last used"},
    "never": {"ja": "未使用", "en": "never"},
    "not_found": {"ja": "ページが見つかりません。", "en": "Page not found."},
    "back": {"ja": "戻る", "en": "Back"},
    "scan_qr": {
        "ja": "QR コードを読み取るとドリル動画を再生できます。",
        "en": "Scan a QR code to play the drill video.",
    },
    "video_label": {"ja": "ドリル動画", "en": "drill video"},
    "stage_state": {"ja": "状態", "en": "state"},
    "detection": {"ja": "人物検出率", "en": "Person detected in"},
    "frames": {"ja": "フレーム", "en": "frames"},
    "duration": {"ja": "長さ", "en": "Duration"},
    "seconds": {"ja": "秒", "en": "s"},
    "skip": {"ja": "本文へ移動", "en": "Skip to content"},
    "close": {"ja": "閉じる", "en": "Close"},
    "person_optional": {"ja": "お客様・選手の名前（任意）", "en": "Customer / athlete (optional)"},
    "person_help": {
        "ja": "履歴で絞り込めるように名前を付けます。以前の名前は候補に出ます。",
        "en": "A name to find the analysis in the history; earlier names are suggested.",
    },
    "people": {"ja": "映っている人", "en": "People in the video"},
    "people_help": {
        "ja": "動画に複数の人が映っていました。別の人を分析するには、その人のボタンを押してください。",
        "en": "More than one person was in the video. To analyse someone else, press their button.",
    },
    "person_track": {"ja": "人物", "en": "Person"},
    "analysed_person": {"ja": "分析した人", "en": "Analysed"},
    "analyse_person": {"ja": "この人を分析する", "en": "Analyse this person instead"},
    "visible": {"ja": "映っている時間", "en": "In view"},
    # Why the automatic choice is who it is (pose.json parts, pose_estimation/subject.py).
    "subject_score": {"ja": "自動選択のスコア", "en": "Choice score"},
    "part_motion": {"ja": "動き", "en": "moving"},
    "part_travel": {"ja": "移動", "en": "travel"},
    "body_sizes": {"ja": "体長分", "en": "body sizes"},
    "part_seen": {"ja": "映っている割合", "en": "in view"},
    "part_size": {"ja": "大きさ", "en": "size"},
    "part_whole_body": {"ja": "全身", "en": "whole body"},
    "part_centrality": {"ja": "中央", "en": "central"},
    "live_fallback": {
        "ja": "ライブ更新が切れたため、定期的に確認しています。",
        "en": "The live stream dropped; checking every second instead.",
    },
}

# Labels of stored codes, shown instead of the code itself.
LABELS: dict[str, dict[str, dict[str, str]]] = {
    "movement": {
        "auto": {"ja": "自動判定", "en": "Automatic"},
        "running": {"ja": "ランニング", "en": "Running"},
        "walking": {"ja": "ウォーキング", "en": "Walking"},
        "squat": {"ja": "スクワット", "en": "Squat"},
        "plank": {"ja": "プランク", "en": "Plank"},
        "push_up": {"ja": "腕立て伏せ", "en": "Push-up"},
        "lunge": {"ja": "ランジ", "en": "Lunge"},
        "glute_bridge": {"ja": "グルートブリッジ", "en": "Glute bridge"},
        "side_plank": {"ja": "サイドプランク", "en": "Side plank"},
        "single_leg_squat": {"ja": "片脚スクワット", "en": "Single-leg squat"},
        "other": {"ja": "その他", "en": "Other"},
    },
    "view": {
        "auto": {"ja": "自動判定", "en": "Automatic"},
        "side": {"ja": "横から", "en": "Side"},
        "front": {"ja": "正面から", "en": "Front"},
        "rear": {"ja": "後ろから", "en": "Rear"},
        "back": {"ja": "後ろから", "en": "Rear"},
        "oblique": {"ja": "斜めから", "en": "Oblique"},
        "unknown": {"ja": "不明", "en": "Unknown"},
    },
    "status": {
        "queued": {"ja": "待機中", "en": "Queued"},
        "running": {"ja": "処理中", "en": "Processing"},
        "completed": {"ja": "完了", "en": "Completed"},
        "failed": {"ja": "失敗", "en": "Failed"},
        "pending": {"ja": "待機中", "en": "Waiting"},
        "done": {"ja": "完了", "en": "Done"},
    },
    # Stage labels come from the one stage table (pipeline/stages.py).
    "stage": {name: dict(label) for name, label in STAGE_LABELS.items()},
    "severity": {
        "info": {"ja": "情報", "en": "Info"},
        "minor": {"ja": "軽度", "en": "Minor"},
        "moderate": {"ja": "中程度", "en": "Moderate"},
        "major": {"ja": "重要", "en": "Major"},
    },
    "metric_status": {
        "ok": {"ja": "範囲内", "en": "Within range"},
        "low": {"ja": "基準より低い", "en": "Below range"},
        "high": {"ja": "基準より高い", "en": "Above range"},
        "borderline": {"ja": "境界（測定誤差内）", "en": "Borderline (within measurement error)"},
        "not_measurable": {"ja": "計測できず", "en": "Not measurable"},
    },
    "unit": {
        "deg": {"ja": "°", "en": "°"},
        "spm": {"ja": "歩/分", "en": "steps/min"},
        "steps": {"ja": "歩", "en": "steps"},
    },
    "download": {
        "annotated_video": {"ja": "解析動画 (MP4)", "en": "Annotated video (MP4)"},
        "proxy_video": {"ja": "元の動画 (MP4)", "en": "Original video (MP4)"},
        "keypoints_csv": {"ja": "キーポイント (CSV)", "en": "Keypoints (CSV)"},
        "angles_csv": {"ja": "角度 (CSV)", "en": "Angles (CSV)"},
        "features_json": {"ja": "時系列データ (JSON)", "en": "Time series (JSON)"},
        "analysis_json": {"ja": "分析結果 (JSON)", "en": "Analysis (JSON)"},
        "advice_json": {"ja": "アドバイス (JSON)", "en": "Advice (JSON)"},
        "pose_json": {"ja": "姿勢推定の情報 (JSON)", "en": "Pose estimation info (JSON)"},
        "video_info_json": {"ja": "動画の情報 (JSON)", "en": "Video info (JSON)"},
        "keypoints_json": {"ja": "キーポイント (JSON)", "en": "Keypoints (JSON)"},
        "keypoints_metric_csv": {
            "ja": "キーポイント・メートル単位 (CSV)",
            "en": "Keypoints in metres (CSV)",
        },
        "markers_px_trc": {"ja": "マーカー・ピクセル (TRC)", "en": "Markers in pixels (TRC)"},
        "markers_m_trc": {"ja": "マーカー・メートル (TRC)", "en": "Markers in metres (TRC)"},
        "angles_mot": {"ja": "関節角度 (MOT, OpenSim)", "en": "Joint angles (MOT, OpenSim)"},
        "tracks_jpg": {
            "ja": "検出された人物の軌跡 (JPEG)",
            "en": "People found and their paths (JPEG)",
        },
    },
}

# What to do after a failed run, by error code (the stored message says what went wrong).
FAILURE_HINTS: dict[str, dict[str, str]] = {
    "no_person_detected": {
        "ja": "全身が映るように 3〜5 m 離れ、明るい場所で撮り直してください。",
        "en": "Film again from 3–5 m away in good light with the whole body in view.",
    },
    "not_a_video": {
        "ja": "スマートフォンのカメラで撮影した MP4 または MOV の動画を選んでください。",
        "en": "Choose an MP4 or MOV video recorded with a phone camera.",
    },
    "video_too_long": {
        "ja": "動画を短く切り取ってから、もう一度アップロードしてください。",
        "en": "Trim the video and upload it again.",
    },
    "video_too_short": {
        "ja": "数歩分または数回分が入る、少し長めの動画を撮影してください。",
        "en": "Film a little longer: several steps or repetitions.",
    },
    "clip_too_sparse": {
        "ja": "通常の動画モード（30 fps）で、数歩分または数回分を撮影してください。",
        "en": "Film in the normal video mode (30 fps), several steps or repetitions long.",
    },
    "storage_full": {
        "ja": "このままお待ちください。空き容量ができると解析は自動で再開します。",
        "en": "Keep this page open: the analysis resumes by itself once space is freed.",
    },
}
DEFAULT_HINT = {
    "ja": "もう一度アップロードしてください。繰り返し失敗する場合は管理者に連絡してください。",
    "en": "Upload the video again; if it keeps failing, contact your administrator.",
}


TEXT.update(MORE_TEXT)
TEXT.update(COMPARE_TEXT)


def texts(lang: Language) -> dict[str, str]:
    return {key: value[lang] for key, value in TEXT.items()}


def labels(lang: Language) -> dict[str, dict[str, str]]:
    return {group: {k: v[lang] for k, v in items.items()} for group, items in LABELS.items()}
