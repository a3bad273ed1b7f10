"""The performer score (pose_estimation/subject.py) on synthetic tracks: who the clip is about
is the person who moves, not merely the largest or the longest visible (issue 19 item 6)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from formcoach.kit.settings import Settings
from formcoach.pose_estimation.detect import Detection, FrameDetections
from formcoach.pose_estimation.service import select_subject
from formcoach.pose_estimation.subject import (
    ScoreConfig,
    choose_subject,
    performer_score,
    score_parts,
)
from formcoach.pose_estimation.tracking import Track

FPS = 30.0
WIDTH, HEIGHT = 1280, 720


def _figure(x: float, foot_y: float, height: float, phase: float, swing: float) -> NDArray[Any]:
    """33 landmarks of an upright side-view stick figure ``height`` px tall standing at x; the
    legs and arms swing by ``swing`` x height, opposite each other, at ``phase`` (radians)."""
    kp = np.zeros((33, 4), dtype=np.float32)
    kp[:, 3] = 0.95
    hip_y, shoulder_y = foot_y - 0.5 * height, foot_y - 0.8 * height
    stride = swing * height * math.sin(phase)
    kp[:, 0], kp[:, 1] = x, foot_y - 0.9 * height  # head and everything not set below
    for side, sign in ((0, 1.0), (1, -1.0)):
        s, e, w, h, k, a = (11 + side, 13 + side, 15 + side, 23 + side, 25 + side, 27 + side)
        kp[s, :2] = (x, shoulder_y)
        kp[e, :2] = (x - 0.5 * sign * stride, shoulder_y + 0.15 * height)
        kp[w, :2] = (x - sign * stride, shoulder_y + 0.3 * height)
        kp[h, :2] = (x, hip_y)
        kp[k, :2] = (x + 0.5 * sign * stride, hip_y + 0.25 * height)
        kp[a, :2] = (x + sign * stride, foot_y)
    return kp


def _jitter(kp: NDArray[Any], rng: np.random.Generator, height: float) -> NDArray[Any]:
    # MediaPipe's estimate of a still person wobbles: each landmark by ~1 % of body size.
    out = kp.copy()
    out[:, :2] += rng.normal(0.0, 0.008 * height, size=(33, 2)).astype(np.float32)
    return out


def _track(track_id: int, frames: range, place: Any, height: float, swing: float) -> Track:
    rng = np.random.default_rng(track_id)
    track = Track(id=track_id)
    for i in frames:
        t = i / FPS
        kp = _jitter(_figure(place(t), 650.0, height, 2 * math.pi * 0.9 * t, swing), rng, height)
        track.add(i, t, Detection(kp))
    return track


def _still_and_walker(n: int = 240) -> tuple[Track, Track]:
    # A large person standing in the middle all clip long, and a smaller one walking across
    # from right to left (about 1.2 body sizes a second) for two thirds of it.
    still = _track(1, range(n), lambda _t: 640.0, 560.0, 0.0)
    walker = _track(2, range(40, 200), lambda t: 1200.0 - 220.0 * (t - 40 / FPS), 400.0, 0.25)
    return still, walker


def test_the_moving_person_outscores_a_larger_one_standing_still(settings: Settings) -> None:
    config = ScoreConfig.from_settings(settings)
    still, walker = _still_and_walker()
    parts = {t.id: score_parts(t, 240, WIDTH, HEIGHT, config) for t in (still, walker)}
    # The still one is larger, seen longer, more central...
    assert parts[1].size > parts[2].size and parts[1].seen > parts[2].seen
    assert parts[1].centrality > parts[2].centrality
    # ...but does not move: jitter is no motion, a walk is.
    assert parts[1].motion < 0.15 and parts[2].motion > 0.7, parts
    assert parts[1].travel < 0.2 and parts[2].travel > 2.0, parts
    scores = {i: performer_score(p, config) for i, p in parts.items()}
    assert scores[2] > scores[1], (scores, parts)
    assert choose_subject([still, walker], scores, None) is walker
    # The user's pick still wins, and a gait's subject is the traveller too.
    assert choose_subject([still, walker], scores, 1) is still
    assert choose_subject([still, walker], scores, None, settings.subject_gait_min_travel) is walker


def test_with_motion_and_travel_weighted_out_the_larger_person_wins(settings: Settings) -> None:
    # What the score was before (size x time seen): the weights are the choice.
    plain = settings.model_copy(update={"subject_weight_motion": 0.0, "subject_weight_travel": 0.0})
    config = ScoreConfig.from_settings(plain)
    still, walker = _still_and_walker()
    scores = {
        t.id: performer_score(score_parts(t, 240, WIDTH, HEIGHT, config), config)
        for t in (still, walker)
    }
    assert scores[1] > scores[2]


def test_parts_are_shares_and_a_person_cut_by_the_frame_scores_less(settings: Settings) -> None:
    config = ScoreConfig.from_settings(settings)
    inside = _track(1, range(90), lambda _t: 640.0, 400.0, 0.2)
    # The same person with the legs below the frame's bottom edge.
    cut = _track(2, range(90), lambda _t: 640.0, 400.0, 0.2)
    for person in cut.people:
        person.keypoints[[25, 26, 27, 28], 1] += 200.0
    a, b = (score_parts(t, 90, WIDTH, HEIGHT, config) for t in (inside, cut))
    for value in (a.size, a.seen, a.whole_body, a.centrality, a.motion):
        assert 0.0 <= value <= 1.0
    assert a.seen == 1.0 and a.whole_body > 0.95
    assert b.whole_body < a.whole_body - 0.3
    assert performer_score(b, config) < performer_score(a, config)


def test_pose_json_records_each_tracks_parts(settings: Settings, tmp_path: Path) -> None:
    still, walker = _still_and_walker()
    detections = []
    for i in range(240):
        people = [t.people[t.frames.index(i)] for t in (still, walker) if i in t.frames]
        detections.append(FrameDetections(i, i / FPS, people))
    pose = select_subject(detections, WIDTH, HEIGHT, settings)
    assert pose.subject == 2
    choice = pose.subject_choice
    assert choice is not None and choice.basis == "performer" and choice.chosen == 2
    # The tracks list shows why: each track's score and the parts it is made of.
    scored = {choice.chosen: choice.score} | {a["id"]: a["score"] for a in choice.alternatives}
    for track in pose.meta["tracks"]:
        parts = set(track["parts"])
        assert parts == {"size", "seen", "whole_body", "centrality", "motion", "travel"}
        assert track["prominence"] == pytest.approx(scored[track["id"]], abs=1e-4)
    pose.save(tmp_path / "pose.npz")
    again = type(pose).load(tmp_path / "pose.npz")
    assert [t.parts for t in again.tracks] == [t.parts for t in pose.tracks]
