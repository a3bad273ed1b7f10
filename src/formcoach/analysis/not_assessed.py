"""The `not_assessed` finding: what could not be checked, why, and how to film instead.

When none of a movement's judged metrics could be measured, a report with no findings would
read as an all-clear (issue 18: "nothing needs fixing" and scores of 100 for a 1.6 s jog).
Instead the report carries this info finding naming each cause it can tell (thresholds in
assessment.yaml); the scores stay null because no metric earned points. Camera motion, cuts,
darkness and slow motion are not detected here yet; when no cause is found the finding says
the movement was not seen clearly enough.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from formcoach.analysis.judge import Clip
from formcoach.analysis.schemas import Finding, LocalizedText, Metric
from formcoach.analysis.validity import view_note
from formcoach.feature_extraction.schemas import FeaturesDocument

ASSESSMENT_FILE = Path(__file__).with_name("assessment.yaml")


class AssessmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    min_clip_s: float = Field(ge=0)
    min_parts_seen: float = Field(ge=0, le=1)
    min_subject_share: float = Field(ge=0, le=1)
    source: str = Field(min_length=3)


@cache
def assessment_config(path: Path = ASSESSMENT_FILE) -> AssessmentConfig:
    with path.open(encoding="utf-8") as handle:
        return AssessmentConfig.model_validate(yaml.safe_load(handle))


# reason code -> (why, filming tip), each in ja and en.
REASONS: dict[str, tuple[LocalizedText, LocalizedText]] = {
    "view_unsuitable": (
        LocalizedText(
            ja="撮影方向がこの種目のチェックに合っていません。",
            en="The camera view does not suit this movement's checks.",
        ),
        LocalizedText(
            ja="真横（進行方向に対して直角）から、腰の高さで撮影してください。",
            en="Film side-on, at right angles to the movement, with the camera at hip height.",
        ),
    ),
    "clip_too_short": (
        LocalizedText(ja="動画が短すぎます。", en="The clip is too short."),
        LocalizedText(
            ja="少なくとも 5〜10 秒、動作を続けて撮影してください。",
            en="Film at least 5-10 seconds of the movement.",
        ),
    ),
    "body_parts_out_of_frame": (
        LocalizedText(
            ja="必要な体の部位（体幹や脚）が画面に映っていない時間が長すぎます。",
            en="The body parts the checks need (trunk, legs) were out of frame or hidden too "
            "often.",
        ),
        LocalizedText(
            ja="頭から足先まで全身が常に画面に入るように、3〜5 m 離れて撮影してください。",
            en="Step back 3-5 m so the whole body, head to feet, stays in the frame.",
        ),
    ),
    "subject_too_small": (
        LocalizedText(
            ja="画面に対して人物が小さすぎます。",
            en="The person is too small in the picture.",
        ),
        LocalizedText(
            ja="人物が画面の高さの半分以上を占めるように近づくか、ズームしてください。",
            en="Move closer (or zoom) so the person fills at least half the frame's height.",
        ),
    ),
    "movement_not_seen": (
        LocalizedText(
            ja="動作を十分にはっきりと捉えられませんでした。",
            en="The movement was not seen clearly enough to measure.",
        ),
        LocalizedText(
            ja="カメラを固定し、明るい場所で、動作を数回くり返して撮影してください。",
            en="Fix the camera, film in good light, and repeat the movement several times.",
        ),
    ),
}


def _subject_share(features: FeaturesDocument, frame_height: float) -> float | None:
    scale = features.scale or {}
    m_per_px, height_cm = scale.get("m_per_px"), scale.get("height_cm")
    if not m_per_px or not height_cm or frame_height <= 0:
        return None
    return float(height_cm) / 100.0 / float(m_per_px) / frame_height


def reasons(
    clip: Clip,
    judged: Mapping[str, Metric],
    needed_rate: float | None,
    frame_height: float,
    config: AssessmentConfig | None = None,
) -> list[str]:
    """The causes this clip shows for its checks not being measurable, most likely first."""
    config = config or assessment_config()
    found: list[str] = []
    if any(view_note(key, clip.view, clip.view_angle) is not None for key in judged):
        found.append("view_unsuitable")
    span = clip.span()
    if span is not None and span.end_s - span.start_s < config.min_clip_s:
        found.append("clip_too_short")
    if needed_rate is not None and needed_rate < config.min_parts_seen:
        found.append("body_parts_out_of_frame")
    share = _subject_share(clip.features, frame_height)
    if share is not None and share < config.min_subject_share:
        found.append("subject_too_small")
    return found or ["movement_not_seen"]


def not_assessed(
    clip: Clip,
    metrics: Mapping[str, Metric],
    judged_keys: list[str],
    needed_rate: float | None,
    frame_height: float,
) -> Finding | None:
    """The finding when no judged metric of the movement was measured, else None."""
    judged = {k: metrics[k] for k in judged_keys if k in metrics}
    if not judged or any(m.status != "not_measurable" for m in judged.values()):
        return None
    codes = reasons(clip, judged, needed_rate, frame_height)
    ja = "この動画ではフォームを評価できませんでした（問題がないという意味ではありません）。"
    en = "This clip's form could not be assessed (this does not mean nothing needs fixing)."
    for code in codes:
        why, tip = REASONS[code]
        ja += f" {why.ja}{tip.ja}"
        en += f" {why.en} {tip.en}"
    return Finding(
        code="not_assessed",
        severity="info",
        message=LocalizedText(ja=ja, en=en),
        reasons=codes,
    )
