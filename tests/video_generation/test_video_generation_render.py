"""Drill videos: playable H.264 of the right length, captions in both languages, determinism."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from formcoach.advice_generation.service import get_drill
from formcoach.kit.video_io import is_playable_h264
from formcoach.video_generation.captions import font, font_path, wrap
from formcoach.video_generation.render import prepare_clip, render_drill_video
from formcoach.video_generation.yuv_frames import YuvFrames, to_i420


def _frame_count(path: Path) -> tuple[int, int, int, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return (
            frames,
            stream.codec_context.width,
            stream.codec_context.height,
            float(stream.average_rate or 0),
        )


@pytest.mark.parametrize("size", ["1280x720", "720x1280"])
@pytest.mark.parametrize("language", ["ja", "en"])
def test_plank_video_is_playable_h264_of_the_right_length(
    tmp_path: Path, size: str, language: str
) -> None:
    out = tmp_path / "plank.mp4"
    result = render_drill_video(get_drill("plank"), language, size, "4", out)
    assert is_playable_h264(out)
    frames, width, height, fps = _frame_count(out)
    assert frames == result.frames == 30 * 4
    assert f"{width}x{height}" == size
    assert fps == pytest.approx(30.0)
    with Image.open(result.thumbnail) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (width, height)


def test_same_request_gives_identical_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    drill = get_drill("glute_bridge")
    render_drill_video(drill, "ja", "1280x720", "4", first)
    render_drill_video(drill, "ja", "1280x720", "4", second)
    assert first.read_bytes() == second.read_bytes()
    assert first.with_suffix(".jpg").read_bytes() == second.with_suffix(".jpg").read_bytes()


def test_longer_video_has_thirty_frames_a_second(tmp_path: Path) -> None:
    out = tmp_path / "strides.mp4"
    render_drill_video(get_drill("strides"), "en", "720x1280", "8", out)
    assert _frame_count(out)[0] == 240


def test_japanese_captions_are_drawn() -> None:
    drill = get_drill("plank")
    ja = prepare_clip(drill, "ja", "1280x720", "4")
    en = prepare_clip(drill, "en", "1280x720", "4")
    box = ja.background[32:200, 32:700].astype(int)
    assert np.abs(box - en.background[32:200, 32:700].astype(int)).sum() > 100_000
    # The glyphs are real Japanese glyphs, not the font's "missing character" box.
    face = font(40)
    missing = np.asarray(face.getmask("\ue000"))
    for char in "プランク肋骨":
        assert not np.array_equal(np.asarray(face.getmask(char)), missing), char
    # White title text is present inside the dark caption panel.
    assert (box.min(axis=2) > 230).sum() > 500


def test_hold_timer_counts_seconds_and_reps_counter_counts_reps() -> None:
    hold = prepare_clip(get_drill("plank"), "ja", "1280x720", "4")
    # Half a second of title card, three seconds of demonstration, half a second of end card.
    assert (hold.demo_start, hold.demo_end, len(hold.texts)) == (15, 105, 120)
    assert hold.texts[hold.demo_start] == "キープ 0:00"
    assert hold.texts[hold.demo_end - 1] == "キープ 0:02"
    reps = prepare_clip(get_drill("glute_bridge"), "en", "1280x720", "12")
    assert reps.texts[reps.demo_start] == "Reps 0" and reps.texts[reps.demo_end - 1] == "Reps 2"


def test_title_card_cues_in_turn_and_end_card() -> None:
    drill = get_drill("glute_bridge")
    clip = prepare_clip(drill, "en", "1280x720", "8")
    # Every cue of the drill gets its turn, in order, each up for at least 1.5 s.
    shown = [clip.cue_of[i] for i in range(clip.demo_start, clip.demo_end)]
    assert shown == sorted(shown) and set(shown) == set(range(len(drill.cues.en)))
    assert min(shown.count(c) for c in set(shown)) >= 45
    first, second = clip.backgrounds[0].astype(int), clip.backgrounds[1].astype(int)
    assert np.abs(first[32:140] - second[32:140]).sum() > 50_000  # the cue line changed
    title, demo, end = clip.draw(0), clip.draw(60), clip.draw(clip.demo_end)
    # The cards dim the scene behind a large centred text; the demonstration is bright.
    assert title.mean() < demo.mean() - 40 and end.mean() < demo.mean() - 40
    assert not np.array_equal(title, end)
    middle = title[250:470, 200:1080]
    assert (middle.min(axis=2) > 230).sum() > 2_000  # the big white title


def test_wrapping_breaks_words_in_english_and_characters_in_japanese() -> None:
    face = font(30)
    lines = wrap("Ribs down, squeeze your glutes and keep breathing", face, 300)
    assert len(lines) > 1 and all(not line.startswith(" ") for line in lines)
    assert all(face.getlength(line) <= 300 for line in lines)
    ja = wrap("頭からかかとまで一直線に、肋骨を締めてお尻に軽く力を入れる。", face, 300)
    assert len(ja) > 1 and not any(line.startswith(("、", "。")) for line in ja)


def test_font_is_found_without_importing_matplotlib() -> None:
    assert font_path().name == "ipaexg.ttf"
    code = (
        "import sys; from formcoach.video_generation.captions import font_path; font_path(); "
        "assert 'matplotlib' not in sys.modules and 'japanize_matplotlib' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_library_drill_renders_in_both_orientations() -> None:
    from formcoach.advice_generation.service import list_drills

    for drill in list_drills():
        for size in ("1280x720", "720x1280"):
            clip = prepare_clip(drill, "en", size, "4")
            frame = clip.draw(60)
            width, height = (int(v) for v in size.split("x"))
            assert frame.shape == (height, width, 3)
            # The figure stays inside the frame, clear of the caption panel.
            for fig in clip.figures[::10]:
                px = clip.camera.to_px(np.array([fig.bounds()[:2], fig.bounds()[2:]]))
                assert px[:, 0].min() >= 0 and px[:, 0].max() <= width, drill.id
                assert px[:, 1].min() >= 0 and px[:, 1].max() <= height, drill.id


@pytest.mark.parametrize("drill_id", ["plank", "step_down", "strides", "clamshell"])
@pytest.mark.parametrize("size", ["1280x720", "720x1280"])
def test_partial_redraw_gives_the_full_frame_bytes(drill_id: str, size: str) -> None:
    clip = prepare_clip(get_drill(drill_id), "ja", size, "4")
    frames = YuvFrames(clip)
    for i in (0, clip.demo_start, 40, 77, clip.demo_end - 1, clip.demo_end):
        assert np.array_equal(frames.frame(i), to_i420(clip.draw(i))), (drill_id, i)
