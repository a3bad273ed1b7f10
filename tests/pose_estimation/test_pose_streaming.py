"""What keeps pose estimation fast and small: seeking into a clip, the resting search graph,
looking back for late-found people, background decoding and encoding (speed is in bench/)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from formcoach.kit.settings import Settings
from formcoach.kit.video_io import (
    H264Writer,
    first_frame_time,
    iter_frames,
    iter_frames_from,
    prefetch,
)
from formcoach.pose_estimation.backfill import Buffer, Recent, overlap
from formcoach.pose_estimation.detect import (
    FrameDetections,
    GraphChain,
    detect_video,
    iter_detections,
    new_graph,
)
from formcoach.pose_estimation.service import select_subject
from formcoach.video_processing.service import make_proxy, probe
from tests.support.pose import SINGLE_PERSON, TWO_PEOPLE, make_test_settings


@pytest.mark.parametrize("clip", [SINGLE_PERSON, TWO_PEOPLE], ids=["h264", "vp9"])
def test_seeking_gives_the_same_frames_and_times_as_a_full_pass(clip: Path) -> None:
    full = list(iter_frames(clip))
    origin = first_frame_time(clip)
    assert origin is not None
    start = full[len(full) * 2 // 3].time_s
    tail = list(iter_frames_from(clip, start, origin))
    expected = [f for f in full if f.time_s >= start - 1e-6]
    assert [t for t, _ in tail] == pytest.approx([f.time_s for f in expected], abs=1e-9)
    for (_, image), frame in zip(tail, expected, strict=True):
        assert np.array_equal(image, frame.image)


class _Counting:
    """A pose graph that counts the frames it is given."""

    def __init__(self, settings: Settings) -> None:
        self.graph = new_graph(settings)
        self.calls = 0

    def process(self, image: Any) -> Any:
        self.calls += 1
        return self.graph.process(image)

    def close(self) -> None:
        self.graph.close()


def test_search_graph_rests_while_nobody_else_is_in_view() -> None:
    settings = make_test_settings()
    graphs = [_Counting(settings), _Counting(settings)]
    chain = GraphChain(
        graphs,  # type: ignore[arg-type]
        settings.pose_min_person_quality,
        search_every_s=0.2,
        search_grace_s=0.5,
    )
    frames = list(iter_frames(SINGLE_PERSON))  # 100 frames at 60 fps, one person
    try:
        found = [len(chain.detect(f.image, f.time_s)) for f in frames]
    finally:
        for graph in graphs:
            graph.close()
    assert found == [1] * len(frames)
    assert graphs[0].calls == len(frames)
    # Every frame for the first 0.5 s (31 frames), then at most once per 0.2 s for the other
    # ~1.17 s (only when the scene outside the subject changes, see test_pose_search.py).
    assert 31 <= graphs[1].calls <= 31 + 7


def test_buffer_keeps_a_short_window_in_order() -> None:
    image = np.zeros((2, 2, 3), np.uint8)
    buffer = Buffer(window_s=0.1, max_frames=4)
    out: list[int] = []
    for i in range(30):
        out += [f.index for f in buffer.push(Recent(i, i / 30, image))]
        assert len(buffer.frames) <= 4
        assert buffer.frames[-1].time_s - buffer.frames[0].time_s <= 0.1
    out += [f.index for f in buffer.flush()]
    assert out == list(range(30))


def test_overlap_of_boxes() -> None:
    assert overlap((0, 0, 10, 10), (0, 0, 10, 10)) == pytest.approx(1.0)
    assert overlap((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert overlap((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


def test_background_writer_gives_the_same_bytes(tmp_path: Path) -> None:
    frames = [f for _, f in zip(range(20), iter_frames(SINGLE_PERSON), strict=False)]
    outputs = []
    for background in (False, True):
        path = tmp_path / f"bg-{background}.mp4"
        with H264Writer(path, 270, 480, 60.0, background=background) as writer:
            for frame in frames:
                writer.write(cv2.resize(frame.image, (270, 480)), frame.time_s)
        assert writer.frames == len(frames)
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]


def test_background_writer_reports_encoder_errors(tmp_path: Path) -> None:
    writer = H264Writer(tmp_path / "bad.mp4", 64, 48, 30.0, background=True)
    writer.write_yuv420(np.zeros((10, 10), np.uint8))  # not a 64x48 I420 frame
    with pytest.raises(ValueError):
        for _ in range(10):  # raised by the next call once the thread has failed
            writer.write_yuv420(np.zeros((72, 64), np.uint8))
        writer.close()


def test_prefetch_keeps_order_errors_and_early_stops() -> None:
    assert list(prefetch(iter(range(50)), depth=2)) == list(range(50))

    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("damaged tail")

    got: list[int] = []
    with pytest.raises(ValueError, match="damaged tail"):
        for item in prefetch(failing()):
            got.append(item)
    assert got == [1]
    # Leaving early stops the producer instead of leaving it blocked on a full queue.
    endless = prefetch(itertools.count(), depth=1)
    assert next(endless) == 0
    endless.close()


def test_closing_a_prefetch_of_a_prefetch_stops_both_threads() -> None:
    closed: list[str] = []

    def source() -> Iterator[int]:
        try:
            yield from itertools.count()
        finally:
            closed.append("source")

    outer = prefetch(prefetch(source(), depth=1), depth=1)
    assert [next(outer), next(outer)] == [0, 1]
    outer.close()
    assert closed == ["source"]
    assert not [t for t in threading.enumerate() if t.name == "prefetch"]


def test_first_graph_a_frame_ahead_gives_the_same_detections() -> None:
    """The pipelined chain (first graph in its own thread) against the chain run one graph
    after the other, on the two-people fixture where both graphs follow someone."""
    settings = make_test_settings()
    frames = [(f.index, f.time_s, f.image) for f in itertools.islice(iter_frames(TWO_PEOPLE), 90)]

    def run(pipelined: bool) -> list[FrameDetections]:
        return list(iter_detections(iter(frames), settings, pipelined=pipelined))

    ahead, in_turn = run(True), run(False)
    assert [d.index for d in ahead] == list(range(90))
    assert sum(len(d.people) for d in ahead) >= 130  # both people in most frames
    for a, b in zip(ahead, in_turn, strict=True):
        assert len(a.people) == len(b.people)
        for pa, pb in zip(a.people, b.people, strict=True):
            np.testing.assert_allclose(pa.keypoints, pb.keypoints, atol=1e-3)
    assert not [t for t in threading.enumerate() if t.name == "prefetch"]


def test_two_people_through_the_proxy_keep_two_tracks(tmp_path: Path) -> None:
    """The pipeline detects on the proxy, not the upload: scaling must not break tracking
    (a proxy scaled plane by plane once split the man's track)."""
    settings = make_test_settings()
    proxy = tmp_path / "proxy.mp4"
    make_proxy(TWO_PEOPLE, proxy, probe(TWO_PEOPLE, settings), 1280, lambda _f: None)
    found, width, height = detect_video(proxy, settings)
    pose = select_subject(found, width, height, settings)
    assert [t.id for t in pose.tracks] == [1, 2]
    man, woman = pose.tracks
    assert man.start_s < 0.2 and woman.start_s < 1.5
    # The choice rule: the highest performer score. Size x time seen (the old "prominence")
    # was close here and tipped either way with MediaPipe's numeric differences between CPUs;
    # with motion and travel the woman who walks across leads clearly (0.24 against 0.17).
    assert pose.subject == max(pose.tracks, key=lambda t: t.prominence).id
    assert pose.subject == woman.id
    for chosen in (None, 1, 2):
        picked = select_subject(found, width, height, settings, subject=chosen)
        # Of 230 frames: the woman is half out of view at the edge for her first second,
        # where the person detector misses her on most frames (~30 frames).
        assert picked.frames_with_subject >= 165
        hips = np.nanmean(picked.keypoints[:, [23, 24], :2], axis=1)
        seen = np.flatnonzero(picked.detected)
        steps = np.linalg.norm(np.diff(hips[seen], axis=0), axis=1) / np.diff(seen)
        # A third of a body size (~210 px) per frame at most: the man's flip moves his hips up
        # to ~47 px a frame; the people stand 100-500 px apart except where they cross.
        assert float(np.nanmax(steps)) < 70.0, (chosen, float(np.nanmax(steps)))
