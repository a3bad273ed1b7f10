"""What a pipeline stage receives, and the artifact names that stages share.

Every stage is a plain function ``run(ctx: StageContext) -> None`` in its service's ``jobs``
module. It reads the artifacts of earlier stages from storage and writes its own; running it
twice gives the same artifacts, so a killed run can simply be re-run.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from pydantic import BaseModel

from formcoach.kit.i18n import Language
from formcoach.kit.settings import Settings
from formcoach.kit.storage import Storage

M = TypeVar("M", bound=BaseModel)

# Artifact file names inside the run's folder, runs/<run_key>/ (run_folder).
UPLOAD = "upload.bin"
VIDEO_INFO = "video_info.json"
PROXY = "proxy.mp4"
# The probe stage's clip-quality scan (video_processing/clip_scan.py): per-frame light, change
# and background motion at 160 px.
CLIP_SCAN = "clip_scan.npz"
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

# The outputs that follow the report (results before videos): their RunOut.pending_outputs
# name -> the stage that makes it. The stage table runs these stages after every other one and
# the runs resource reads this to tell a ready report from a finished run (runs cannot import
# the pipeline: the pipeline depends on runs).
FOLLOW_UP_OUTPUTS: dict[str, str] = {
    "annotated_video": "annotate",
    "drill_videos": "drill_videos",
}

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
# "auto": the view is read from the footage (feature_extraction/view.py); a choice is a claim
# the report checks against it.
VIEWS = ("auto", "side", "front", "rear")
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
    view: str = "auto"
    height_cm: float | None = None
    language: Language = "ja"
    # Track id of the person to analyse (see pose.json "tracks"); None = the most prominent.
    subject: int | None = None
    # The true vertical's direction in the image, degrees from the image's up axis, positive
    # clockwise as seen on screen (the recording device's gravity sensor); None = not known.
    camera_roll_deg: float | None = None


def _no_progress(_fraction: float) -> None:
    return None


class RunGone(Exception):
    """The run was deleted (or its id now names another run) while one of its stages ran."""


def new_run_key() -> str:
    """A run's storage and job identity: random, so a new run never shares an old one's files
    or messages, even if a database reset or restore hands out an old id again."""
    return secrets.token_hex(16)


def run_folder(key: str) -> str:
    """The one place run folders are named: ``runs/<run_key>``. Runs created before migration
    0006 have their id (as text) for a key, so their existing files stay where they are."""
    return f"runs/{key}"


def run_file(key: str, name: str) -> str:
    return f"{run_folder(key)}/{name}"


class GuardedStorage:
    """A stage's view of storage: every write first checks that its run still exists with the
    same key (``alive``) and raises RunGone otherwise, so a job of a deleted run writes nothing,
    and nothing of one run can land in another's files."""

    def __init__(self, inner: Storage, alive: Callable[[], bool], run_id: int) -> None:
        self._inner = inner
        self._alive = alive
        self._run_id = run_id

    def check(self) -> None:
        if not self._alive():
            raise RunGone(self._run_id)

    @contextmanager
    def _guarded_writer(self, key: str, suffix: str) -> Iterator[Path]:
        self.check()
        with self._inner.writer(key, suffix) as tmp:
            yield tmp
            # Checked again before the file takes its name: the stage may have run for minutes.
            self.check()

    def writer(self, key: str, suffix: str = "") -> AbstractContextManager[Path]:
        return self._guarded_writer(key, suffix)

    def put_file(self, key: str, src: Path) -> None:
        self.check()
        self._inner.put_file(key, src)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.check()
        self._inner.put_bytes(key, data)

    def delete(self, key: str) -> None:
        self.check()
        self._inner.delete(key)

    def delete_prefix(self, prefix: str) -> None:
        self.check()
        self._inner.delete_prefix(prefix)

    def get_bytes(self, key: str) -> bytes:
        return self._inner.get_bytes(key)

    def exists(self, key: str) -> bool:
        return self._inner.exists(key)

    def size(self, key: str) -> int:
        return self._inner.size(key)

    def open(self, key: str) -> BinaryIO:
        return self._inner.open(key)

    def local_path(self, key: str) -> Path:
        return self._inner.local_path(key)

    def list(self, prefix: str) -> list[str]:
        return self._inner.list(prefix)


@dataclass
class StageContext:
    run_id: int
    options: RunOptions
    storage: Storage
    settings: Settings
    # Reports progress within the stage, 0.0 .. 1.0; cheap to call often.
    progress: Callable[[float], None] = field(default=_no_progress)
    # The run's key (its folder); empty = the id, as for runs made before migration 0006.
    run_key: str = ""
    # Whether the run still exists with this id and key; given, storage writes are guarded.
    alive: Callable[[], bool] | None = None

    def __post_init__(self) -> None:
        if not self.run_key:
            self.run_key = str(self.run_id)
        if self.alive is not None and not isinstance(self.storage, GuardedStorage):
            self.storage = GuardedStorage(self.storage, self.alive, self.run_id)

    def key(self, name: str) -> str:
        return run_file(self.run_key, name)

    def read_json(self, name: str) -> Any:
        return json.loads(self.storage.get_bytes(self.key(name)))

    def write_json(self, name: str, data: Any) -> None:
        payload = json.dumps(data, ensure_ascii=False, indent=1, allow_nan=False)
        self.storage.put_bytes(self.key(name), payload.encode("utf-8"))

    def read_model(self, name: str, model: type[M]) -> M:
        """A typed artifact: the stage that reads it fails loudly on a malformed file instead
        of deep inside its own logic."""
        return model.model_validate_json(self.storage.get_bytes(self.key(name)))

    def write_model(self, name: str, document: BaseModel) -> None:
        self.write_json(name, document.model_dump(mode="json", by_alias=True))
