"""Inputs and outputs of the video_processing service (the shape of video_info.json)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SourceInfo(BaseModel):
    """What probing an uploaded file found. Width/height are as displayed (rotation applied)."""

    model_config = ConfigDict(frozen=True)

    width: int = Field(gt=0)
    height: int = Field(gt=0)
    fps: float = Field(gt=0, description="average frame rate")
    frames: int = Field(ge=0, description="frame count from the header (estimated if absent)")
    duration_s: float = Field(ge=0)
    codec: str
    rotation: int = Field(description="display rotation, degrees counter-clockwise: 0/90/180/270")
    format: str = Field(description="container format as FFmpeg names it")
    size_bytes: int = Field(ge=0)
    capture_fps: float | None = Field(
        default=None,
        description="capture rate from the metadata (a phone's slow motion: 120, 240), if any",
    )


class ProxyInfo(BaseModel):
    """The browser proxy: H.264 yuv420p, faststart, rotation applied, one frame per source frame."""

    model_config = ConfigDict(frozen=True)

    width: int = Field(gt=0)
    height: int = Field(gt=0)
    fps: float = Field(gt=0)
    frames: int = Field(gt=0, description="frames actually decoded and written")
    duration_s: float = Field(ge=0)


class VideoInfo(BaseModel):
    """The video_info.json artifact."""

    model_config = ConfigDict(frozen=True)

    source: SourceInfo
    proxy: ProxyInfo
