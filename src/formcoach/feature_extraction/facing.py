"""Which way the person faces, frame by frame and as segments of the clip (they may turn)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import uniform_filter1d

from formcoach.feature_extraction.filters import FloatArray, segments
from formcoach.pose_estimation.schemas import LANDMARK_INDEX

# The nose must sit this far (fraction of body size) ahead of the head/shoulder line to vote.
_MIN_OFFSET = 0.03
# Votes are averaged over this window: a turn takes about a second, a wrong vote one frame.
_WINDOW_S = 1.0
# A facing segment shorter than this is merged into its neighbours.
_MIN_SEGMENT_S = 0.5


def _votes(xy: FloatArray, scale: float) -> FloatArray:
    """+1 facing right, -1 facing left, 0 undecided, per frame."""
    idx = LANDMARK_INDEX
    refs = np.stack(
        [xy[:, idx[n], 0] for n in ("left_shoulder", "right_shoulder", "left_ear", "right_ear")]
    )
    present = np.isfinite(refs)
    count = present.sum(axis=0)
    reference = np.where(present, refs, 0.0).sum(axis=0) / np.maximum(count, 1)
    offset = xy[:, idx["nose"], 0] - np.where(count > 0, reference, np.nan)
    votes = np.zeros(xy.shape[0])
    if np.isfinite(scale) and scale > 0:
        votes[offset > _MIN_OFFSET * scale] = 1.0
        votes[offset < -_MIN_OFFSET * scale] = -1.0
    return votes


def facing_per_frame(xy: FloatArray, scale: float, fps: float) -> NDArray[np.int8]:
    """+1 right / -1 left / 0 unknown per frame, from a moving majority of nose votes."""
    votes = _votes(xy, scale)
    window = max(1, round(_WINDOW_S * fps)) if fps > 0 else 1
    smooth = uniform_filter1d(votes, size=window, mode="nearest")
    out = np.sign(smooth).astype(np.int8)
    # Frames with no vote nearby take their neighbours' side.
    known = np.flatnonzero(out != 0)
    if known.size and known.size < out.size:
        nearest = known[np.clip(np.searchsorted(known, np.arange(out.size)), 0, known.size - 1)]
        out = out[nearest]
    return np.asarray(out, dtype=np.int8)


def facing_segments(per_frame: NDArray[np.int8], times: FloatArray) -> list[dict[str, float | str]]:
    """Runs of one facing, short ones absorbed: [{"start_s", "end_s", "facing"}]."""
    runs: list[tuple[int, int, int]] = []
    for value in (1, -1):
        runs += [(a, b, value) for a, b in segments(per_frame == value)]
    runs.sort()
    merged: list[tuple[int, int, int]] = []
    for a, b, value in runs:
        short = times[b - 1] - times[a] < _MIN_SEGMENT_S
        if merged and (merged[-1][2] == value or short):
            merged[-1] = (merged[-1][0], b, merged[-1][2])
        else:
            merged.append((a, b, value))
    return [
        {
            "start_s": round(float(times[a]), 4),
            "end_s": round(float(times[b - 1]), 4),
            "facing": "right" if value > 0 else "left",
        }
        for a, b, value in merged
    ]
