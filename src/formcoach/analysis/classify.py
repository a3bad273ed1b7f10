"""Recognising the movement when the user chose "auto".

The rules are checked in order and the first that matches wins; thresholds live in
reference.yaml (classification):

1. glute bridge - lying on the back (trunk near horizontal), knees bent, the hip swinging;
2. push-up / plank - trunk near horizontal with shoulder-hip-ankle nearly straight: a push-up
   when the elbows swing, else a plank;
3. gait - feature extraction found a cadence from enough alternating steps, the body travels
   (or stays on a treadmill under a steady trunk) and the arms stay below the head: running
   when a flight phase shows (gait_kind.py), else walking; arms going overhead in rhythm
   (jumping jacks) give "other" at once;
4. lunge / squat - the hip height swings while the knees bend deeply, at least
   squat_min_reps times (the squat's rep counter): a lunge when the two hips differ a lot at
   the deepest frames (split stance), else a squat;
5. other - none of these, and none nearly: only the angle summaries are reported.

Every measure is compared with its threshold as a relative clearance. A rule whose weakest
measure clears by less than `uncertain_margin`, or a rule missed by less than that before the
winner, makes the clip uncertain: the analysis then stops with movement_uncertain instead of
guessing. A side plank is the plank's straight, near-horizontal body filmed from the front or
back (the run's view); a single-leg squat bends the knee repeatedly with one foot held off
the floor (checked before lunge and squat).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from formcoach.analysis import gait_kind
from formcoach.analysis import series as s
from formcoach.analysis.reps import combine, detect_reps
from formcoach.analysis.schemas import ClassificationSettings, LocalizedText, Reference
from formcoach.feature_extraction.schemas import FeaturesDocument

LABELS: dict[str, tuple[str, str]] = {
    "glute_bridge": ("グルートブリッジ", "glute bridge"),
    "push_up": ("腕立て伏せ", "push-up"),
    "plank": ("プランク", "plank"),
    "running": ("ランニング", "running"),
    "walking": ("ウォーキング", "walking"),
    "lunge": ("ランジ", "lunge"),
    "squat": ("スクワット", "squat"),
    "side_plank": ("サイドプランク", "side plank"),
    "single_leg_squat": ("片脚スクワット", "single-leg squat"),
}
FRONTAL_VIEWS = ("front", "rear")


@dataclass(frozen=True)
class Detection:
    movement: str
    reason: LocalizedText
    # Movements the clip came close to, when the movement is "uncertain".
    candidates: list[str] = field(default_factory=list)

    @property
    def uncertain(self) -> bool:
        return self.movement == "uncertain"


def step_count(features: FeaturesDocument) -> int | None:
    return features.summary.step_count


def measured_cadence(features: FeaturesDocument, reference: Reference) -> float | None:
    """The cadence if there is one and enough steps stand behind it."""
    value = features.summary.cadence_spm
    if value is None:
        return None
    steps = step_count(features)
    if steps is not None and steps < reference.gait.min_steps:
        return None
    return float(value)


def count_clearance(count: float | None, minimum: float) -> float:
    """The clearance of a whole count (reps, bends): a count moves in steps of one, so the
    line sits halfway between the last count that fails and the minimum. Exactly the minimum
    then clears by half a rep instead of by 0, which made a clean two-rep squat "uncertain"."""
    return clearance(count, minimum - 0.5)


def clearance(value: float | None, threshold: float, at_least: bool = True) -> float:
    """How far a measure clears its threshold, relative to it; -inf when not measured."""
    if value is None or not math.isfinite(value):
        return -math.inf
    scale = abs(threshold) or 1.0
    return (value - threshold) / scale if at_least else (threshold - value) / scale


@dataclass(frozen=True)
class Rule:
    movement: str
    clearances: tuple[float, ...]
    reason: LocalizedText

    @property
    def weakest(self) -> float:
        return min(self.clearances)


def _deepest_hip_gap(features: FeaturesDocument, knees: s.FloatArray) -> float | None:
    """Median |left - right| hip flexion over the frames where the knees bend most."""
    left = s.series(features, "left_hip_flexion_deg")
    right = s.series(features, "right_hip_flexion_deg")
    n = min(left.size, right.size, knees.size)
    deep = s.percentile(knees, 90)
    if n == 0 or deep is None:
        return None
    with np.errstate(invalid="ignore"):
        frames = knees[:n] >= deep
    return s.median(np.abs(left[:n] - right[:n])[frames])


def rules(features: FeaturesDocument, reference: Reference, view: str = "side") -> list[Rule]:
    """The rules in checking order, each with its measures' clearances and its reason."""
    rule = reference.classification
    trunk = s.median(np.abs(s.series(features, "trunk_lean_deg")))
    body_line = s.median(s.series(features, "body_line_deg"))
    knees = s.pairwise_max(
        s.series(features, "left_knee_flexion_deg"), s.series(features, "right_knee_flexion_deg")
    )
    knee_median, knee_peak = s.median(knees), s.percentile(knees, 90)
    hip_swing = s.spread(
        s.pairwise_max(
            s.series(features, "left_hip_flexion_deg"), s.series(features, "right_hip_flexion_deg")
        )
    )
    elbow_swing = s.spread(
        s.pairwise_max(
            s.series(features, "left_elbow_flexion_deg"),
            s.series(features, "right_elbow_flexion_deg"),
        )
    )
    hip_range = s.spread(s.series(features, "hip_height_norm"))
    hip_gap = _deepest_hip_gap(features, knees)
    # A squat or lunge repeats: one deep bend (a landing from a jump, sitting down) is not one.
    squat_rule = reference.movements["squat"].reps if "squat" in reference.movements else None
    bends = (
        float(len(detect_reps(s.times(features), knees, squat_rule)))
        if squat_rule is not None and knees.size
        else None
    )
    single = reference.movements.get("single_leg_squat")
    working = combine(
        s.series(features, "left_knee_flexion_deg"),
        s.series(features, "right_knee_flexion_deg"),
        "moving",
    )
    single_bends = (
        float(len(detect_reps(s.times(features), working, single.reps)))
        if single is not None and single.reps is not None and working.size
        else None
    )
    foot_lift = s.median(s.series(features, "foot_lift_norm"))
    frontal = view in FRONTAL_VIEWS
    cadence = measured_cadence(features, reference)
    lying = 90.0 - rule.bridge_max_trunk_from_horizontal_deg

    def f(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    prone = (
        clearance(trunk, rule.plank_min_trunk_from_vertical_deg),
        clearance(body_line, rule.plank_min_body_line_deg),
    )
    # A plank's straight, near-horizontal body filmed from the front or back is a side plank
    # (seen from the side the same 2D line is a plank): the run's view tells them apart.
    side_on = (math.inf,) if not frontal else (-math.inf,)
    face_on = (math.inf,) if frontal else (-math.inf,)
    legs = (
        clearance(hip_range, rule.squat_min_hip_range),
        clearance(knee_peak, rule.squat_min_knee_flexion_deg),
        count_clearance(bends, rule.squat_min_reps),
        # Both feet on the floor (a missing series, as in older features, does not count).
        clearance(foot_lift, rule.single_leg_min_foot_lift, at_least=False)
        if foot_lift is not None
        else math.inf,
    )
    moving = gait_kind.evidence(features, rule)
    flight = moving.flight_share
    band = gait_kind.flight_error(features, rule)
    flight_decides = flight is not None and (
        band is None or abs(flight - rule.running_min_flight_share) > band
    )
    if flight_decides:
        gait = moving.kind(rule)
        gait_kind_clearance = clearance(
            flight, rule.running_min_flight_share, at_least=gait == "running"
        )
    else:
        # No stance or duty factor measured, or a flight share inside its own timing error:
        # the cadence decides.
        gait = (
            "running"
            if cadence is not None and cadence >= rule.running_min_cadence_spm
            else "walking"
        )
        gait_kind_clearance = clearance(
            cadence, rule.running_min_cadence_spm, at_least=gait == "running"
        )
    gait_reason = _gait_reason(gait, cadence, flight, flight_decides, band, rule)
    return [
        Rule(
            "glute_bridge",
            (
                clearance(trunk, lying),
                clearance(knee_median, rule.squat_min_knee_flexion_deg),
                clearance(hip_swing, rule.bridge_min_hip_swing_deg),
            ),
            LocalizedText(
                ja=f"仰向けで膝を曲げ（{f(knee_median)}°）、股関節が {f(hip_swing)}° 動いていたため",
                en=f"the person lay on the back with bent knees ({f(knee_median)}°) and the hips "
                f"moving through {f(hip_swing)}°",
            ),
        ),
        Rule(
            "side_plank",
            (*prone, *face_on),
            LocalizedText(
                ja=f"正面（または後ろ）から見て、体が水平に近い一直線（{f(body_line)}°）のまま"
                "保たれていたため",
                en=f"seen from the front (or back), the body stayed near horizontal and straight "
                f"({f(body_line)}°)",
            ),
        ),
        Rule(
            "push_up",
            (*prone, *side_on, clearance(elbow_swing, rule.pushup_min_elbow_swing_deg)),
            LocalizedText(
                ja=f"体が水平に近い一直線（{f(body_line)}°）のまま、肘が {f(elbow_swing)}° "
                "曲げ伸ばしされていたため",
                en=f"the body stayed near horizontal and straight ({f(body_line)}°) while the "
                f"elbows bent through {f(elbow_swing)}°",
            ),
        ),
        Rule(
            "plank",
            (
                *prone,
                *side_on,
                clearance(elbow_swing, rule.pushup_min_elbow_swing_deg, at_least=False),
            ),
            LocalizedText(
                ja=f"体幹がほぼ水平（鉛直から {f(trunk)}°）で、肩・腰・足首がほぼ一直線"
                f"（{f(body_line)}°）のまま保たれていたため",
                en=f"the trunk stayed near horizontal ({f(trunk)}° from vertical) with "
                f"shoulder, hip and ankle nearly in line ({f(body_line)}°)",
            ),
        ),
        Rule(
            gait,
            (
                math.inf if cadence is not None else -math.inf,
                gait_kind_clearance,
                # Gait goes somewhere, or runs on a treadmill under a steady trunk.
                math.inf if moving.in_place_context(rule) else -math.inf,
                -math.inf if moving.arms_overhead else math.inf,
            ),
            gait_reason,
        ),
        Rule(
            "single_leg_squat",
            (
                clearance(hip_range, rule.single_leg_min_hip_range),
                clearance(s.percentile(working, 90), rule.single_leg_min_knee_flexion_deg),
                count_clearance(single_bends, rule.squat_min_reps),
                clearance(foot_lift, rule.single_leg_min_foot_lift),
            ),
            LocalizedText(
                ja=f"片足を床から上げたまま（左右の足首の高さの差 {foot_lift or 0:.2f}）、"
                f"膝が {f(knee_peak)}° まで曲がる動きをくり返していたため",
                en=f"one foot stayed off the floor (ankle height difference {foot_lift or 0:.2f}) "
                f"while the knee bent to {f(knee_peak)}° repeatedly",
            ),
        ),
        Rule(
            "lunge",
            (*legs, clearance(hip_gap, rule.lunge_min_hip_gap_deg)),
            LocalizedText(
                ja=f"脚を前後に開いたまま（左右の股関節の差 {f(hip_gap)}°）、膝が {f(knee_peak)}° "
                "まで曲がっていたため",
                en=f"the legs stayed split (hips {f(hip_gap)}° apart) while the knees bent to "
                f"{f(knee_peak)}°",
            ),
        ),
        Rule(
            "squat",
            (*legs, clearance(hip_gap, rule.lunge_min_hip_gap_deg, at_least=False)),
            LocalizedText(
                ja=f"腰の高さが大きく上下し（変化 {hip_range or 0:.2f}）、膝が {f(knee_peak)}° まで"
                "曲がっていたため",
                en=f"the hips moved up and down markedly (range {hip_range or 0:.2f}) with the "
                f"knees bending to {f(knee_peak)}°",
            ),
        ),
    ]


def _gait_reason(
    gait: str,
    cadence: float | None,
    flight: float | None,
    flight_decides: bool,
    band: float | None,
    rule: ClassificationSettings,
) -> LocalizedText:
    def f(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    if flight is not None and not flight_decides:
        above = gait == "running"
        pct, err = 100 * flight, 100 * (band or 0.0)
        return LocalizedText(
            ja=f"左右の足が交互に周期的に動き、1分あたり {f(cadence)} 歩"
            f"（{rule.running_min_cadence_spm:.0f} 歩{'以上' if above else '未満'}）だったため"
            f"（両足が地面から離れている時間 {pct:.0f} % は、このフレームレートでの測定誤差"
            f" ±{err:.0f} % の範囲で走りと歩きの境目に近く、判断に使いませんでした）",
            en=f"the feet alternated periodically at {f(cadence)} steps/min "
            f"({'at or above' if above else 'below'} {rule.running_min_cadence_spm:.0f}); "
            f"both feet off the ground for {pct:.0f} % of the stride is within the timing error "
            f"at this frame rate (±{err:.0f} %) of the walk/run boundary, so it did not decide",
        )
    if flight is None:
        return LocalizedText(
            ja=f"左右の足が交互に周期的に動き、1分あたり {f(cadence)} 歩"
            f"（{rule.running_min_cadence_spm:.0f} 歩{'以上' if gait == 'running' else '未満'}）"
            "だったため（接地の長さは測れませんでした）",
            en=f"the feet alternated periodically at {f(cadence)} steps/min "
            f"({'at or above' if gait == 'running' else 'below'} "
            f"{rule.running_min_cadence_spm:.0f}; ground contacts could not be timed)",
        )
    pct, limit = 100 * flight, 100 * rule.running_min_flight_share
    if gait == "running":
        return LocalizedText(
            ja=f"左右の足が交互に動き（1分あたり {f(cadence)} 歩）、両足が地面から離れている時間が"
            f"1歩の {pct:.0f} %（{limit:.0f} % 以上）あったため",
            en=f"the feet alternated ({f(cadence)} steps/min) with both feet off the ground for "
            f"{pct:.0f} % of the stride (at least {limit:.0f} %)",
        )
    return LocalizedText(
        ja=f"左右の足が交互に動き（1分あたり {f(cadence)} 歩）、ほぼ常にどちらかの足が地面に"
        f"着いていたため（両足が離れている時間 {pct:.0f} %、{limit:.0f} % 未満）",
        en=f"the feet alternated ({f(cadence)} steps/min) with a foot on the ground nearly all "
        f"the time (both feet off for {pct:.0f} % of the stride, under {limit:.0f} %)",
    )


NOT_OFFERED = LocalizedText(
    ja="足はリズムよく動いていましたが、腕が頭上や横に大きく上がっていました。ジャンピングジャックの"
    "ような、formcoach が分析していない動きです（ランニングやウォーキングではありません）",
    en="the feet moved in rhythm while the arms went overhead and out to the sides: a movement "
    "formcoach does not analyse (such as jumping jacks), not running or walking",
)


def classify(features: FeaturesDocument, reference: Reference, view: str = "side") -> Detection:
    margin = reference.classification.uncertain_margin
    if measured_cadence(features, reference) is not None and gait_kind.arms_overhead(
        features, reference.classification.arms_overhead_deg
    ):
        # Contradicting evidence: stepping in rhythm with the arms overhead is no gait.
        return Detection("other", NOT_OFFERED)
    near: list[str] = []
    for rule in rules(features, reference, view):
        if rule.weakest >= margin:
            if near:
                # An earlier rule was nearly met: taking this one would be a guess.
                near.append(rule.movement)
                break
            return Detection(rule.movement, rule.reason)
        if rule.weakest > -margin:
            near.append(rule.movement)
            if rule.weakest >= 0:
                break
    if near:
        names = dict.fromkeys(near)
        return Detection(
            "uncertain",
            LocalizedText(
                ja="、".join(LABELS[m][0] for m in names), en=", ".join(LABELS[m][1] for m in names)
            ),
            candidates=list(names),
        )
    return Detection(
        "other",
        LocalizedText(
            ja="ランニング・ウォーキング・スクワット・片脚スクワット・ランジ・腕立て伏せ・ブリッジ・"
            "プランク・サイドプランクのどの特徴にも当てはまらなかったため（formcoach が分析していない"
            "動きです）",
            en="the clip matched none of running, walking, squat, single-leg squat, lunge, "
            "push-up, bridge, plank or side plank: formcoach does not offer this movement",
        ),
    )
