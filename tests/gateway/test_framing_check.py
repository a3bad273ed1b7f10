"""The record page's framing check on real footage with the real pose model: a side-on squat
is good, the oblique Pose2Sim view asks to turn sideways, a cut-off body to step back, a
distant one to move closer, an empty
picture finds no one; and the same through POST /api/framing-check."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from formcoach.gateway.framing import framing_check
from formcoach.kit.settings import Settings
from formcoach.kit.video_io import RGB, iter_frames
from tests.conftest import FIXTURES, SINGLE_PERSON

SQUAT = FIXTURES / "rohan-squat-barbell-side-portrait.mp4"
WALK = FIXTURES / "sports2d-demo4-walk-side.mp4"


def _frames(path: Path, *times: float) -> list[RGB]:
    out, wanted = [], list(times)
    for f in iter_frames(path):
        if wanted and f.time_s >= wanted[0]:
            out.append(f.image)
            wanted.pop(0)
        if not wanted:
            return out
    raise AssertionError(f"{path.name} is shorter than {times}")


def test_verdicts_on_fixture_frames(settings: Settings) -> None:
    squat = framing_check(_frames(SQUAT, 3.0, 3.5), "squat", settings, [0.0, 0.5])
    assert squat["verdict"] == "good" and squat["view"] == "side", squat
    assert all(squat["checks"].values()), squat
    oblique = framing_check(_frames(SINGLE_PERSON, 0.5, 1.0), "squat", settings, [0.0, 0.5])
    assert oblique["verdict"] == "turn_sideways" and oblique["view"] == "oblique", oblique
    assert oblique["checks"]["view_suitable"] is False
    assert "side-on" in oblique["message"]["en"]
    # A side plank is judged from the front: a side view of a walker is the wrong one.
    walk = framing_check(_frames(WALK, 3.0), "side_plank", settings)
    assert walk["verdict"] == "film_front_or_rear", walk
    top = np.ascontiguousarray(_frames(SQUAT, 3.0)[0][:540])
    cut = framing_check([top], "squat", settings)
    assert cut["verdict"] == "step_back" and cut["checks"]["whole_body_visible"] is False, cut
    assert "Step back" in cut["message"]["en"]
    # The same lifter twice as far away: the frame shrunk to half, on the bottom edge (at a
    # third the 608 px portrait frame leaves too few pixels for the detector: no_person).
    full = _frames(SQUAT, 3.0)[0]
    small = cv2.resize(full, None, fx=0.5, fy=0.5)
    far = np.full_like(full, 128)
    far[-small.shape[0] :, : small.shape[1]] = small
    distant = framing_check([far, far], "squat", settings, [0.0, 0.5])
    assert distant["frames_with_person"] == 2, distant
    assert distant["verdict"] == "move_closer", distant
    assert distant["checks"]["subject_large_enough"] is False, distant
    assert distant["subject_share"] is not None and distant["subject_share"] < 0.3, distant
    empty = framing_check([np.full((540, 304, 3), 128, np.uint8)], "squat", settings)
    assert empty["verdict"] == "no_person" and empty["frames_with_person"] == 0


def test_endpoint(live_app: tuple[object, Settings]) -> None:
    from tests.support.apputil import ADMIN

    client = live_app[0]
    image = cv2.cvtColor(_frames(SQUAT, 3.0)[0], cv2.COLOR_RGB2BGR)
    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    r = client.post(  # type: ignore[attr-defined]
        "/api/framing-check",
        headers=ADMIN,
        data={"movement": "squat", "language": "ja"},
        files=[("frame", ("f.jpg", jpeg, "image/jpeg"))],
    )
    assert r.status_code == 200, r.text
    assert r.json()["verdict"] == "good" and "良好" in r.json()["message"]
    bad = client.post(  # type: ignore[attr-defined]
        "/api/framing-check",
        headers=ADMIN,
        data={"movement": "squat"},
        files=[("frame", ("f.jpg", b"not a picture", "image/jpeg"))],
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
