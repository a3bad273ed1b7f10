"""One person across camera cuts and behind another person (issue 19, items 5 and 6).

The clips are composed from a real fixture walker (tests/support/composite.py): on a white
canvas, at about 40-50 % of the frame height, in four shots with hard cuts; and two copies of
her walking opposite ways, one passing in front of the other.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from formcoach.kit.settings import Settings
from formcoach.pose_estimation.detect import detect_video
from formcoach.pose_estimation.service import select_subject
from formcoach.pose_estimation.tracking import track_people
from tests.conftest import FIXTURES
from tests.support.composite import Shot, crossing_clip, cut_clip

WALK = FIXTURES / "sports2d-demo4-walk-side.mp4"
# A frame of the tripod clip with nobody in it: what is whitened away.
EMPTY = 395


def test_person_is_one_subject_across_hard_cuts(tmp_path: Path, settings: Settings) -> None:
    shots = [
        Shot(45, 135, 0.85, 0.55, 0.5),
        Shot(200, 270, 0.8, 0.45, 0.5, mirror=True),
        Shot(60, 130, 0.95, 0.5, 0.45),
        Shot(270, 330, 0.8, 0.5, 0.5),
    ]
    clip = cut_clip(WALK, tmp_path / "cuts.mp4", shots, plate=EMPTY)
    detections, width, height = detect_video(clip, settings, max_side=settings.pose_max_side)
    seen = sum(1 for d in detections if d.people)
    assert seen >= 0.95 * len(detections)
    pose = select_subject(detections, width, height, settings, movement="lunge")
    # Before the rejoin each shot was its own track and the subject had 90 of 290 frames (31 %).
    assert len(pose.tracks) == 1, pose.tracks
    assert pose.detection_rate >= 0.85 * seen / len(detections), pose.detection_rate
    choice = pose.subject_choice
    assert choice is not None and choice.chosen == pose.subject and not choice.close


def test_walkers_keep_their_ids_when_one_passes_in_front(
    tmp_path: Path, settings: Settings
) -> None:
    clip = crossing_clip(WALK, tmp_path / "cross.mp4", (40, 160), (40, 160), EMPTY)
    detections, width, height = detect_video(clip, settings, max_side=settings.pose_max_side)
    tracks = track_people(detections, settings)
    # Two walkers who travel alike: which one the clip is about is the user's call.
    pose = select_subject(detections, width, height, settings, movement="walking")
    choice = pose.subject_choice
    assert choice is not None and choice.basis == "travel" and choice.close, choice
    assert [a["id"] for a in choice.alternatives] == [t.id for t in tracks if t.id != pose.subject]
    assert len(tracks) == 2, [(t.id, t.frames[0], t.frames[-1]) for t in tracks]
    for track in tracks:
        x = np.array([np.nanmean(p.keypoints[[11, 12, 23, 24], 0]) for p in track.people])
        # One way all along: an id swap at the crossing turned both tracks back half-way.
        steps = np.sign(np.diff(x[::6]))
        assert abs(steps.sum()) >= len(steps) - 2, x[::6].round()
        assert track.duration_s >= 3.5
