"""Walking or running, from what the feet do (issue 19).

A cadence threshold misclassifies slow runners and fast walkers (a front-view run at 130 spm
has clear flight phases). The difference between the gaits is the flight phase: walking always
has a foot on the ground (double support), running has moments with none. The flight share is
the part of the analysed span covered by neither foot's stance (initial contact to toe-off),
with 1 − 2 × duty factor as the fallback when toe-offs are missing.

A gait also has to go somewhere: the body travels, or it stays on a treadmill with a steady
trunk. Arms going overhead in rhythm belong to no walk or run (jumping jacks).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from formcoach.analysis import series as s
from formcoach.analysis.schemas import ClassificationSettings
from formcoach.feature_extraction.schemas import FeaturesDocument, GaitEvents

SIDES = ("left", "right")
# Steps with a timed toe-off needed for a flight share.
MIN_STEPS = 4


@dataclass(frozen=True)
class GaitEvidence:
    flight_share: float | None
    source: str  # "stance" or "duty_factor" or "none"
    travelling: bool | None  # None when the stride measures were not made
    trunk_spread_deg: float | None
    arms_overhead: bool

    def kind(self, rule: ClassificationSettings) -> str:
        share = self.flight_share
        return (
            "running"
            if share is not None and share >= rule.running_min_flight_share
            else ("walking")
        )

    def in_place_context(self, rule: ClassificationSettings) -> bool:
        """Travel, or feet cycling under a steady trunk (a treadmill)."""
        if self.travelling:
            return True
        spread = self.trunk_spread_deg
        return spread is not None and spread <= rule.treadmill_max_trunk_spread_deg


def stance_flight_share(gait: GaitEvents) -> float | None:
    """Per step (one foot's contact to the other's), the part of it from the leaving foot's
    toe-off to the landing foot's contact (0 in double support); the median over the steps
    whose toe-off is known. The median keeps a turn's long step from deciding, and a missing
    toe-off leaves its step out rather than counting it as flight."""
    contacts = gait.initial_contacts_s
    toe_offs = gait.toe_offs_s
    own = {sd: sorted(float(t) for t in contacts.get(sd, [])) for sd in SIDES}
    events = sorted((t, sd) for sd in SIDES for t in own[sd])
    shares: list[float] = []
    for (before, foot), (landing, other) in itertools.pairwise(events):
        if foot == other or landing <= before:
            continue  # a missed contact between them: no single step to read
        # The leaving foot's toe-off lies between its contact and its own next contact.
        nxt = next((t for t in own[foot] if t > before), math.inf)
        off = next((float(t) for t in sorted(toe_offs.get(foot, [])) if before < t < nxt), None)
        if off is None:
            continue
        shares.append(max(0.0, landing - off) / (landing - before))
    if len(shares) < MIN_STEPS:
        return None
    return float(np.median(shares))


def flight_error(features: FeaturesDocument, rule: ClassificationSettings) -> float | None:
    """The flight share's measurement error: the timing error over the median step time."""
    fps = features.fps
    steps = [float(t) for t in features.summary.step_times_s if t > 0]
    if fps <= 0 or not steps:
        return None
    return rule.flight_timing_error_frames / float(fps) / float(np.median(steps))


def duty_flight_share(gait: GaitEvents) -> float | None:
    """1 − 2 × the median duty factor of both feet (each foot's contact ÷ stride)."""
    per_side = gait.side_view.get("per_side") or {}
    values = [
        float(v)
        for sd in SIDES
        for v in (per_side.get(sd, {}).get("at_contacts", {}).get("duty_factor") or [])
        if isinstance(v, int | float)
    ]
    if not values:
        return None
    return max(0.0, 1.0 - 2.0 * float(np.median(values)))


def arms_overhead(features: FeaturesDocument, threshold_deg: float) -> bool:
    """Either upper arm goes above threshold_deg from hanging in a good part of the clip."""
    for side in SIDES:
        arm = np.abs(s.series(features, f"{side}_upper_arm_segment_deg"))
        high = s.percentile(arm, 90)
        if high is not None and high >= threshold_deg:
            return True
    return False


def evidence(features: FeaturesDocument, rule: ClassificationSettings) -> GaitEvidence:
    gait = features.gait
    share, source = stance_flight_share(gait), "stance"
    if share is None:
        share, source = duty_flight_share(gait), "duty_factor"
    if share is None:
        source = "none"
    side_view = gait.side_view
    travelling = side_view.get("travelling")
    return GaitEvidence(
        flight_share=None if share is None else round(share, 3),
        source=source,
        travelling=bool(travelling) if isinstance(travelling, bool) else None,
        trunk_spread_deg=s.spread(s.series(features, "trunk_lean_deg")),
        arms_overhead=arms_overhead(features, rule.arms_overhead_deg),
    )
