"""video_processing: probe/validation, the browser proxy, the annotated video and both stages."""

from __future__ import annotations

import json
import struct
from fractions import Fraction
from itertools import islice
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from formcoach.kit.errors import AppError
from formcoach.kit.pipeline import (
    ANNOTATED,
    CLIP_SCAN,
    FEATURES,
    POSE,
    PROXY,
    UPLOAD,
    VIDEO_INFO,
    RunOptions,
    StageContext,
)
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage
from formcoach.kit.video_io import is_playable_h264
from formcoach.video_processing import jobs
from formcoach.video_processing.annotate import LEFT, RIGHT, Legend, _font
from formcoach.video_processing.clip_scan import ClipScan
from formcoach.video_processing.schemas import ProxyInfo, SourceInfo
from formcoach.video_processing.service import annotate, make_proxy, probe, proxy_size
from tests.support.media import top_atoms


def write_clip(
    path: Path,
    *,
    size: tuple[int, int] = (64, 48),
    frames: int = 45,
    rate: Fraction | int = 30,
    rotation: int | None = None,
    fmt: str = "mp4",
    options: dict[str, str] | None = None,
) -> Path:
    """A small H.264 clip whose left eighth is white, so rotations can be seen in the output."""
    width, height = size
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 8] = 255
    with av.open(str(path), "w", format=fmt, options=options or {}) as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        out.start_encoding()
        for _ in range(frames):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode())
    return path


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.demux(container.streams.video[0]) if _.size)


def first_frame(path: Path) -> np.ndarray[Any, Any]:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def rejection(path: Path, settings: Settings) -> AppError:
    with pytest.raises(AppError) as caught:
        probe(path, settings)
    return caught.value


# --- fixture clips: probe and proxy ---------------------------------------------------------


@pytest.fixture(scope="module")
def proxies(
    fixture_videos: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[SourceInfo, ProxyInfo, Path, list[float]]]:
    """Each fixture clip probed and proxied once: encoding is the slow part of these tests."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"))
    out: dict[str, tuple[SourceInfo, ProxyInfo, Path, list[float]]] = {}
    for name, src in fixture_videos.items():
        info = probe(src, settings)
        dst = tmp_path_factory.mktemp("proxy") / f"{name}.mp4"
        seen: list[float] = []
        out[name] = (info, make_proxy(src, dst, info, 1280, seen.append), dst, seen)
    return out


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("single_person", (1080, 1920, 60.0, 100, "h264")),
        ("two_people", (1768, 994, 30.0, 230, "vp9")),
    ],
)
def test_probe_fixture_clips(
    name: str, expected: tuple[Any, ...], fixture_videos: dict[str, Path], settings: Settings
) -> None:
    info = probe(fixture_videos[name], settings)
    assert (info.width, info.height, info.fps, info.frames, info.codec) == expected
    assert info.rotation == 0
    assert info.duration_s == pytest.approx(info.frames / info.fps, abs=0.05)
    assert info.size_bytes == fixture_videos[name].stat().st_size
    assert "mp4" in info.format


@pytest.mark.parametrize(
    ("name", "size"), [("single_person", (720, 1280)), ("two_people", (1280, 720))]
)
def test_proxy_fixture_clips(
    name: str, size: tuple[int, int], proxies: dict[str, tuple[SourceInfo, ProxyInfo, Path, Any]]
) -> None:
    source, proxy, path, seen = proxies[name]
    assert (proxy.width, proxy.height) == size
    assert proxy.frames == source.frames == frame_count(path)
    assert proxy.fps == pytest.approx(source.fps)
    assert is_playable_h264(path)
    atoms = top_atoms(path)
    assert atoms.index(b"moov") < atoms.index(b"mdat"), atoms
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == size
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 3


def test_proxy_size_keeps_aspect_and_even_sizes() -> None:
    assert proxy_size(1080, 1920, 1280) == (720, 1280)
    assert proxy_size(1768, 994, 1280) == (1280, 720)
    assert proxy_size(640, 360, 1280) == (640, 360)
    assert proxy_size(3840, 2160, 1280) == (1280, 720)
    assert all(v % 2 == 0 for v in proxy_size(1001, 333, 500))


# --- rotation metadata ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rotation", "band"),
    # The white band starts on the left; a counter-clockwise quarter turn puts it at the bottom.
    [(90, "bottom"), (180, "right"), (270, "top")],
)
def test_rotation_is_read_and_applied(
    rotation: int, band: str, tmp_path: Path, settings: Settings
) -> None:
    src = write_clip(tmp_path / "rotated.mp4", size=(64, 32), rotation=rotation)
    with av.open(str(src)) as container:  # the metadata really is in the file
        assert next(container.decode(video=0)).rotation % 360 == rotation

    info = probe(src, settings)
    assert info.rotation == rotation
    assert (info.width, info.height) == ((32, 64) if rotation in (90, 270) else (64, 32))

    dst = tmp_path / "proxy.mp4"
    proxy = make_proxy(src, dst, info, 1280, lambda _f: None)
    assert (proxy.width, proxy.height) == (info.width, info.height)
    image = first_frame(dst).mean(axis=2)
    edges = {
        "top": image[:3].mean(),
        "bottom": image[-3:].mean(),
        "left": image[:, :3].mean(),
        "right": image[:, -3:].mean(),
    }
    assert max(edges, key=lambda k: edges[k]) == band, edges
    with av.open(str(dst)) as container:  # the proxy is upright: no rotation left to apply
        assert next(container.decode(video=0)).rotation == 0


# --- rejections -----------------------------------------------------------------------------


def test_empty_file(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    assert rejection(path, settings).code == "empty_file"


def _text(path: Path) -> None:
    path.write_text("this is a shopping list, not a video\n" * 50)


def _image(ext: str) -> Any:
    def make(path: Path) -> None:
        _ok, data = cv2.imencode(ext, np.full((120, 160, 3), 200, np.uint8))
        path.write_bytes(data.tobytes())

    return make


def _audio_only(path: Path) -> None:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100)
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 44100, i * 1024
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def _zero_frames(path: Path) -> None:
    write_clip(path, frames=0)


def _one_frame(path: Path) -> None:
    write_clip(path, frames=1)


def _garbage_samples(path: Path) -> None:
    """A well-formed MP4 index over sample data that is all zeros."""
    write_clip(path, frames=30)
    data = bytearray(path.read_bytes())
    pos = 0
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"mdat":
            data[pos + 8 : pos + size] = bytes(size - 8)
        pos += size
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("make", "detail"),
    [
        (_text, "unreadable"),
        (_image(".png"), "unsupported"),
        (_image(".jpg"), "unsupported"),
        (_zero_frames, "no video"),
        (_one_frame, "still image"),
        (_garbage_samples, "cannot be decoded"),
    ],
)
def test_not_a_video(make: Any, detail: str, tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "upload.mp4"
    make(path)
    error = rejection(path, settings)
    assert error.code == "not_a_video"
    assert detail in error.params["detail"]
    assert error.status == 415 and detail in error.message("en")


def test_audio_only(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "upload.mp4"
    _audio_only(path)
    error = rejection(path, settings)
    assert error.code == "audio_only" and error.status == 415


@pytest.mark.parametrize("name", ["single_person", "two_people"])
def test_truncated_upload(
    name: str, fixture_videos: dict[str, Path], tmp_path: Path, settings: Settings
) -> None:
    # single_person keeps its index (moov) at the end, two_people at the start: both must fail.
    data = fixture_videos[name].read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    assert rejection(path, settings).code == "not_a_video"


def test_too_short(tmp_path: Path, settings: Settings) -> None:
    error = rejection(write_clip(tmp_path / "short.mp4", frames=15), settings)
    assert error.code == "video_too_short"
    assert error.params["duration"] == pytest.approx(0.5, abs=0.05)
    assert error.params["limit"] == settings.min_video_seconds
    assert "0.50" in error.message("ja")


def test_too_long_from_header(tmp_path: Path, settings: Settings) -> None:
    # Four 16x16 frames an hour apart: a 4-hour video in a few hundred bytes.
    path = write_clip(tmp_path / "long.mp4", size=(16, 16), frames=4, rate=Fraction(1, 3600))
    error = rejection(path, settings)
    assert error.code == "video_too_long"
    assert error.params["duration"] == pytest.approx(4 * 3600)
    assert error.params["limit"] == settings.max_video_seconds


def test_too_long_without_header_duration(tmp_path: Path, settings: Settings) -> None:
    # A live-recorded WebM/Matroska (as browsers record) has no duration: the packets tell.
    path = write_clip(
        tmp_path / "live.mkv",
        size=(16, 16),
        frames=4,
        rate=Fraction(1, 3600),
        fmt="matroska",
        options={"live": "1"},
    )
    with av.open(str(path)) as container:
        assert container.duration is None and container.streams.video[0].duration is None
    assert rejection(path, settings).code == "video_too_long"


def test_headerless_duration_is_measured(tmp_path: Path, settings: Settings) -> None:
    path = write_clip(tmp_path / "live.mkv", frames=60, fmt="matroska", options={"live": "1"})
    info = probe(path, settings)
    assert info.duration_s == pytest.approx(2.0, abs=0.05)
    assert info.frames == 60


def test_proxy_stops_when_real_timestamps_pass_the_limit(
    tmp_path: Path, settings: Settings
) -> None:
    src = write_clip(tmp_path / "clip.mp4", frames=60)
    info = probe(src, settings)
    with pytest.raises(AppError) as caught:
        make_proxy(src, tmp_path / "proxy.mp4", info, 1280, lambda _f: None, max_duration_s=1.0)
    assert caught.value.code == "video_too_long"


# --- annotation -----------------------------------------------------------------------------


def fake_pose(frames: int, width: int, height: int) -> dict[str, Any]:
    """A standing figure in the middle of the frame; every fifth frame has nobody."""
    keypoints = np.full((frames, 33, 4), np.nan, np.float32)
    rng = np.random.default_rng(0)
    base = np.stack(
        [width / 2 + rng.uniform(-60, 60, 33), np.linspace(0.15, 0.9, 33) * height], axis=1
    )
    detected = np.arange(frames) % 5 != 0
    keypoints[detected, :, :2] = base
    keypoints[detected, :, 2] = 0.0
    keypoints[detected, :, 3] = 0.9
    keypoints[detected, 0, 3] = 0.1  # a nose below the visibility threshold is not drawn
    times = np.arange(frames) / 60.0
    knee = [None if i % 7 == 0 else 30.0 + i % 20 for i in range(frames)]
    series = {
        "left_knee_flexion_deg": knee,
        "right_knee_flexion_deg": [None if v is None else v / 2 for v in knee],
        "left_hip_flexion_deg": [15.0] * frames,
        "right_hip_flexion_deg": [None] * frames,
    }
    features = {"schema": "formcoach.features/1", "fps": 60.0, "times": times.tolist()}
    return {
        "npz": {"times": times, "keypoints": keypoints, "detected": detected},
        "features": {**features, "facing": "right", "series": series, "summary": {}},
    }


def test_annotate_fixture_proxy(
    proxies: dict[str, tuple[SourceInfo, ProxyInfo, Path, Any]], tmp_path: Path
) -> None:
    _, proxy, proxy_path, _ = proxies["single_person"]
    pose = fake_pose(proxy.frames, proxy.width, proxy.height)
    np.savez(tmp_path / "pose.npz", **pose["npz"])
    dst = tmp_path / "annotated.mp4"
    seen: list[float] = []
    annotate(proxy_path, tmp_path / "pose.npz", pose["features"], dst, seen.append)

    assert is_playable_h264(dst)
    assert frame_count(dst) == proxy.frames
    assert seen[-1] == 1.0
    with av.open(str(dst)) as out, av.open(str(proxy_path)) as src:
        assert (out.streams.video[0].width, out.streams.video[0].height) == (720, 1280)
        pairs = [
            (a.to_ndarray(format="rgb24").astype(float), b.to_ndarray(format="rgb24").astype(float))
            for a, b in islice(zip(out.decode(video=0), src.decode(video=0), strict=False), 2)
        ]

    def patch(image: np.ndarray[Any, Any], joint: int) -> np.ndarray[Any, Any]:
        x, y = np.rint(pose["npz"]["keypoints"][1, joint, :2]).astype(int)
        return np.asarray(image[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(axis=0))

    (empty, empty_src), (drawn, drawn_src) = pairs
    for joint, colour in ((25, LEFT), (26, RIGHT)):  # the knees, in their side's colour
        assert np.linalg.norm(patch(drawn, joint) - colour) < 60
        assert np.linalg.norm(patch(drawn_src, joint) - colour) > 60
        # Frame 0 has nobody: nothing is drawn there beyond re-encoding noise.
        assert np.abs(patch(empty, joint) - patch(empty_src, joint)).max() < 12
    # A joint below the visibility threshold (the nose) is left out.
    assert np.linalg.norm(patch(drawn, 0) - patch(drawn_src, 0)) < 20


def test_legend_is_in_the_runs_language_only() -> None:
    font, japanese = _font(18)
    assert japanese, "IPAex Gothic from japanize-matplotlib should be found"
    ja = Legend(font, 18, japanese, origin=(8, 8), language="ja")
    assert ja.header == ("左", "右") and ja.notes == ("屈曲角（0° = まっすぐ）",)
    assert not any(
        c.isascii() and c.isalpha() for n in ja.notes + tuple(r for r, _ in ja.rows) for c in n
    )
    en = Legend(font, 18, japanese, origin=(8, 8), language="en")
    assert en.header == ("L", "R") and en.notes == ("Flexion angle (0° = straight)",)
    assert LEFT != RIGHT


# --- the pipeline stages --------------------------------------------------------------------


def stage(settings: Settings, run_id: int = 7) -> tuple[StageContext, list[float]]:
    seen: list[float] = []
    storage = LocalStorage(settings.files_dir)
    return StageContext(run_id, RunOptions(), storage, settings, seen.append), seen


def test_stages_probe_then_annotate(tmp_path: Path, settings: Settings) -> None:
    ctx, seen = stage(settings.model_copy(update={"clip_scan": True}))
    ctx.storage.put_file(
        ctx.key(UPLOAD), write_clip(tmp_path / "c.mp4", size=(96, 64), rotation=90)
    )

    jobs.run_probe(ctx)
    info = ctx.read_json(VIDEO_INFO)
    assert set(info["source"]) == {
        "width", "height", "fps", "frames", "duration_s", "codec", "rotation", "format",
        "size_bytes", "capture_fps",
    }  # fmt: skip
    assert info["source"]["capture_fps"] is None  # no slow-motion tag in this clip
    assert set(info["proxy"]) == {"width", "height", "fps", "frames", "duration_s"}
    assert (info["source"]["width"], info["source"]["height"], info["source"]["rotation"]) == (
        64,
        96,
        90,
    )
    assert info["proxy"]["frames"] == 45
    assert is_playable_h264(ctx.storage.local_path(ctx.key(PROXY)))
    assert seen == sorted(seen) and seen[0] == 0.0 and seen[-1] == 1.0

    # Idempotent: a second run overwrites with the same result and leaves no temp files.
    jobs.run_probe(ctx)
    assert ctx.read_json(VIDEO_INFO) == info
    assert ctx.storage.list("runs/7") == [
        f"runs/7/{n}" for n in (CLIP_SCAN, PROXY, UPLOAD, VIDEO_INFO)
    ]
    # The clip-quality scan covers every proxy frame.
    assert ClipScan.load(ctx.storage.local_path(ctx.key(CLIP_SCAN))).times.size == 45

    pose = fake_pose(45, 64, 96)
    with ctx.storage.writer(ctx.key(POSE), suffix=".npz") as tmp:
        np.savez(tmp, **pose["npz"])
    ctx.storage.put_bytes(ctx.key(FEATURES), json.dumps(pose["features"]).encode())
    for _ in range(2):
        seen.clear()
        jobs.run_annotate(ctx)
        annotated = ctx.storage.local_path(ctx.key(ANNOTATED))
        assert is_playable_h264(annotated) and frame_count(annotated) == 45
        assert seen[-1] == 1.0


def test_stage_probe_rejects_and_writes_nothing(settings: Settings) -> None:
    ctx, _ = stage(settings)
    ctx.storage.put_bytes(ctx.key(UPLOAD), b"GIF89a not really")
    with pytest.raises(AppError) as caught:
        jobs.run_probe(ctx)
    assert caught.value.code == "not_a_video"
    assert ctx.storage.list("runs/7") == [ctx.key(UPLOAD)]
