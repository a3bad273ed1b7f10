"""The interface every cloud video generator implements, and the errors it speaks in.

A provider is one module with one class: submit a generation, find one again by the marker
formcoach put in its prompt, poll it, download the finished video, cancel it. Everything
about retries, budgets and never paying twice lives in cloud_jobs, once for all providers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from formcoach.kit.settings import Settings

ProviderStatus = Literal["queued", "in_progress", "completed", "failed"]


@dataclass(frozen=True)
class CloudRequest:
    prompt: str  # already carries the marker
    size: str  # "1280x720" | "720x1280"
    seconds: str  # "4" | "8" | "12", always a string on the wire
    marker: str


@dataclass(frozen=True)
class ProviderJob:
    id: str
    status: ProviderStatus
    progress: int = 0
    error: str | None = None


class ProviderError(Exception):
    """A provider call that failed, classified for the retry loop.

    ``code`` is an error-catalogue code. ``retryable`` says whether the same call may succeed
    later; ``ambiguous`` that the request may have reached the provider and created something
    (a timeout, a 5xx), so a create must be looked up before it is sent again.
    """

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        retryable: bool = False,
        ambiguous: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.retryable = retryable
        self.ambiguous = ambiguous
        self.retry_after = retry_after


class VideoProvider(Protocol):
    name: str
    model: str

    async def submit(self, request: CloudRequest) -> ProviderJob: ...

    async def find(self, marker: str, since: datetime) -> ProviderJob | None: ...

    async def poll(self, job_id: str) -> ProviderJob: ...

    async def download(self, job_id: str, dest: Path) -> None: ...

    async def cancel(self, job_id: str) -> None: ...

    async def aclose(self) -> None: ...


ProviderFactory = Callable[[Settings], VideoProvider]


def make_provider(settings: Settings) -> VideoProvider:
    """The provider that settings.video_generator names (imported lazily: SDKs are heavy)."""
    if settings.video_generator == "openai-videos":
        from formcoach.video_generation.openai_videos import OpenAIVideosProvider

        return OpenAIVideosProvider(settings)
    raise ProviderError("provider_not_configured", f"no cloud generator {settings.video_generator}")


CLOUD_GENERATORS: tuple[str, ...] = ("openai-videos",)


def is_cloud(generator: str) -> bool:
    return generator in CLOUD_GENERATORS


def model_of(settings: Settings) -> str:
    """The model name that identifies the generator's output (part of the cache key)."""
    if settings.video_generator == "openai-videos":
        return settings.openai_videos_model
    return ""
