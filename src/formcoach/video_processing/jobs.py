"""Pipeline stages of the video_processing service: `probe` and `annotate`.

Both are idempotent: they read their inputs and overwrite their outputs, so a run killed
half-way simply runs the stage again.
"""

from __future__ import annotations

from collections.abc import Callable

from formcoach.kit.errors import AppError
from formcoach.kit.pipeline import (
    ANNOTATED,
    CLIP_SCAN,
    FEATURES,
    POSE,
    PROXY,
    UPLOAD,
    VIDEO_INFO,
    StageContext,
)
from formcoach.video_processing.annotate import annotate
from formcoach.video_processing.clip_scan import scan
from formcoach.video_processing.schemas import VideoInfo
from formcoach.video_processing.service import check_sampling, make_proxy, probe

# Probing is quick; the proxy encode (when the upload is not copied) is nearly all of the
# stage's time.
_PROBE_SHARE = 0.02


def _scaled(progress: Callable[[float], None], start: float) -> Callable[[float], None]:
    return lambda fraction: progress(start + (1.0 - start) * fraction)


def run_probe(ctx: StageContext) -> None:
    """upload.bin -> proxy.mp4 + video_info.json (raises AppError when the upload is unusable)."""
    ctx.progress(0.0)
    upload = ctx.storage.local_path(ctx.key(UPLOAD))
    source = probe(upload, ctx.settings)
    ctx.progress(_PROBE_SHARE)
    with ctx.storage.writer(ctx.key(PROXY), suffix=".mp4") as tmp:
        proxy = make_proxy(
            upload,
            tmp,
            source,
            ctx.settings.proxy_max_side,
            _scaled(ctx.progress, _PROBE_SHARE),
            max_duration_s=ctx.settings.max_video_seconds,
            copy_max_side=ctx.settings.proxy_copy_max_side,
        )
        # The header may promise more than the file holds (a damaged tail): judge the length
        # by what actually decoded before anything downstream relies on it.
        if proxy.duration_s < ctx.settings.min_video_seconds:
            raise AppError(
                "video_too_short", duration=proxy.duration_s, limit=ctx.settings.min_video_seconds
            )
        check_sampling(proxy.frames, source.fps, ctx.settings)
        # A second, small decode of the proxy (7-20 ms a frame on the fixtures, a tenth of the
        # pose pass): the proxy may be a packet copy, never decoded here.
        clip_scan = scan(tmp) if ctx.settings.clip_scan else None
    if clip_scan is not None:
        with ctx.storage.writer(ctx.key(CLIP_SCAN), suffix=".npz") as scan_tmp:
            clip_scan.save(scan_tmp)
    ctx.write_json(VIDEO_INFO, VideoInfo(source=source, proxy=proxy).model_dump(mode="json"))


def run_annotate(ctx: StageContext) -> None:
    """proxy.mp4 + pose.npz + features.json -> annotated.mp4."""
    ctx.progress(0.0)
    features = ctx.read_json(FEATURES)
    with ctx.storage.writer(ctx.key(ANNOTATED), suffix=".mp4") as tmp:
        annotate(
            ctx.storage.local_path(ctx.key(PROXY)),
            ctx.storage.local_path(ctx.key(POSE)),
            features,
            tmp,
            ctx.progress,
            min_visibility=ctx.settings.keypoint_min_visibility,
            language=ctx.options.language,
        )
