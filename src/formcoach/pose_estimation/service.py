"""Every person in every frame -> tracks -> the subject's keypoints (PoseResult)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from formcoach.kit.errors import AppError
from formcoach.kit.settings import Settings
from formcoach.kit.video_io import RGB
from formcoach.pose_estimation.detect import CROP_HEIGHT, FrameDetections, detect_video
from formcoach.pose_estimation.schemas import (
    N_LANDMARKS,
    PoseResult,
    SubjectChoice,
    TrackInfo,
    fps_from_times,
)
from formcoach.pose_estimation.sides import fix_left_right_swaps
from formcoach.pose_estimation.stills import estimate_stills
from formcoach.pose_estimation.subject import (
    ScoreConfig,
    ScoreParts,
    choose_subject,
    performer_score,
    score_parts,
)
from formcoach.pose_estimation.tracking import Track, track_people

_CAPTION = 28  # px below each thumbnail for its id

__all__ = [
    "PoseResult",
    "check_detection",
    "contact_sheet",
    "estimate",
    "estimate_stills",
    "load_pose",
    "select_subject",
]


# The subject of a gait is the person who travels (choose_subject).
GAIT_MOVEMENTS = ("running", "walking")


def _best(track: Track, sampled: set[int]) -> int:
    """Index in the track of its thumbnail: seen largest and most clearly, among sampled frames."""
    candidates = [i for i, f in enumerate(track.frames) if f in sampled] or list(
        range(len(track.frames))
    )
    return max(candidates, key=lambda i: track.sizes[i] * track.people[i].quality)


def _track_info(track: Track, best: int, score: float, parts: ScoreParts) -> TrackInfo:
    return TrackInfo(
        id=track.id,
        start_s=round(track.times[0], 4),
        end_s=round(track.times[-1], 4),
        frames=len(track.frames),
        prominence=round(score, 4),
        best_frame=track.frames[best],
        box=[round(v, 1) for v in track.people[best].box],
        travel=round(parts.travel, 2),
        parts=parts.rounded(),
    )


def subject_choice(
    tracks: list[Track],
    chosen: Track,
    scores: dict[int, float],
    requested: int | None,
    gait: bool,
    margin: float,
) -> SubjectChoice:
    """The chosen track against the others, on the score that chose it."""
    travelled = gait and chosen.travel() > 0 and requested is None
    basis = "requested" if requested is not None else "travel" if travelled else "performer"

    def score(t: Track) -> float:
        return t.travel() if basis == "travel" else scores[t.id]

    best = score(chosen)
    others = sorted((t for t in tracks if t is not chosen), key=score, reverse=True)
    close = requested is None and bool(others) and score(others[0]) >= (1 - margin) * best
    digits = 2 if basis == "travel" else 4
    return SubjectChoice(
        chosen=chosen.id,
        basis=basis,
        score=round(best, digits),
        alternatives=[{"id": t.id, "score": round(score(t), digits)} for t in others],
        close=close,
    )


def select_subject(
    detections: list[FrameDetections],
    width: int,
    height: int,
    settings: Settings,
    subject: int | None = None,
    movement: str = "auto",
) -> PoseResult:
    """Tracks from the detections, then the subject's keypoints (NaN where they are not seen).

    Frames without the subject stay empty even when someone else is visible: filling them
    with another person's keypoints would mix two bodies in one set of angles.
    """
    tracks = track_people(detections, settings)
    n = len(detections)
    sampled = {d.index for d in detections if d.crops is not None}
    best = {t.id: _best(t, sampled) for t in tracks}
    gait = movement in GAIT_MOVEMENTS
    config = ScoreConfig.from_settings(settings)
    parts = {t.id: score_parts(t, n, width, height, config) for t in tracks}
    scores = {t.id: performer_score(parts[t.id], config) for t in tracks}
    chosen = choose_subject(
        tracks, scores, subject, settings.subject_gait_min_travel if gait else None
    )
    if subject is not None and chosen is None:
        raise AppError("subject_not_found", subject=subject, tracks=[t.id for t in tracks])
    keypoints = np.full((n, N_LANDMARKS, 4), np.nan, dtype=np.float32)
    detected = np.zeros(n, dtype=np.bool_)
    if chosen is not None:
        rows = np.asarray(chosen.frames, dtype=np.int64)
        keypoints[rows] = np.stack([p.keypoints for p in chosen.people])
        detected[rows] = True
    keypoints, swaps = fix_left_right_swaps(
        keypoints, detected, settings.swap_prior, settings.swap_max_frontalness
    )
    times = np.array([d.time_s for d in detections], dtype=np.float64)
    return PoseResult(
        times=times,
        keypoints=keypoints,
        detected=detected,
        width=width,
        height=height,
        fps=fps_from_times(times),
        subject=None if chosen is None else chosen.id,
        subject_requested=subject,
        tracks=[_track_info(t, best[t.id], scores[t.id], parts[t.id]) for t in tracks],
        left_right_swaps_fixed=swaps,
        thumbnails=contact_sheet(detections, tracks, best, chosen),
        subject_choice=None
        if chosen is None
        else subject_choice(tracks, chosen, scores, subject, gait, settings.subject_close_margin),
    )


def contact_sheet(
    detections: list[FrameDetections],
    tracks: list[Track],
    best: dict[int, int],
    subject: Track | None,
) -> RGB | None:
    """One picture per track side by side, each captioned "ID n" (the subject's underlined):
    what a user looks at to pick ``subject``."""
    tiles: list[RGB] = []
    for track in tracks:
        frame = detections[track.frames[best[track.id]]]
        if frame.crops is None:
            continue
        person = track.people[best[track.id]]
        crop = frame.crops[next(i for i, p in enumerate(frame.people) if p is person)]
        tile = np.full((CROP_HEIGHT + _CAPTION, max(crop.shape[1], 72), 3), 24, dtype=np.uint8)
        tile[:CROP_HEIGHT, : crop.shape[1]] = crop
        colour = (255, 221, 87) if track is subject else (235, 235, 235)
        cv2.putText(
            tile, f"ID {track.id}", (4, CROP_HEIGHT + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2
        )
        if track is subject:
            cv2.line(tile, (4, CROP_HEIGHT + 25), (60, CROP_HEIGHT + 25), colour, 2)
        tiles.append(tile)
        tiles.append(np.zeros((CROP_HEIGHT + _CAPTION, 4, 3), dtype=np.uint8))
    return np.ascontiguousarray(np.hstack(tiles[:-1])) if tiles else None


def estimate(
    video: Path,
    settings: Settings,
    progress: Callable[[float], None] = lambda _f: None,
    subject: int | None = None,
    max_side: int | None = None,
    movement: str = "auto",
) -> PoseResult:
    """Keypoints of the subject in every frame, frames streamed one at a time; frames larger
    than ``max_side`` are shrunk for the model (keypoints stay in the video's pixels).

    Raises AppError("no_person_detected") when the subject is found in fewer than
    ``settings.min_detection_rate`` of the frames, AppError("subject_not_found") when
    ``subject`` names no track.
    """
    detections, width, height = detect_video(video, settings, progress, max_side)
    result = select_subject(detections, width, height, settings, subject, movement)
    progress(1.0)
    check_detection(result, settings)
    return result


def check_detection(result: PoseResult, settings: Settings) -> None:
    if result.detection_rate < settings.min_detection_rate:
        raise AppError("no_person_detected", rate=result.detection_rate)


def load_pose(path: Path) -> PoseResult:
    """Read a pose.npz written by this service."""
    return PoseResult.load(path)
