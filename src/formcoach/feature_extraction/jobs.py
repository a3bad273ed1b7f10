"""The `features` stage: pose.npz + pose.json -> features.json, angles.csv."""

from __future__ import annotations

from formcoach.feature_extraction.service import compute_features
from formcoach.kit.pipeline import ANGLES_CSV, FEATURES, POSE, POSE_META, StageContext

# The schema class, not the service module: reading pose.npz needs no MediaPipe import.
from formcoach.pose_estimation.schemas import PoseResult


def run(ctx: StageContext) -> None:
    """Idempotent: features are a pure function of the pose artifacts and the settings."""
    pose = PoseResult.load(ctx.storage.local_path(ctx.key(POSE)))
    meta = ctx.read_json(POSE_META)
    # pose.json is the documented home of the frame rate; the npz copy is a fallback.
    fps = float(meta.get("fps") or pose.fps)
    ctx.progress(0.1)
    features = compute_features(pose, ctx.settings, fps=fps)
    ctx.progress(0.8)
    ctx.write_json(FEATURES, features.to_json())
    with ctx.storage.writer(ctx.key(ANGLES_CSV), suffix=".csv") as tmp:
        features.write_angles_csv(tmp)
    ctx.progress(1.0)
