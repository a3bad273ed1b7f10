"""Probe and validate an uploaded video, and turn it into the browser proxy.

Everything here streams: a file is never held whole in memory, and rejecting a file never
decodes more than its first two frames.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from av.container import InputContainer
from av.video.stream import VideoStream

from formcoach.kit.diskspace import is_disk_full
from formcoach.kit.errors import AppError
from formcoach.kit.settings import Settings
from formcoach.kit.video_io import RGB, H264Writer, fit_size, iter_frames, prefetch
from formcoach.video_processing.annotate import annotate
from formcoach.video_processing.schemas import ProxyInfo, SourceInfo

__all__ = ["ACCEPTED_FORMATS", "annotate", "can_copy", "make_proxy", "probe", "proxy_size"]

log = logging.getLogger(__name__)

# FFmpeg demuxers that phones, cameras and browsers record into. Uploads are untrusted: the
# other demuxers (playlists, concat lists, image sequences...) can pull in other files or
# exercise rarely used parsers, and none of them is a camera recording.
ACCEPTED_FORMATS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,mpeg"
_OPEN_OPTIONS = {"format_whitelist": ACCEPTED_FORMATS, "protocol_whitelist": "file"}
PROGRESS_EVERY = 10


def _reject(detail: str) -> AppError:
    return AppError("not_a_video", detail=detail)


def _open(path: Path) -> InputContainer:
    try:
        return av.open(str(path), options=_OPEN_OPTIONS, metadata_errors="ignore")
    except av.ArgumentError as exc:
        # The whitelist refused the format: an image, audio file, document...
        raise _reject("unsupported file type") from exc
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise _reject("unreadable or incomplete file") from exc


def _video_stream(container: InputContainer) -> VideoStream:
    streams = container.streams.video
    # Cover art in audio files shows up as a one-picture "video" stream.
    if not streams or streams[0].disposition & av.stream.Disposition.attached_pic:
        if container.streams.audio:
            raise AppError("audio_only")
        raise _reject("no video stream")
    stream = streams[0]
    if stream.codec_context is None:
        raise _reject("unsupported video codec")
    return stream


def _is_truncated(container: InputContainer, stream: VideoStream, size: int) -> bool:
    """True when an MP4/MOV index points past the end of the file (an interrupted upload).

    Only mov-family indexes hold absolute sample offsets; other formats stream and simply end.
    """
    if not container.format.name.startswith("mov"):
        return False
    entries = stream.index_entries
    if len(entries) == 0:
        return False
    last = entries[len(entries) - 1]
    return bool(last.pos + last.size > size)


def _frame_rate(stream: VideoStream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return float(rate)
    raise _reject("unknown frame rate")


def _scan_duration(path: Path, limit_s: float) -> tuple[float, int]:
    """Duration and frame count from packet timestamps, for files whose header has no duration.

    Demuxing reads no pixels, and the scan stops once the limit is passed, so an endless
    stream costs no more than the longest accepted video.
    """
    first: float | None = None
    end = 0.0
    count = 0
    with av.open(str(path), options=_OPEN_OPTIONS, metadata_errors="ignore") as container:
        stream = container.streams.video[0]
        try:
            for packet in container.demux(stream):
                ts = packet.pts if packet.pts is not None else packet.dts
                if packet.size == 0 or ts is None or packet.time_base is None:
                    continue
                count += 1
                t = float(ts * packet.time_base)
                first = t if first is None else min(first, t)
                end = max(end, t + float((packet.duration or 0) * packet.time_base))
                if end - first > limit_s:
                    break
        except av.FFmpegError:
            # A damaged tail: what was read so far is the best estimate.
            pass
    return (end - first if first is not None else 0.0), count


def _first_frames(container: InputContainer, stream: VideoStream) -> av.VideoFrame:
    """The first frame, once two frames decoded: proof that this is a (moving) video."""
    frames: list[av.VideoFrame] = []
    try:
        for frame in container.decode(stream):
            frames.append(frame)
            if len(frames) == 2:
                break
    except av.FFmpegError as exc:
        if not frames:
            raise _reject("the video frames cannot be decoded") from exc
    if not frames:
        raise _reject("no decodable frames")
    if len(frames) == 1:
        raise _reject("only one frame: a still image is not a video")
    return frames[0]


def _check_frame_size(width: int, height: int, settings: Settings) -> None:
    if width * height > settings.max_video_pixels:
        raise AppError(
            "frame_too_large",
            width=width,
            height=height,
            limit_mpx=settings.max_video_pixels / 1e6,
        )


def _display_size(
    stream: VideoStream, first: av.VideoFrame, rotation: int, settings: Settings
) -> tuple[int, int]:
    width, height = first.width, first.height
    sar = stream.sample_aspect_ratio
    if sar is not None and sar > 0 and sar != 1:
        # Anamorphic storage: the proxy shows square pixels.
        width = round(width * sar)
    _check_frame_size(width, height, settings)
    return (height, width) if rotation in (90, 270) else (width, height)


def _header_duration(container: InputContainer, stream: VideoStream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def capture_rate(tags: dict[str, str]) -> float | None:
    """The capture frame rate a phone writes for slow motion (com.android.capture.fps; Apple's
    com.apple.quicktime.capture.fps), when a tag gives one."""
    for key, value in tags.items():
        if key.lower().endswith(("capture.fps", "capture_fps")):
            try:
                rate = float(value)
            except ValueError:
                continue
            if rate > 0:
                return rate
    return None


def probe(path: Path, settings: Settings) -> SourceInfo:
    """Validate an uploaded file as a usable video and describe it.

    Raises AppError: empty_file, not_a_video (detail says why), audio_only, frame_too_large,
    frame_rate_invalid, video_too_short, video_too_long, clip_too_sparse.
    """
    size = path.stat().st_size
    if size == 0:
        raise AppError("empty_file")
    with _open(path) as container:
        stream = _video_stream(container)
        if _is_truncated(container, stream, size):
            raise _reject("the file is incomplete (interrupted upload?)")
        # The header's frame size, before a byte is decoded: a hostile header claiming a huge
        # frame would otherwise make the decoder allocate it.
        _check_frame_size(stream.codec_context.width, stream.codec_context.height, settings)
        stream.thread_type = "AUTO"
        first = _first_frames(container, stream)
        # Snap to quarter turns: that is all phones write, and all the proxy can apply.
        rotation = (round(first.rotation / 90) * 90) % 360
        width, height = _display_size(stream, first, rotation, settings)
        fps = _frame_rate(stream)
        if fps > settings.max_video_fps:
            raise AppError("frame_rate_invalid", fps=fps, limit=settings.max_video_fps)
        frames = int(stream.frames or 0)
        header_s = _header_duration(container, stream)
        codec, fmt = stream.codec_context.name, container.format.name
        capture_fps = capture_rate({**container.metadata, **stream.metadata})
    if header_s is None:
        header_s, scanned = _scan_duration(path, settings.max_video_seconds)
        frames = frames or scanned
    # Headers can understate: the frame count at the average rate is a second opinion.
    duration = max(header_s, frames / fps)
    frames = frames or round(duration * fps)
    if duration > settings.max_video_seconds:
        raise AppError("video_too_long", duration=duration, limit=settings.max_video_seconds)
    if duration < settings.min_video_seconds:
        raise AppError("video_too_short", duration=duration, limit=settings.min_video_seconds)
    check_sampling(frames, fps, settings)
    return SourceInfo(
        width=width,
        height=height,
        fps=fps,
        frames=frames,
        duration_s=duration,
        codec=codec,
        rotation=rotation,
        format=fmt,
        size_bytes=size,
        capture_fps=capture_fps,
    )


def check_sampling(frames: int, fps: float, settings: Settings) -> None:
    """Refuse a clip too sparse for any judgement (clip_too_sparse): fewer than
    ``min_video_frames`` frames, or fewer than ``min_video_fps`` frames a second. A 2-frame
    1 fps clip lasts 2 s, long enough for video_too_short, yet every measure would come from
    two samples (a "trunk lean" of two stills): no finding may come from it."""
    if frames < settings.min_video_frames or fps < settings.min_video_fps:
        raise AppError(
            "clip_too_sparse",
            frames=frames,
            fps=fps,
            min_frames=settings.min_video_frames,
            min_fps=settings.min_video_fps,
        )


def proxy_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Fit within max_side keeping the aspect ratio, with the even sizes yuv420p needs."""
    return fit_size(width, height, max_side)


def make_proxy(
    src: Path,
    dst: Path,
    info: SourceInfo,
    max_side: int,
    progress: Callable[[float], None],
    max_duration_s: float | None = None,
    copy_max_side: int = 0,
) -> ProxyInfo:
    """Re-encode src to a browser-playable H.264 proxy, one output frame per decoded frame.

    Decoding (one thread), scaling (this one) and encoding (the writer's) overlap. The frames
    go through RGB on purpose: scaling the YUV planes directly would be ~2x cheaper, but the
    pose detector is sensitive to the small differences, and on the two-people fixture a
    planar-scaled proxy split the subject's track (3-4 tracks instead of 2). So is swscale's
    area filter in the RGB conversion pass (3 tracks): OpenCV's INTER_AREA stays.

    ``max_duration_s`` guards against headers that understate the length: decoding stops with
    video_too_long as soon as the real timestamps pass it.

    An upload the browser already plays (see ``can_copy``) whose sides are within
    ``copy_max_side`` becomes the proxy by a packet copy instead: the same frames and
    timestamps, read but never decoded, in a fraction of the time.
    """
    if can_copy(src, info, copy_max_side):
        return _copy_proxy(src, dst, info, progress, max_duration_s)
    width, height = proxy_size(info.width, info.height, max_side)
    # The writer works in rationals; a 1001-denominator keeps 29.97 exact.
    fps = float(Fraction(info.fps).limit_denominator(1001))
    expected = max(info.frames, 1)
    count = 0
    with H264Writer(dst, width, height, fps, background=True) as writer:
        frames = prefetch(iter_frames(src))
        while True:
            try:
                frame = next(frames, None)
            except av.FFmpegError as exc:
                if is_disk_full(exc):
                    raise
                if count == 0:
                    raise _reject("the video frames cannot be decoded") from exc
                # A damaged tail: keep what decoded, as a video player would.
                log.warning("decoding %s stopped after %d frames: %s", src, count, exc)
                break
            if frame is None:
                break
            elapsed = max(frame.time_s, frame.index / fps)
            if max_duration_s is not None and elapsed > max_duration_s:
                raise AppError("video_too_long", duration=elapsed, limit=max_duration_s)
            # Real timestamps: a variable-frame-rate phone clip keeps its true frame times.
            writer.write(_fit(frame.image, width, height), frame.time_s)
            count += 1
            if count % PROGRESS_EVERY == 0:
                progress(min(count / expected, 0.99))
        if count == 0:
            raise _reject("no decodable frames")
    progress(1.0)
    return ProxyInfo(width=width, height=height, fps=fps, frames=count, duration_s=count / fps)


def _fit(image: RGB, width: int, height: int) -> RGB:
    if image.shape[0] == height and image.shape[1] == width:
        return image
    # INTER_AREA averages the source pixels: no aliasing when shrinking 4K to 720p.
    return np.asarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), np.uint8)


def can_copy(src: Path, info: SourceInfo, max_side: int) -> bool:
    """True when src can be the proxy as it is: H.264 8-bit 4:2:0 in an MP4/MOV, upright
    (no rotation for the player to apply), square pixels, even sides within ``max_side``.
    Every browser plays that, and pose models resize frames to 256 px whatever their size."""
    if max_side <= 0 or not info.format.startswith("mov") or info.codec != "h264":
        return False
    if info.rotation != 0 or max(info.width, info.height) > max_side:
        return False
    with _open(src) as container:
        stream = _video_stream(container)
        ctx = stream.codec_context
        sar = stream.sample_aspect_ratio
        return (
            ctx.pix_fmt == "yuv420p"
            and (sar is None or sar == 0 or sar == 1)
            # The probe's display size is the coded one: no anamorphic or cropped storage.
            and (ctx.width, ctx.height) == (info.width, info.height)
            and info.width % 2 == 0
            and info.height % 2 == 0
        )


def _copy_proxy(
    src: Path,
    dst: Path,
    info: SourceInfo,
    progress: Callable[[float], None],
    max_duration_s: float | None,
) -> ProxyInfo:
    """The video stream of src copied packet by packet into a faststart MP4 (audio dropped,
    like the re-encoded proxy). Packet timestamps are the frames' own, so a header that
    understates the length still stops at ``max_duration_s``."""
    fps = float(Fraction(info.fps).limit_denominator(1001))
    expected = max(info.frames, 1)
    count = 0
    first: float | None = None
    with (
        _open(src) as container,
        av.open(str(dst), mode="w", format="mp4", options={"movflags": "+faststart"}) as out,
    ):
        stream = _video_stream(container)
        copy = out.add_stream_from_template(stream)
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.dts is None:
                    continue  # the demuxer's end-of-stream marker
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is not None and packet.time_base is not None:
                    t = float(ts * packet.time_base)
                    first = t if first is None else min(first, t)
                    elapsed = max(t - first, count / fps)
                    if max_duration_s is not None and elapsed > max_duration_s:
                        raise AppError("video_too_long", duration=elapsed, limit=max_duration_s)
                packet.stream = copy
                out.mux(packet)
                count += 1
                if count % (PROGRESS_EVERY * 10) == 0:
                    progress(min(count / expected, 0.99))
        except av.FFmpegError as exc:
            if is_disk_full(exc):
                raise  # the copy's writes failed, not the upload's reads
            if count == 0:
                raise _reject("the video cannot be read") from exc
            # A damaged tail: keep what was read, as a video player would.
            log.warning("reading %s stopped after %d packets: %s", src, count, exc)
        if count == 0:
            raise _reject("no decodable frames")
    progress(1.0)
    return ProxyInfo(
        width=info.width, height=info.height, fps=fps, frames=count, duration_s=count / fps
    )
