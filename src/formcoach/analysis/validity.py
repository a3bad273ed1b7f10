"""Which camera views each metric can be measured from (issue 18, item 2).

A metric's valid views are configuration: `views` of its entry in measurement.yaml (no entry,
or an empty list: any view). Sagittal angles (flexion, forward lean, overstride, shank angle,
vertical oscillation) need a side view: seen at an angle their 2D projection is neither the
angle nor a fixed fraction of it (Pose2Sim cam01, ~41° off side: trunk lean 33° for a true
8°). Frontal measures (pelvic drop, crossover, knee valgus) need a front or rear view.
Outside its views a metric is not_measurable, with a note saying why and how to film.
"""

from __future__ import annotations

from typing import Any

from formcoach.analysis.reference import measurement_for
from formcoach.analysis.schemas import LocalizedText
from formcoach.feature_extraction.schemas import FeaturesDocument

# The detected view's names (feature_extraction/view.py) -> the analysis's canonical ones:
# the profiles and gait checks say "rear" for a view from behind.
CANONICAL = {"back": "rear"}
VIEW_WORDS: dict[str, tuple[str, str]] = {
    "side": ("真横", "side"),
    "oblique": ("斜め", "oblique"),
    "front": ("正面", "front"),
    "rear": ("後方", "rear"),
    "back": ("後方", "rear"),
    "unknown": ("不明", "unknown"),
}
_FILM_SIDE = LocalizedText(
    ja="体の真横（進行方向に対して直角）から、腰の高さにカメラを置いて撮影してください。",
    en="Film from directly side-on (at right angles to the direction of movement), with the "
    "camera at hip height.",
)
_FILM_FRONTAL = LocalizedText(
    ja="体の正面か真後ろから、腰の高さにカメラを置いて撮影してください。",
    en="Film from directly in front or behind, with the camera at hip height.",
)
CAMERA_VERTICAL = LocalizedText(
    ja="傾きはカメラの垂直方向を基準にしています（カメラの傾きは分からないため、"
    "カメラを水平に構えてください）。",
    en="Lean is relative to the camera's vertical (its tilt is not known: hold the camera level).",
)


def vertical_note(features: FeaturesDocument) -> LocalizedText:
    """What lean is measured against: the device's gravity sensor when the page recorded it
    (features.json "vertical"), else the camera's own axes."""
    roll = features.vertical.camera_roll_deg
    if features.vertical.source != "device_sensor" or roll is None:
        return CAMERA_VERTICAL
    turn_ja = "時計回り" if roll >= 0 else "反時計回り"
    turn_en = "clockwise" if roll >= 0 else "counter-clockwise"
    return LocalizedText(
        ja=f"傾きは撮影した端末の重力センサーによる本当の垂直を基準にしています（カメラの"
        f"{turn_ja}に {abs(roll):.0f}° の傾きを補正しました）。",
        en=f"Lean is relative to true vertical from the recording device's gravity sensor (the "
        f"camera's {abs(roll):.0f}° {turn_en} tilt was corrected).",
    )


def film_tip(view: str) -> LocalizedText:
    """How to place the camera for a view (side, front or rear)."""
    return _FILM_SIDE if canonical(view) == "side" else _FILM_FRONTAL


def canonical(view: str) -> str:
    return CANONICAL.get(view, view)


def detected_view(features: FeaturesDocument) -> tuple[str | None, int | None]:
    """The view features.json read from the footage and its angle from a side view, if any."""
    doc = features.view
    view = doc.get("view")
    angle = doc.get("angle_from_side_deg")
    if not isinstance(view, str) or view == "unknown":
        return None, None
    return view, int(angle) if isinstance(angle, int | float) else None


def valid_views(key: str) -> list[str]:
    spec = measurement_for(key)
    return [] if spec is None else list(spec.views)


def _seen_from(view: str, angle: int | None) -> tuple[str, str]:
    ja, en = VIEW_WORDS.get(view, (view, view))
    if view == "oblique" and angle is not None:
        return f"{ja}（真横から約 {angle}°）", f"an {en} view (about {angle}° from side-on)"
    article = "an" if en[0] in "aeiou" else "a"
    return ja, f"{article} {en} view"


def view_note(key: str, view: str, angle: int | None = None) -> LocalizedText | None:
    """Why ``key`` cannot be measured from ``view``, with how to film it; None when it can."""
    views = valid_views(key)
    if not views or canonical(view) in views:
        return None
    seen_ja, seen_en = _seen_from(view, angle)
    if "side" in views:
        need_ja, need_en, film = "真横", "a side view", _FILM_SIDE
    else:
        need_ja, need_en, film = "正面か後方", "a front view or a rear view", _FILM_FRONTAL
    return LocalizedText(
        ja=f"この動画は{seen_ja}から撮影されているため測定できません（{need_ja}からの撮影が"
        f"必要です）。{film.ja}",
        en=f"Not measurable: the clip shows {seen_en}, and this needs {need_en}. {film.en}",
    )


def view_segments(features: FeaturesDocument) -> list[dict[str, Any]]:
    segments = features.view.get("segments")
    return [dict(s) for s in segments] if isinstance(segments, list) else []


def view_differs_message(detected: str, requested: str, angle: int | None) -> LocalizedText:
    """The report's note that the footage's view is not the one the user chose."""
    seen_ja, seen_en = _seen_from(detected, angle)
    asked_ja, asked_en = VIEW_WORDS.get(canonical(requested), (requested, requested))
    return LocalizedText(
        ja=f"撮影方向は「{asked_ja}」と指定されましたが、動画は{seen_ja}から撮影されています。"
        "動画から判定した方向で解析しました。",
        en=f"The camera view was given as {asked_en}, but the clip shows {seen_en}: it was "
        "analysed as filmed.",
    )


def frames_in_view(features: FeaturesDocument, times: Any, view: str) -> Any:
    """Per frame, whether its ~1 s window was read as ``view`` (all True without windows).

    A walker turning round is oblique for a second or two: the side-view angles of the clip
    come from its side-on windows only.
    """
    import numpy as np

    windows = features.view.get("windows")
    t = np.asarray(times, dtype=np.float64)
    if not isinstance(windows, list) or not windows:
        return np.ones(t.size, dtype=np.bool_)
    keep = np.zeros(t.size, dtype=np.bool_)
    for w in windows:
        if canonical(str(w.get("view"))) == view:
            keep |= (t >= float(w["start_s"])) & (t < float(w["end_s"]))
    return keep
