"""Prompts for cloud generators, built from the drill's definition (never from user text).

User text only selects a drill; what is sent is the library's own description, so nothing a
user typed reaches a paid model, and the same drill always gives the same prompt.
"""

from __future__ import annotations

from formcoach.advice_generation.schemas import Drill

# Where a coach stands to film each starting position: side-on for sagittal movements,
# in front for side-lying drills, whose movement happens in the frontal plane.
_CAMERA = {
    "standing": "Camera: fixed on a tripod at hip height, side-on (90 degrees to the direction "
    "the athlete faces), whole body in frame with space above the head and below the feet.",
    "kneeling": "Camera: fixed at hip height, side-on, the whole kneeling body in frame.",
    "prone": "Camera: fixed low, near floor level, side-on, so the line from head to heels "
    "is clearly visible.",
    "supine": "Camera: fixed low, near floor level, side-on, whole body in frame.",
    "side_lying": "Camera: fixed low, in front of the athlete (facing their chest), so the "
    "hips and legs move across the picture, not toward the camera.",
    "quadruped": "Camera: fixed at table-top height, side-on, whole body in frame.",
}
_POSTURE = {
    "standing": "standing",
    "kneeling": "kneeling on a mat",
    "prone": "face down on an exercise mat",
    "supine": "lying on the back on an exercise mat",
    "side_lying": "lying on one side on an exercise mat",
    "quadruped": "on hands and knees on an exercise mat",
}
_SETTING = (
    "Setting: a bright, plain training studio, light grey wall, light wooden floor, even "
    "daylight, no other people, no text, no logos, no music."
)
_ACTOR = (
    "A fictional adult athlete in a plain blue T-shirt, dark tights and running shoes "
    "demonstrates the drill with calm, controlled, textbook technique."
)


def marker_line(marker: str) -> str:
    return f"Reference: {marker}"


def build_prompt(drill: Drill, seconds: str, marker: str) -> str:
    """A structured English prompt: the movement, the camera, the setting and the cues."""
    name = drill.name.en
    cues = "; ".join(drill.cues.en)
    if drill.kind == "hold":
        tempo = f"Hold the position steadily for the whole {seconds} seconds, breathing calmly."
    elif drill.kind == "reps":
        tempo = "Repeat smoothly at a steady, controlled tempo, each repetition complete."
    else:
        tempo = "Perform it continuously on the spot, rhythmic and relaxed."
    lines = [
        f"{'An' if seconds == '8' else 'A'} {seconds}-second instructional fitness video of "
        f"the drill '{name}'.",
        _ACTOR,
        f"Starting position: {_POSTURE[drill.posture]}. Purpose of the drill: {drill.purpose.en}",
        tempo,
        f"Coaching points visible in the movement: {cues}.",
        _CAMERA[drill.posture],
        _SETTING,
        marker_line(marker),
    ]
    return "\n".join(lines)
