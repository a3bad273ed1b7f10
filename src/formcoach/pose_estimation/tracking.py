"""People detections -> tracks with stable ids (the subject among them: subject.py).

Association is by continuity alone: a detection joins the track whose last landmarks lie
nearest, measured in body sizes (the larger of the track's and the detection's), inside a
gate that widens with the time the track has been lost. One optimal assignment per frame
(Hungarian) keeps two people who pass close to each other from trading ids, since each keeps
the cheaper, continuous match.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from formcoach.kit.settings import Settings
from formcoach.pose_estimation.detect import CORE, Detection, FrameDetections
from formcoach.pose_estimation.rejoin import rejoin_after_cuts
from formcoach.pose_estimation.schemas import VISIBILITY
from formcoach.pose_estimation.sides import ARM_PAIRS, LEG_PAIRS

_SURE = 0.3  # visibility above which a landmark is used for matching
_SIZE_MEMORY = 15  # detections whose body size is averaged for the gate


def body_size(kp: NDArray[np.float32]) -> float:
    """Shoulder-hip + hip-knee + knee-ankle length in px, the larger side: nearly posture-free."""
    best = 0.0
    for s, h, k, a in ((11, 23, 25, 27), (12, 24, 26, 28)):
        pts = kp[[s, h, k, a], :2].astype(np.float64)
        best = max(best, float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum()))
    if best > 0:
        return best
    x0, y0 = np.nanmin(kp[:, :2], axis=0)
    x1, y1 = np.nanmax(kp[:, :2], axis=0)
    return float(np.hypot(x1 - x0, y1 - y0)) or 1.0


# CORE with each left landmark and its right counterpart trading places.
_OTHER_SIDE = {a: b for pair in ARM_PAIRS + LEG_PAIRS for a, b in (pair, pair[::-1])}
_CORE_MIRRORED = tuple(_OTHER_SIDE[i] for i in CORE)


def landmark_distance(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    """Median distance in px between the body-outline landmarks both place confidently, with
    b's sides as labelled or swapped, whichever is nearer: a side-view model often swaps the
    near and far limbs from one frame to the next (sides.py mends that later), and a swap must
    not make the same person look like someone else."""
    return min(_median_distance(a, b, CORE), _median_distance(a, b, _CORE_MIRRORED))


def _median_distance(
    a: NDArray[np.float32], b: NDArray[np.float32], b_order: tuple[int, ...]
) -> float:
    core = list(CORE)
    order = list(b_order)
    both = (a[core, VISIBILITY] >= _SURE) & (b[order, VISIBILITY] >= _SURE)
    pa, pb = a[core, :2], b[order, :2]
    if int(both.sum()) >= 3:
        pa, pb = pa[both], pb[both]
    return float(np.median(np.linalg.norm(pa - pb, axis=1)))


def _centre(person: Detection) -> NDArray[np.float64]:
    return np.asarray(np.nanmean(person.keypoints[list(CORE), :2], axis=0), dtype=np.float64)


@dataclass
class Track:
    id: int
    frames: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    people: list[Detection] = field(default_factory=list)
    sizes: list[float] = field(default_factory=list)
    # Camera cuts this track was joined across (rejoin.py).
    cuts: int = 0

    @property
    def size(self) -> float:
        return float(np.median(self.sizes[-_SIZE_MEMORY:]))

    @property
    def duration_s(self) -> float:
        return self.times[-1] - self.times[0] if self.times else 0.0

    def velocity(self, window_s: float) -> NDArray[np.float64]:
        """The body centre's px/s over the last ``window_s`` of the track (0 when too short)."""
        last = self.times[-1]
        k = next(i for i, t in enumerate(self.times) if t >= last - window_s - 1e-9)
        dt = last - self.times[k]
        if dt <= 0:
            return np.zeros(2)
        return (_centre(self.people[-1]) - _centre(self.people[k])) / dt

    def predicted(self, time_s: float, window_s: float, max_s: float) -> NDArray[np.float32]:
        """The last landmarks moved on at the track's recent velocity to ``time_s`` (at most
        ``max_s`` ahead): two people crossing keep going, so each is matched with the one
        still heading their way, not with whoever now stands where they stood."""
        ahead = min(max(0.0, time_s - self.times[-1]), max_s)
        kp = self.people[-1].keypoints.copy()
        kp[:, :2] += (self.velocity(window_s) * ahead).astype(np.float32)
        return kp

    def add(self, index: int, time_s: float, person: Detection) -> None:
        self.frames.append(index)
        self.times.append(time_s)
        self.people.append(person)
        self.sizes.append(body_size(person.keypoints))

    def travel(self) -> float:
        """How far the body goes across the frame, in body sizes: the p5–p95 extent of its
        centre's x. A walker crosses the frame; someone jumping down from a roof mostly falls
        (the two-people demo's man: the vertical drop is no walk)."""
        kp = np.stack([p.keypoints[list(CORE), :2] for p in self.people]).astype(np.float64)
        x = np.nanmean(kp[:, :, 0], axis=1)
        size = float(np.median(self.sizes))
        if size <= 0 or x.size < 2 or not np.isfinite(x).any():
            return 0.0
        return float(np.nanpercentile(x, 95) - np.nanpercentile(x, 5)) / size


def track_people(detections: list[FrameDetections], settings: Settings) -> list[Track]:
    """Tracks of everyone seen long enough, ids 1.. in order of first appearance."""
    times = np.array([d.time_s for d in detections], dtype=np.float64)
    frame_dt = float(np.median(np.diff(times))) if times.size > 1 else 0.0
    tracks: list[Track] = []
    for frame in detections:
        t = frame.time_s
        live = [
            tr
            for tr in tracks
            if t - tr.times[-1] <= settings.track_max_lost_s + 1e-9 and tr.frames[-1] < frame.index
        ]
        cost = np.full((len(frame.people), len(live)), np.inf)
        for i, person in enumerate(frame.people):
            for j, tr in enumerate(live):
                lost = max(0.0, t - tr.times[-1] - frame_dt)
                gate = settings.track_max_distance + settings.track_max_distance_per_s * lost
                # In the larger of the two body sizes: a degenerate estimate (legs folded into
                # the trunk while the person is half hidden) shrinks the track's size, and the
                # person found whole again would look too far to be the same one.
                size = max(tr.size, body_size(person.keypoints))
                expected = tr.predicted(
                    t, settings.track_velocity_window_s, settings.track_predict_max_s
                )
                d = landmark_distance(person.keypoints, expected) / size
                if d <= gate:
                    cost[i, j] = d
        taken: set[int] = set()
        if live and frame.people:
            finite = np.where(np.isfinite(cost), cost, 1e9)
            rows, cols = linear_sum_assignment(finite)
            for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
                if np.isfinite(cost[i, j]):
                    live[j].add(frame.index, t, frame.people[i])
                    taken.add(i)
        for i, person in enumerate(frame.people):
            if i not in taken:
                track = Track(id=len(tracks) + 1)
                track.add(frame.index, t, person)
                tracks.append(track)
    tracks = rejoin_after_cuts(tracks, settings)
    # In a clip shorter than the minimum a whole-clip track must still count.
    clip_s = float(times[-1] - times[0]) if times.size else 0.0
    shortest = min(settings.track_min_duration_s, 0.5 * clip_s)
    kept = [tr for tr in tracks if tr.duration_s >= shortest]
    for new_id, tr in enumerate(sorted(kept, key=lambda tr: tr.frames[0]), start=1):
        tr.id = new_id
    return sorted(kept, key=lambda tr: tr.id)
