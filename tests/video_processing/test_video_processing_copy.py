"""The browser proxy as a packet copy of an upload browsers already play, and the annotated
video of such a (1080p) proxy."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from formcoach.kit.errors import AppError
from formcoach.kit.pipeline import PROXY, UPLOAD, VIDEO_INFO
from formcoach.kit.settings import Settings
from formcoach.kit.video_io import is_playable_h264, iter_frames
from formcoach.video_processing import jobs
from formcoach.video_processing.annotate import LEFT, RIGHT, annotate
from formcoach.video_processing.service import can_copy, make_proxy, probe
from tests.support.media import top_atoms
from tests.video_processing.test_video_processing import fake_pose, frame_count, stage, write_clip


def _packets(path: Path) -> list[tuple[bytes, int | None]]:
    with av.open(str(path)) as container:
        return [(bytes(p), p.pts) for p in container.demux(video=0) if p.size]


def test_playable_upload_is_copied_frame_for_frame(
    fixture_videos: dict[str, Path], tmp_path: Path, settings: Settings
) -> None:
    src = fixture_videos["single_person"]  # H.264 yuv420p 1080x1920 in MP4
    info = probe(src, settings)
    seen: list[float] = []
    dst = tmp_path / "proxy.mp4"
    proxy = make_proxy(src, dst, info, 1280, seen.append, copy_max_side=1920)

    assert (proxy.width, proxy.height, proxy.frames) == (1080, 1920, 100)
    assert proxy.fps == pytest.approx(60.0)
    assert is_playable_h264(dst) and seen[-1] == 1.0
    atoms = top_atoms(dst)
    assert atoms.index(b"moov") < atoms.index(b"mdat"), atoms
    with av.open(str(dst)) as container:
        assert [s.type for s in container.streams] == ["video"]
    # Not re-encoded: the same packets, hence the same pixels at the same times.
    assert _packets(dst) == _packets(src)
    for a, b in zip(iter_frames(src), iter_frames(dst), strict=True):
        assert a.time_s == b.time_s
        assert np.array_equal(a.image, b.image)


def test_only_what_browsers_play_upright_is_copied(
    fixture_videos: dict[str, Path], tmp_path: Path, settings: Settings
) -> None:
    single = fixture_videos["single_person"]
    assert can_copy(single, probe(single, settings), 1920)
    assert not can_copy(single, probe(single, settings), 1280)  # larger than the bound
    assert not can_copy(single, probe(single, settings), 0)  # copying turned off
    two = fixture_videos["two_people"]  # VP9
    assert not can_copy(two, probe(two, settings), 1920)
    rotated = write_clip(tmp_path / "rotated.mp4", rotation=90)
    assert not can_copy(rotated, probe(rotated, settings), 1920)
    mkv = write_clip(tmp_path / "clip.mkv", fmt="matroska")
    assert not can_copy(mkv, probe(mkv, settings), 1920)
    # Not copied means re-encoded upright, as before.
    dst = tmp_path / "proxy.mp4"
    proxy = make_proxy(rotated, dst, probe(rotated, settings), 1280, print, copy_max_side=1920)
    assert (proxy.width, proxy.height) == (48, 64)
    with av.open(str(dst)) as container:
        assert next(container.decode(video=0)).rotation == 0


def test_copy_stops_when_real_timestamps_pass_the_limit(tmp_path: Path, settings: Settings) -> None:
    src = write_clip(tmp_path / "clip.mp4", frames=60)
    info = probe(src, settings)
    assert can_copy(src, info, 1920)
    with pytest.raises(AppError) as caught:
        make_proxy(src, tmp_path / "p.mp4", info, 1280, lambda _f: None, 1.0, copy_max_side=1920)
    assert caught.value.code == "video_too_long"


def test_probe_stage_copies_by_default(tmp_path: Path, settings: Settings) -> None:
    assert settings.proxy_copy_max_side >= 1920
    ctx, seen = stage(settings)
    upload = write_clip(tmp_path / "c.mp4", size=(96, 64))
    ctx.storage.put_file(ctx.key(UPLOAD), upload)
    jobs.run_probe(ctx)
    proxy = ctx.storage.local_path(ctx.key(PROXY))
    assert _packets(proxy) == _packets(upload)
    info = ctx.read_json(VIDEO_INFO)["proxy"]
    assert (info["width"], info["height"], info["frames"]) == (96, 64, 45)
    assert seen[-1] == 1.0


def test_annotating_a_1080p_proxy_writes_at_most_1280(
    fixture_videos: dict[str, Path], tmp_path: Path, settings: Settings
) -> None:
    src = fixture_videos["single_person"]
    proxy_path = tmp_path / "proxy.mp4"
    proxy = make_proxy(src, proxy_path, probe(src, settings), 1280, print, copy_max_side=1920)
    assert (proxy.width, proxy.height) == (1080, 1920)
    # Poses in the proxy's own (1080x1920) pixels.
    pose = fake_pose(proxy.frames, proxy.width, proxy.height)
    np.savez(tmp_path / "pose.npz", **pose["npz"])
    dst = tmp_path / "annotated.mp4"
    seen: list[float] = []
    annotate(proxy_path, tmp_path / "pose.npz", pose["features"], dst, seen.append)

    assert is_playable_h264(dst) and seen[-1] == 1.0
    assert frame_count(dst) == proxy.frames
    out = list(iter_frames(dst))
    assert [f.time_s for f in out] == [f.time_s for f in iter_frames(proxy_path)]
    assert out[0].image.shape == (1280, 720, 3)
    # The knees are drawn where the proxy's pixels map to in the smaller picture.
    scale = 720 / 1080
    for joint, colour in ((25, LEFT), (26, RIGHT)):
        x, y = np.rint(pose["npz"]["keypoints"][1, joint, :2] * scale).astype(int)
        patch = out[1].image[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).astype(float)
        assert np.linalg.norm(patch.mean(axis=0) - colour) < 60
