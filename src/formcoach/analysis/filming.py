"""How to film a movement, and whether a framing suits it: the analysis's own checks, asked
before the clip exists (the record page's framing guide and check, issue 21).

One source: the tips are the not_assessed finding's filming tips (not_assessed.py) and the
view notes' filming advice (validity.py); the checks are the same thresholds
(assessment.yaml: min_parts_seen, min_subject_share) and the same views per metric
(measurement.yaml) the report is judged by.
"""

from __future__ import annotations

from formcoach.analysis.not_assessed import REASONS, assessment_config
from formcoach.analysis.reference import load_reference
from formcoach.analysis.schemas import LocalizedText
from formcoach.analysis.validity import canonical, film_tip, view_note
from formcoach.kit.settings import get_settings

# Body parts (features.json body_parts_seen_rate) each movement's measures rest on.
_ARMS_NEEDED = frozenset({"push_up"})
# The views a camera can be placed for, in the order a tie is settled (side-on first: most
# of the judged measures are sagittal).
PLACEABLE_VIEWS = ("side", "front", "rear")


def needed_body_parts(movement: str) -> list[str]:
    """The trunk and the legs, and the arms for push-ups."""
    return ["trunk", "legs", *(["arms"] if movement in _ARMS_NEEDED else [])]


def judged_keys(movement: str) -> list[str]:
    profile = load_reference(get_settings().reference_file).movements.get(movement)
    return list(profile.judged) if profile else []


def _measurable(keys: list[str], view: str, angle: int | None = None) -> int:
    return sum(view_note(k, view, angle) is None for k in keys)


def best_view(movement: str) -> str:
    """The view from which the most of the movement's judged measures can be read; a movement
    with none (or "auto") is filmed side-on, as the analysis then assumes."""
    keys = judged_keys(movement)
    if not keys:
        return "side"
    return max(PLACEABLE_VIEWS, key=lambda v: (_measurable(keys, v), -PLACEABLE_VIEWS.index(v)))


def view_suits(movement: str, view: str, angle: int | None = None) -> bool | None:
    """Whether a detected view (feature_extraction/view.py names) lets as many of the
    movement's judged measures be read as the best view does; None when it is unknown."""
    if view == "unknown":
        return None
    keys = judged_keys(movement)
    if not keys:
        return canonical(view) == "side"
    best = _measurable(keys, best_view(movement))
    return best > 0 and _measurable(keys, view, angle) >= best


def filming_tips(movement: str) -> list[tuple[str, LocalizedText]]:
    """(code, tip) for the framing guide: distance, view, a still camera, length."""
    return [
        ("distance", REASONS["body_parts_out_of_frame"][1]),
        ("view", view_tip(movement)),
        ("still", REASONS["movement_not_seen"][1]),
        ("length", REASONS["clip_too_short"][1]),
    ]


def parts_seen_enough(share: float) -> bool:
    """The share of frames showing the needed body parts is enough to measure from."""
    return share >= assessment_config().min_parts_seen


def subject_large_enough(share: float) -> bool:
    """The person's stature as a share of the frame height is enough (not_assessed's rule)."""
    return share >= assessment_config().min_subject_share


def too_small_tip() -> LocalizedText:
    return REASONS["subject_too_small"][1]


def out_of_frame_tip() -> LocalizedText:
    return REASONS["body_parts_out_of_frame"][1]


def view_tip(movement: str) -> LocalizedText:
    """Where to put the camera for the movement's best view."""
    return film_tip(best_view(movement))
