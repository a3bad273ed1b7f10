"""The analysis stage: features.json + pose.json + video_info.json -> analysis.json."""

from __future__ import annotations

from formcoach.analysis.service import assess, get_reference
from formcoach.feature_extraction.schemas import FeaturesDocument
from formcoach.kit.pipeline import ANALYSIS, FEATURES, POSE_META, VIDEO_INFO, StageContext


def run(ctx: StageContext) -> None:
    features = ctx.read_model(FEATURES, FeaturesDocument)
    pose_meta = ctx.read_json(POSE_META)
    video_info = ctx.read_json(VIDEO_INFO)
    reference = get_reference(ctx.settings.reference_file)
    result = assess(
        features,
        pose_meta,
        video_info,
        ctx.options.movement,
        ctx.options.view,
        reference=reference,
    )
    ctx.write_model(ANALYSIS, result)
    ctx.progress(1.0)
