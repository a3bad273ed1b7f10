"""Pose estimation outputs: the per-frame keypoints (pose.npz) and their summary (pose.json)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

MODEL_NAME = "mediapipe-pose-full"
LANDMARK_SET = "mediapipe-33"

# MediaPipe's PoseLandmark order, lower-cased. Kept literal so that readers of pose.npz need
# not import MediaPipe; a test checks it against the installed enum.
LANDMARK_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
LANDMARK_INDEX: dict[str, int] = {name: i for i, name in enumerate(LANDMARK_NAMES)}
N_LANDMARKS = len(LANDMARK_NAMES)
# Channels of the last keypoints axis.
X, Y, Z, VISIBILITY = 0, 1, 2, 3
CSV_FIELDS: tuple[str, ...] = ("x_px", "y_px", "z", "visibility")


class TrackInfo(BaseModel):
    """One person seen in the clip; ``box`` is x0, y0, x1, y1 px in the frame ``best_frame``.

    ``prominence`` is the performer score (pose_estimation/subject.py, 0..1), the product of
    ``parts`` raised to their weights: size, seen, whole_body, centrality, motion (each 0..1)
    and travel (body sizes), so a list of the people can show why one was chosen. pose.json
    files written before the performer score hold body px x share seen there, and no parts."""

    id: int
    start_s: float
    end_s: float
    frames: int
    prominence: float
    best_frame: int
    box: list[float]
    # How far the person's centre went (p5–p95 extent, body sizes); 0 in older pose.json.
    travel: float = 0.0
    parts: dict[str, float] = {}


class SubjectChoice(BaseModel):
    """Why the subject is who it is: ``basis`` "requested", "travel" (gait: the furthest
    traveller) or "performer" (the performer score; "prominence" in older pose.json); ``close`` when the runner-up scored within
    ``subject_close_margin`` of the chosen one, so the user should confirm the pick."""

    chosen: int
    basis: str
    score: float
    alternatives: list[dict[str, int | float]] = []
    close: bool = False


class PoseMeta(BaseModel):
    """pose.json."""

    model: str = MODEL_NAME
    landmarks: str = LANDMARK_SET
    frames: int
    frames_with_subject: int
    detection_rate: float
    width: int
    height: int
    fps: float
    # Added in the multi-person version; absent from older pose.json files.
    subject: int | None = None
    subject_requested: int | None = None
    tracks: list[TrackInfo] = []
    left_right_swaps_fixed: int = 0
    subject_choice: SubjectChoice | None = None


@dataclass
class PoseResult:
    """Keypoints of one person in every frame of a video.

    ``keypoints`` is (N, 33, 4) float32: x px, y px (video pixels, origin top-left, y down),
    MediaPipe's relative depth z, visibility 0..1; all NaN where no person was found.
    """

    times: NDArray[np.float64]
    keypoints: NDArray[np.float32]
    detected: NDArray[np.bool_]
    width: int
    height: int
    fps: float
    subject: int | None = None
    subject_requested: int | None = None
    tracks: list[TrackInfo] = field(default_factory=list)
    left_right_swaps_fixed: int = 0
    # Contact sheet of the tracks (RGB), kept in pose.npz; the features stage writes tracks.jpg.
    thumbnails: NDArray[np.uint8] | None = None
    subject_choice: SubjectChoice | None = None

    def __post_init__(self) -> None:
        n = self.times.shape[0]
        if self.times.shape != (n,) or self.detected.shape != (n,):
            raise ValueError("times and detected must be (N,)")
        if self.keypoints.shape != (n, N_LANDMARKS, 4):
            raise ValueError(
                f"keypoints must be ({n}, {N_LANDMARKS}, 4), got {self.keypoints.shape}"
            )

    @property
    def frames(self) -> int:
        return int(self.times.shape[0])

    @property
    def frames_with_subject(self) -> int:
        return int(np.count_nonzero(self.detected))

    @property
    def detection_rate(self) -> float:
        return self.frames_with_subject / self.frames if self.frames else 0.0

    @property
    def meta(self) -> dict[str, Any]:
        return PoseMeta(
            frames=self.frames,
            frames_with_subject=self.frames_with_subject,
            detection_rate=round(self.detection_rate, 4),
            width=self.width,
            height=self.height,
            fps=round(self.fps, 3),
            subject=self.subject,
            subject_requested=self.subject_requested,
            tracks=self.tracks,
            left_right_swaps_fixed=self.left_right_swaps_fixed,
            subject_choice=self.subject_choice,
        ).model_dump()

    def landmark(self, name: str) -> NDArray[np.float32]:
        """(N, 4) track of one landmark by its lower-case MediaPipe name."""
        return self.keypoints[:, LANDMARK_INDEX[name], :]

    def save(self, path: Path) -> None:
        """Write pose.npz; ``path`` should end in .npz or NumPy appends it."""
        extra = {} if self.thumbnails is None else {"thumbnails": self.thumbnails}
        np.savez_compressed(
            path,
            **extra,
            times=self.times.astype(np.float64),
            keypoints=self.keypoints.astype(np.float32),
            detected=self.detected.astype(np.bool_),
            # Not part of the documented trio, but lets load() rebuild the meta without pose.json.
            width=np.int64(self.width),
            height=np.int64(self.height),
            fps=np.float64(self.fps),
            subject=np.int64(-1 if self.subject is None else self.subject),
            # The tracking summary rides along as JSON text (no pickling needed to read it).
            tracking=np.array(
                json.dumps(
                    {
                        "subject_requested": self.subject_requested,
                        "tracks": [t.model_dump() for t in self.tracks],
                        "left_right_swaps_fixed": self.left_right_swaps_fixed,
                        "subject_choice": None
                        if self.subject_choice is None
                        else self.subject_choice.model_dump(),
                    }
                )
            ),
        )

    @classmethod
    def load(cls, path: Path) -> PoseResult:
        with np.load(path, allow_pickle=False) as data:
            times = np.asarray(data["times"], dtype=np.float64)
            keypoints = np.asarray(data["keypoints"], dtype=np.float32)
            detected = np.asarray(data["detected"], dtype=np.bool_)
            width = int(data["width"]) if "width" in data.files else 0
            height = int(data["height"]) if "height" in data.files else 0
            fps = float(data["fps"]) if "fps" in data.files else fps_from_times(times)
            subject = int(data["subject"]) if "subject" in data.files else -1
            tracking = json.loads(str(data["tracking"])) if "tracking" in data.files else {}
            sheet = (
                np.asarray(data["thumbnails"], dtype=np.uint8)
                if "thumbnails" in data.files
                else None
            )
        return cls(
            times,
            keypoints,
            detected,
            width,
            height,
            fps,
            None if subject < 0 else subject,
            tracking.get("subject_requested"),
            [TrackInfo.model_validate(t) for t in tracking.get("tracks", [])],
            int(tracking.get("left_right_swaps_fixed", 0)),
            sheet,
            None
            if tracking.get("subject_choice") is None
            else SubjectChoice.model_validate(tracking["subject_choice"]),
        )

    def write_csv(self, path: Path) -> None:
        """keypoints.csv: frame, time_s, detected, then x_px, y_px, z, visibility per landmark."""
        header = ["frame", "time_s", "detected"]
        header += [f"{name}_{field}" for name in LANDMARK_NAMES for field in CSV_FIELDS]
        # One %-format per row, not one f-string per cell: ten minutes of video is 2.4 million
        # cells (~3 s formatted cell by cell). Numbers need no quoting; "nan" becomes an empty
        # cell, which reads as missing in spreadsheets and pandas alike.
        cells = ",".join(f"%.{d}f" for _ in LANDMARK_NAMES for d in (2, 2, 4, 4))
        with path.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerow(header)
            for i, values in enumerate(self.keypoints.reshape(self.frames, -1).tolist()):
                row = cells % tuple(values)
                fh.write(f"{i},{self.times[i]:.6f},{int(self.detected[i])},")
                fh.write(row.replace("nan", "") + "\r\n")


def fps_from_times(times: NDArray[np.float64]) -> float:
    """Mean frame rate from real timestamps (robust to variable frame rate)."""
    if times.shape[0] < 2 or times[-1] <= times[0]:
        return 0.0
    return float((times.shape[0] - 1) / (times[-1] - times[0]))
