"""What a pipeline stage receives, and the artifact names that stages share.

Every stage is a plain function ``run(ctx: StageContext) -> None`` in its service's ``jobs``
module. It reads the artifacts of earlier stages from storage and writes its own; running it
twice gives the same artifacts, so a killed run can simply be re-run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from formcoach.kit.settings import Settings
from formcoach.kit.storage import Storage

# Artifact file names inside runs/<run_id>/.
UPLOAD = "upload.bin"
VIDEO_INFO = "video_info.json"
PROXY = "proxy.mp4"
POSE = "pose.npz"
POSE_META = "pose.json"
KEYPOINTS_CSV = "keypoints.csv"
FEATURES = "features.json"
ANGLES_CSV = "angles.csv"
# Exports of the features stage: OpenSim markers (px and m), angles as a motion file, and the
# cleaned keypoints with time, confidence, px and metres.
MARKERS_TRC_PX = "markers_px.trc"
MARKERS_TRC_M = "markers_m.trc"
ANGLES_MOT = "angles.mot"
KEYPOINTS_JSON = "keypoints.json"
KEYPOINTS_M_CSV = "keypoints_m.csv"
# The pose stage's contact sheet: one thumbnail per tracked person, captioned with its id.
TRACKS_JPG = "tracks.jpg"
ANNOTATED = "annotated.mp4"
ANALYSIS = "analysis.json"
ADVICE = "advice.json"
DRILL_VIDEOS = "drill_videos.json"

MOVEMENTS = (
    "running",
    "walking",
    "squat",
    "plank",
    "side_plank",
    "push_up",
    "glute_bridge",
    "lunge",
    "single_leg_squat",
    "auto",
)
VIEWS = ("side", "front", "rear")
# The services behind the gateway, in pipeline order: each is a web app, a Celery queue and
# a deployable process of the scaled-out shape.
SERVICES: tuple[str, ...] = (
    "video_processing",
    "pose_estimation",
    "feature_extraction",
    "analysis",
    "advice_generation",
    "video_generation",
)


@dataclass(frozen=True)
class RunOptions:
    movement: str = "auto"
    view: str = "side"
    height_cm: float | None = None
    language: str = "ja"
    # Track id of the person to analyse (see pose.json "tracks"); None = the most prominent.
    subject: int | None = None


def _no_progress(_fraction: float) -> None:
    return None


@dataclass
class StageContext:
    run_id: int
    options: RunOptions
    storage: Storage
    settings: Settings
    # Reports progress within the stage, 0.0 .. 1.0; cheap to call often.
    progress: Callable[[float], None] = field(default=_no_progress)

    def key(self, name: str) -> str:
        return run_key(self.run_id, name)

    def read_json(self, name: str) -> Any:
        return json.loads(self.storage.get_bytes(self.key(name)))

    def write_json(self, name: str, data: Any) -> None:
        payload = json.dumps(data, ensure_ascii=False, indent=1, allow_nan=False)
        self.storage.put_bytes(self.key(name), payload.encode("utf-8"))


def run_key(run_id: int, name: str) -> str:
    return f"runs/{run_id}/{name}"
