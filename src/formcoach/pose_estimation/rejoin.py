"""One person across camera cuts: tracks the tracker had to split, joined again.

The tracker matches by continuity, so after a hard cut (a tutorial edited from several takes)
the same person reappears somewhere else at another size and starts a new track. The subject
is one track, so a clean four-shot clip came out as "person found in 24 % of the frames"
(issue 19). A track that starts right after another ends, while nobody else is in view, and
whose body has the same proportions, is the same person filmed again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from formcoach.kit.settings import Settings
from formcoach.pose_estimation.schemas import VISIBILITY

if TYPE_CHECKING:
    # Type only: tracking imports this module.
    from formcoach.pose_estimation.tracking import Track

_SURE = 0.5
# Someone else seen this close to the cut makes it a scene with several people: continuity
# alone (the tracker) decides there.
_AROUND_S = 0.5


def proportion(track: Track) -> float | None:
    """Median torso length / leg length (hip-knee-ankle, the longer side): the same for a
    person at any distance from the camera, 0.5-0.7 for adults, seen side-on or from the front."""
    ratios = []
    for person in track.people:
        kp = person.keypoints
        sure = kp[:, VISIBILITY] >= _SURE
        if not sure[[11, 12, 23, 24]].all():
            continue
        torso = float(np.linalg.norm((kp[11, :2] + kp[12, :2]) / 2 - (kp[23, :2] + kp[24, :2]) / 2))
        legs = [
            float(np.linalg.norm(kp[h, :2] - kp[k, :2]) + np.linalg.norm(kp[k, :2] - kp[a, :2]))
            for h, k, a in ((23, 25, 27), (24, 26, 28))
            if sure[[h, k, a]].all()
        ]
        if legs and max(legs) > 0:
            ratios.append(torso / max(legs))
    return float(np.median(ratios)) if len(ratios) >= 3 else None


def _alone(a: Track, b: Track, others: list[Track], min_s: float) -> bool:
    """Nobody else (no ghost of a few frames either way) in view around the cut."""
    lo, hi = a.times[-1] - _AROUND_S, b.times[0] + _AROUND_S
    return not any(
        t is not a
        and t is not b
        and t.duration_s >= min_s
        and t.times[0] <= hi
        and t.times[-1] >= lo
        for t in others
    )


def _same_build(a: Track, b: Track, max_diff: float) -> bool:
    pa, pb = proportion(a), proportion(b)
    if pa is None or pb is None:
        return False
    return abs(pa - pb) <= max_diff * max(pa, pb)


def rejoin_after_cuts(tracks: list[Track], settings: Settings) -> list[Track]:
    """The tracks with each one that continues another across a cut merged into it."""
    remaining = sorted(tracks, key=lambda t: t.frames[0])
    joined: list[Track] = []
    merged: set[int] = set()
    for b in remaining:
        others = [t for t in remaining if id(t) not in merged]
        candidates = [
            a
            for a in joined
            if a.frames[-1] < b.frames[0]
            and b.times[0] - a.times[-1] <= settings.track_rejoin_max_gap_s + 1e-9
            and _alone(a, b, others, settings.track_min_duration_s)
            and _same_build(a, b, settings.track_rejoin_max_proportion_diff)
        ]
        if not candidates:
            joined.append(b)
            continue
        a = min(candidates, key=lambda t: b.times[0] - t.times[-1])
        for index, time_s, person in zip(b.frames, b.times, b.people, strict=True):
            a.add(index, time_s, person)
        a.cuts += 1
        merged.add(id(b))
    return joined
