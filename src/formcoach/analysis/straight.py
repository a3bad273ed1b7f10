"""Straight stretches of a walk or run, for gait symmetry (issue 19).

A walker who turns round takes slow, short steps through the turn, and the rhythm breaks: the
time between two contacts is far longer than the clip's usual step. Those steps say nothing
about the left/right balance of the gait, so symmetry is measured only on the straight
stretches between such breaks, leaving out the steps next to each break.

A left/right difference of the body itself shows whichever way the person walks. One that
changes sign with the walking direction comes from the camera (which leg is the near one), so
the stretches are weighed equally and their indices averaged: opposite signs cancel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

SIDES = ("left", "right")


@dataclass(frozen=True)
class Stretch:
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Symmetry:
    index_pct: float  # 100·(R−L)/(½(R+L)) of the median step times, averaged over stretches
    steps: int
    stretches: int  # stretches that had steps on both feet
    per_stretch_pct: list[float]


def stretches(contacts: Mapping[str, Sequence[float]], break_factor: float) -> list[Stretch]:
    """The spans of steady stepping: contacts of both feet, cut where a step lasts more than
    break_factor times the median step."""
    times = sorted(float(t) for side in SIDES for t in contacts.get(side, []))
    if len(times) < 2:
        return [Stretch(times[0], times[0])] if times else []
    gaps = np.diff(times)
    limit = break_factor * float(np.median(gaps))
    out: list[Stretch] = []
    start = times[0]
    for i, gap in enumerate(gaps):
        if gap > limit:
            out.append(Stretch(start, times[i]))
            start = times[i + 1]
    out.append(Stretch(start, times[-1]))
    return out


def step_symmetry(
    contacts: Mapping[str, Sequence[float]],
    step_times: Mapping[str, Sequence[float | None]],
    break_factor: float,
    edge_steps: int,
) -> Symmetry | None:
    """Step-time symmetry from the straight stretches; None without steps on both feet.

    step_times[side][i] is the step ending at contacts[side][i] (features' at_contacts)."""
    spans = stretches(contacts, break_factor)
    per_stretch: list[float] = []
    steps = 0
    for k, span in enumerate(spans):
        # A stretch's first step after a break spans the turn; the edge_steps next to a break
        # on either side are still part of it: leave them out.
        ordered = sorted(
            (float(t), side, v)
            for side in SIDES
            for t, v in zip(contacts.get(side, []), step_times.get(side, []), strict=False)
            if span.start_s <= float(t) <= span.end_s
        )
        first = edge_steps + 1 if k > 0 else 0
        last = len(ordered) - (edge_steps if k < len(spans) - 1 else 0)
        kept = ordered[first:last]
        medians: dict[str, float] = {}
        for side in SIDES:
            values = [float(v) for _, sd, v in kept if sd == side and isinstance(v, int | float)]
            if values:
                medians[side] = float(np.median(values))
                steps += len(values)
        if len(medians) == 2:
            right, left = medians["right"], medians["left"]
            per_stretch.append(100.0 * (right - left) / (0.5 * (right + left)))
    if not per_stretch:
        return None
    return Symmetry(
        index_pct=float(np.mean(per_stretch)),
        steps=steps,
        stretches=len(per_stretch),
        per_stretch_pct=[round(v, 2) for v in per_stretch],
    )
