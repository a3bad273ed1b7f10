"""Cloud generator: the `/v1/videos` protocol (OpenAI Sora-2, and gateways that copy it).

Driven through the official SDK's async client with the SDK's own retries switched off: it
sends no idempotency key, so a retried POST /videos could create (and bill) a second job.
cloud_jobs retries instead, and looks a lost create up by its marker before sending another.
"""

from __future__ import annotations

import email.utils
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import openai
from openai import AsyncOpenAI

from formcoach.kit.settings import Settings
from formcoach.video_generation.cloud import CloudRequest, ProviderError, ProviderJob

# How far back a look-up searches: a lost create shows up among the newest jobs.
_FIND_LIMIT = 200
_FIND_SLACK_S = 600.0


def _detail(exc: openai.APIStatusError) -> str:
    body: Any = exc.body
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
    return exc.message


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return None if parsed is None else max(parsed.timestamp() - time.time(), 0.0)


def classify(exc: Exception) -> ProviderError:
    """The SDK's exception as a ProviderError that the retry loop understands."""
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError):
        return ProviderError("provider_unavailable", str(exc), retryable=True, ambiguous=True)
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return ProviderError("provider_forbidden", _detail(exc))
    if isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
        return ProviderError("provider_rejected", _detail(exc))
    if isinstance(exc, openai.RateLimitError):
        return ProviderError(
            "provider_rate_limited", _detail(exc), retryable=True, retry_after=_retry_after(exc)
        )
    if isinstance(exc, openai.APIStatusError):
        # 5xx, 408, 409: the provider may have acted on the request before failing.
        return ProviderError(
            "provider_unavailable",
            _detail(exc),
            retryable=True,
            ambiguous=True,
            retry_after=_retry_after(exc),
        )
    raise exc


def _job(video: Any) -> ProviderJob:
    error = getattr(video, "error", None)
    message = getattr(error, "message", None) if error is not None else None
    return ProviderJob(
        id=str(video.id),
        status=video.status,
        progress=int(getattr(video, "progress", 0) or 0),
        error=str(message) if message else None,
    )


class OpenAIVideosProvider:
    name = "openai-videos"

    def __init__(self, settings: Settings) -> None:
        if not settings.openai_videos_api_key:
            raise ProviderError("provider_not_configured", "FORMCOACH_OPENAI_VIDEOS_API_KEY")
        self.model = settings.openai_videos_model
        self._client = AsyncOpenAI(
            api_key=settings.openai_videos_api_key,
            base_url=settings.openai_videos_base_url,
            timeout=settings.cloud_request_timeout_s,
            max_retries=0,
        )

    async def submit(self, request: CloudRequest) -> ProviderJob:
        try:
            video = await self._client.videos.create(
                prompt=request.prompt,
                model=self.model,
                seconds=request.seconds,  # type: ignore[arg-type]
                size=request.size,  # type: ignore[arg-type]
            )
        except openai.OpenAIError as exc:
            raise classify(exc) from exc
        return _job(video)

    async def find(self, marker: str, since: datetime) -> ProviderJob | None:
        oldest = since.timestamp() - _FIND_SLACK_S
        seen = 0
        try:
            async for video in self._client.videos.list(limit=50, order="desc"):
                if marker in (getattr(video, "prompt", None) or ""):
                    return _job(video)
                seen += 1
                created = getattr(video, "created_at", None)
                if seen >= _FIND_LIMIT or (created is not None and created < oldest):
                    return None
        except openai.OpenAIError as exc:
            raise classify(exc) from exc
        return None

    async def poll(self, job_id: str) -> ProviderJob:
        try:
            return _job(await self._client.videos.retrieve(job_id))
        except openai.NotFoundError as exc:
            raise ProviderError("provider_failed", _detail(exc)) from exc
        except openai.OpenAIError as exc:
            raise classify(exc) from exc

    async def download(self, job_id: str, dest: Path) -> None:
        """Stream the MP4 to ``dest``; an error body is never written as a video."""
        try:
            async with self._client.videos.with_streaming_response.download_content(
                job_id, variant="video"
            ) as response:
                kind = response.headers.get("content-type", "")
                if "json" in kind or "text" in kind:
                    # A gateway's error page with status 200: worth asking again, never saved.
                    raise ProviderError(
                        "provider_bad_content", f"content-type {kind}", retryable=True
                    )
                with dest.open("wb") as fh:
                    async for chunk in response.iter_bytes():
                        fh.write(chunk)
        except (openai.NotFoundError, openai.APIStatusError) as exc:
            if isinstance(exc, openai.NotFoundError) or exc.status_code == 410:
                raise ProviderError("provider_content_expired", _detail(exc)) from exc
            raise classify(exc) from exc
        except openai.OpenAIError as exc:
            raise classify(exc) from exc

    async def cancel(self, job_id: str) -> None:
        try:
            await self._client.videos.delete(job_id)
        except openai.NotFoundError:
            return
        except openai.OpenAIError as exc:
            raise classify(exc) from exc

    async def aclose(self) -> None:
        await self._client.close()
