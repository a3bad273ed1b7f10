"""The `pose` stage: proxy.mp4 -> pose.npz, pose.json, keypoints.csv."""

from __future__ import annotations

from formcoach.kit.pipeline import KEYPOINTS_CSV, POSE, POSE_META, PROXY, StageContext
from formcoach.pose_estimation.service import estimate


def run(ctx: StageContext) -> None:
    """Idempotent: every output is rewritten atomically from the proxy."""
    video = ctx.storage.local_path(ctx.key(PROXY))
    # Pose inference is nearly all of the stage's time; the writes share the last 5 %.
    # A proxy copied from a 1080p upload is larger than a re-encoded one: the model sees it at
    # pose_max_side, as it saw every re-encoded proxy.
    result = estimate(
        video,
        ctx.settings,
        lambda f: ctx.progress(0.95 * f),
        subject=ctx.options.subject,
        max_side=ctx.settings.pose_max_side,
        movement=ctx.options.movement,
    )
    with ctx.storage.writer(ctx.key(POSE), suffix=".npz") as tmp:
        result.save(tmp)
    with ctx.storage.writer(ctx.key(KEYPOINTS_CSV), suffix=".csv") as tmp:
        result.write_csv(tmp)
    ctx.write_json(POSE_META, result.meta)
    ctx.progress(1.0)
