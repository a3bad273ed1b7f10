"""Who the clip is about: each track's subject score, from parts that can be shown (issue 19).

The subject is the person performing, not merely the largest or the longest visible. On the
two-people fixture the man on the roof is seen longer (90 % of the frames against 74 %) and the
woman is hardly larger, so size x time seen (the old "prominence") picked him, although for
half the clip he goes nowhere and she walks across the whole frame. The performer score is a product of
parts, each 0..1 and each measured from the track's own keypoints, raised to its weight
(Settings.subject_weight_*):

- ``size``: body size (shoulder-hip-knee-ankle, tracking.body_size) / frame height, full at
  ``subject_size_full``: someone far in the background is rarely the subject.
- ``seen``: share of the clip's frames the person is found in.
- ``whole_body``: share of the body-outline landmarks seen (visibility) and inside the frame:
  a person cut by the frame edge or mostly hidden is not the one being filmed.
- ``centrality``: 1 at the frame centre, 0 at its edge (median over the track): people film
  the one they analyse in the middle.
- ``motion``: how much of the time the whole body moves: the median speed of the body-outline
  landmarks over ``subject_motion_lag_s`` (body sizes per second; the median, so one waving
  arm is not a moving body, and the lag, so estimation jitter is not motion), as a share of
  ``subject_motion_full_speed``, averaged over the track. Walking is about one body size a
  second. Its factor in the score is ``floor + (1 - floor) x motion``: a person standing still
  keeps ``subject_motion_floor`` of their score, since a clip may be of someone holding a pose.
- ``travel``: how far the body goes across the frame, in body sizes (p5-p95 extent of its
  centre's x, tracking.Track.travel), full at ``subject_travel_full`` (crossing a landscape
  frame on foot is 4-5). Motion alone cannot tell a walker from someone moving on the spot (the
  man on the roof moves on the spot before his jump, his centre rising and falling by a third
  of his size: motion 0.63 against the walker's 0.88), going
  somewhere can. Its factor is ``floor + (1 - floor) x min(1, travel / full)``: a performer in
  place (a squat, a balance) keeps ``subject_travel_floor``.

A walk or run is a stricter question (choose_subject): the subject is the person who travels,
``travel`` body sizes across the frame (tracking.Track.travel). When nobody is found to move
at all (a tripod clip of two people holding poses), size, time seen, visibility and centrality
decide, as before.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from formcoach.kit.settings import Settings
from formcoach.pose_estimation.detect import CORE
from formcoach.pose_estimation.schemas import VISIBILITY
from formcoach.pose_estimation.tracking import Track

_CORE = list(CORE)


@dataclass(frozen=True)
class ScoreConfig:
    """The parts' thresholds and weights (from Settings, where they are documented)."""

    size_full: float
    visibility_min: float
    motion_lag_s: float
    motion_full_speed: float
    motion_floor: float
    weight_size: float
    weight_seen: float
    weight_whole_body: float
    weight_centrality: float
    weight_motion: float
    travel_full: float
    travel_floor: float
    weight_travel: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ScoreConfig:
        return cls(
            size_full=settings.subject_size_full,
            visibility_min=settings.subject_visibility_min,
            motion_lag_s=settings.subject_motion_lag_s,
            motion_full_speed=settings.subject_motion_full_speed,
            motion_floor=settings.subject_motion_floor,
            weight_size=settings.subject_weight_size,
            weight_seen=settings.subject_weight_seen,
            weight_whole_body=settings.subject_weight_whole_body,
            weight_centrality=settings.subject_weight_centrality,
            weight_motion=settings.subject_weight_motion,
            travel_full=settings.subject_travel_full,
            travel_floor=settings.subject_travel_floor,
            weight_travel=settings.subject_weight_travel,
        )


@dataclass(frozen=True)
class ScoreParts:
    """One track's parts, each 0..1 (module docstring), and ``travel`` in body sizes."""

    size: float
    seen: float
    whole_body: float
    centrality: float
    motion: float
    travel: float

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in asdict(self).items()}


def _clip01(value: float) -> float:
    return float(min(1.0, max(0.0, value))) if np.isfinite(value) else 0.0


def body_speeds(track: Track, lag_s: float) -> list[float]:
    """Per detection with another ``lag_s`` later (at most twice that, across a short loss),
    the median speed of the body-outline landmarks between the two, in body sizes per second."""
    times = np.asarray(track.times, dtype=np.float64)
    if times.size < 2:
        return []
    kp = np.stack([p.keypoints[_CORE, :2] for p in track.people]).astype(np.float64)
    size = float(np.median(track.sizes)) or 1.0
    later = np.searchsorted(times, times + lag_s - 1e-6)
    speeds: list[float] = []
    for i, j in enumerate(later.tolist()):
        if j >= times.size or times[j] - times[i] > 2 * lag_s:
            continue
        step = np.linalg.norm(kp[j] - kp[i], axis=1)
        if np.isfinite(step).any():
            speeds.append(float(np.nanmedian(step)) / size / float(times[j] - times[i]))
    return speeds


def score_parts(
    track: Track, n_frames: int, width: int, height: int, cfg: ScoreConfig
) -> ScoreParts:
    """The parts of the performer score of one track in a ``width`` x ``height`` clip."""
    kp = np.stack([p.keypoints[_CORE] for p in track.people]).astype(np.float64)
    size = float(np.median(track.sizes))
    frame_h = float(height) if height > 0 else float(np.nanmax(kp[:, :, 1]) or 1.0)
    frame_w = float(width) if width > 0 else float(np.nanmax(kp[:, :, 0]) or 1.0)
    inside = (
        (kp[:, :, 0] >= 0)
        & (kp[:, :, 0] <= frame_w)
        & (kp[:, :, 1] >= 0)
        & (kp[:, :, 1] <= frame_h)
    )
    seen_well = (kp[:, :, VISIBILITY] >= cfg.visibility_min) & inside
    with np.errstate(invalid="ignore"):
        cx = np.nanmean(kp[:, :, 0], axis=1) / frame_w - 0.5
        cy = np.nanmean(kp[:, :, 1], axis=1) / frame_h - 0.5
    # Chebyshev distance from the centre, 1 on the frame's edge: a tall portrait frame and a
    # wide landscape one alike.
    off_centre = 2.0 * np.maximum(np.abs(cx), np.abs(cy))
    speeds = body_speeds(track, cfg.motion_lag_s)
    moving = [_clip01(s / cfg.motion_full_speed) for s in speeds]
    return ScoreParts(
        size=_clip01(size / frame_h / cfg.size_full),
        seen=_clip01(len(track.frames) / max(n_frames, 1)),
        whole_body=_clip01(float(seen_well.mean())),
        centrality=_clip01(1.0 - float(np.nanmedian(off_centre))) if off_centre.size else 0.0,
        motion=float(np.mean(moving)) if moving else 0.0,
        travel=track.travel(),
    )


def performer_score(parts: ScoreParts, cfg: ScoreConfig) -> float:
    """Product of the parts raised to their weights (0..1; module docstring). A weight of 0
    leaves a part out; a part of 0 (never seen whole, on the frame's edge) zeroes the score
    only when it has weight."""
    motion = cfg.motion_floor + (1.0 - cfg.motion_floor) * parts.motion
    travel = cfg.travel_floor + (1.0 - cfg.travel_floor) * _clip01(parts.travel / cfg.travel_full)
    factors = (
        (parts.size, cfg.weight_size),
        (parts.seen, cfg.weight_seen),
        (parts.whole_body, cfg.weight_whole_body),
        (parts.centrality, cfg.weight_centrality),
        (motion, cfg.weight_motion),
        (travel, cfg.weight_travel),
    )
    score = 1.0
    for value, weight in factors:
        if weight > 0:
            score *= max(value, 0.0) ** weight
    return float(score)


def choose_subject(
    tracks: list[Track],
    scores: dict[int, float],
    requested: int | None,
    gait_min_travel: float | None = None,
) -> Track | None:
    """The requested track, else the performer (highest ``scores``, by track id); None when
    nobody was seen.

    For a gait (gait_min_travel set, in body sizes) the subject is the person who walks or
    runs: among those who travel that far, the one who travels furthest; the largest person
    standing still is not the clip's walker (issue 19). Nobody travelling that far (a
    treadmill, a runner filmed head-on): the performer."""
    if requested is not None:
        return next((tr for tr in tracks if tr.id == requested), None)
    if not tracks:
        return None
    if gait_min_travel is not None:
        travellers = [tr for tr in tracks if tr.travel() >= gait_min_travel]
        if travellers:
            return max(travellers, key=lambda tr: tr.travel())
    return max(tracks, key=lambda tr: scores[tr.id])
