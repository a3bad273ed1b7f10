"""The `features` stage: pose.npz + pose.json -> features.json, angles.csv and the exports."""

from __future__ import annotations

import numpy as np
from PIL import Image

from formcoach.feature_extraction.angles import JOINT_SERIES, SEGMENT_SERIES
from formcoach.feature_extraction.exports import (
    keypoint_frames,
    write_keypoints_csv,
    write_keypoints_json,
    write_mot,
    write_trc,
)
from formcoach.feature_extraction.service import compute_all
from formcoach.kit.pipeline import (
    ANGLES_CSV,
    ANGLES_MOT,
    FEATURES,
    KEYPOINTS_JSON,
    KEYPOINTS_M_CSV,
    MARKERS_TRC_M,
    MARKERS_TRC_PX,
    POSE,
    POSE_META,
    TRACKS_JPG,
    StageContext,
)

# The schema class, not the service module: reading pose.npz needs no MediaPipe import.
from formcoach.pose_estimation.schemas import VISIBILITY, PoseResult


def run(ctx: StageContext) -> None:
    """Idempotent: features are a pure function of the pose artifacts and the settings."""
    pose = PoseResult.load(ctx.storage.local_path(ctx.key(POSE)))
    meta = ctx.read_json(POSE_META)
    # pose.json is the documented home of the frame rate; the npz copy is a fallback.
    fps = float(meta.get("fps") or pose.fps)
    ctx.progress(0.1)
    features, cleaned = compute_all(
        pose, ctx.settings, fps, ctx.options.height_cm, ctx.options.camera_roll_deg
    )
    ctx.progress(0.6)
    ctx.write_model(FEATURES, features.document())
    with ctx.storage.writer(ctx.key(ANGLES_CSV), suffix=".csv") as tmp:
        features.write_angles_csv(tmp)
    metres = cleaned.scale.to_metres(cleaned.xy)
    with ctx.storage.writer(ctx.key(MARKERS_TRC_PX), suffix=".trc") as tmp:
        write_trc(tmp, pose.times, cleaned.image_xy, "px", fps, 2)
    with ctx.storage.writer(ctx.key(MARKERS_TRC_M), suffix=".trc") as tmp:
        write_trc(tmp, pose.times, metres, "m", fps, 5)
    angles = {name: features.series[name] for name in (*JOINT_SERIES, *SEGMENT_SERIES)}
    with ctx.storage.writer(ctx.key(ANGLES_MOT), suffix=".mot") as tmp:
        write_mot(tmp, pose.times, angles)
    ctx.progress(0.8)
    confidence = np.asarray(pose.keypoints[:, :, VISIBILITY], dtype=np.float64)
    frames = keypoint_frames(
        pose.times, pose.detected.tolist(), cleaned.image_xy, metres, confidence
    )
    doc_meta = {
        "fps": round(fps, 3),
        "width": pose.width,
        "height": pose.height,
        "subject": meta.get("subject"),
        "scale": cleaned.scale.document(),
        "coordinates": {
            "px": "x right, y down, origin at the top-left of the frame",
            "m": "x right, y up from the floor line (true up when the camera's roll is known)",
        },
    }
    with ctx.storage.writer(ctx.key(KEYPOINTS_JSON), suffix=".json") as tmp:
        write_keypoints_json(tmp, doc_meta, frames)
    with ctx.storage.writer(ctx.key(KEYPOINTS_M_CSV), suffix=".csv") as tmp:
        write_keypoints_csv(tmp, frames)
    if pose.thumbnails is not None:
        # The pose stage's contact sheet, one picture per tracked person (to choose `subject`).
        with ctx.storage.writer(ctx.key(TRACKS_JPG), suffix=".jpg") as tmp:
            Image.fromarray(pose.thumbnails).save(tmp, format="JPEG", quality=88)
    ctx.progress(1.0)
