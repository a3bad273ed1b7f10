"""A local fake of the `/v1/videos` protocol, served over real HTTP for the real openai SDK.

It keeps jobs like the provider does (queued -> in_progress -> completed after a few polls),
answers errors in OpenAI's JSON shape, and can be told to misbehave: answer a create late
(after the job exists), refuse with 400/403/429/500, fail a generation, break or expire
downloads, or send a JSON error body with status 200.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from formcoach.kit.video_io import H264Writer
from tests.support.threaded_server import ThreadedServer


def make_mp4(path: Path) -> bytes:
    """A real, small H.264 MP4 (one second of a moving bar) for the provider to hand out."""
    with H264Writer(path, 320, 180, 30) as writer:
        for i in range(30):
            frame = np.full((180, 320, 3), 40, dtype=np.uint8)
            frame[60:120, i * 8 : i * 8 + 40] = (230, 120, 40)
            writer.write(frame)
    return path.read_bytes()


@dataclass
class Scenario:
    """What the fake does next; status lists are consumed one per request."""

    create_delay_s: list[float] = field(default_factory=list)  # answer late, job already made
    create_errors: list[int] = field(default_factory=list)  # refused before anything is made
    create_errors_after: list[int] = field(default_factory=list)  # 5xx after the job is made
    retry_after: str | None = None
    polls_to_finish: int = 2
    fail_with: str | None = None  # the generation ends "failed" with this message
    content_errors: list[int] = field(default_factory=list)
    content_json_200: int = 0  # this many downloads answer a JSON body with status 200
    expired: bool = False


@dataclass
class FakeVideos:
    mp4: bytes
    scenario: Scenario = field(default_factory=Scenario)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    polls: dict[str, int] = field(default_factory=dict)
    creates: int = 0
    downloads: int = 0
    lists: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    forms: list[dict[str, str]] = field(default_factory=list)
    counter: int = 0
    base_url: str = ""


def _error(status: int, message: str, code: str | None = None, **headers: str) -> JSONResponse:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None}}
    body["error"]["code"] = code
    return JSONResponse(body, status_code=status, headers=headers)


_MESSAGES = {
    400: "Invalid type for 'seconds': expected one of '4', '8', or '12'.",
    403: "Your organization must be verified to use the model `sora-2`. Please go to "
    "https://platform.openai.com/settings/organization/general and click on Verify Organization.",
    429: "Rate limit reached for videos per minute.",
    500: "The server had an error while processing your request.",
    503: "The engine is currently overloaded.",
}


def build_app(fake: FakeVideos) -> FastAPI:
    app = FastAPI()

    def failure(status: int) -> JSONResponse:
        headers = {"retry-after": fake.scenario.retry_after} if fake.scenario.retry_after else {}
        return _error(status, _MESSAGES.get(status, "error"), **headers)

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Any:
        fake.requests.append((request.method, request.url.path))
        fake.auth.append(request.headers.get("authorization", ""))
        return await call_next(request)

    @app.post("/v1/videos")
    async def create(request: Request) -> Response:
        fake.creates += 1
        sc = fake.scenario
        if sc.create_errors:
            return failure(sc.create_errors.pop(0))
        if request.headers.get("content-type", "").startswith("application/json"):
            form = {k: str(v) for k, v in (await request.json()).items()}
        else:
            form = {k: str(v) for k, v in (await request.form()).items()}
        fake.forms.append(form)
        if form.get("seconds", "4") not in ("4", "8", "12"):
            return failure(400)
        fake.counter += 1
        job_id = f"video_{fake.counter:04d}"
        now = int(time.time())
        fake.jobs[job_id] = {
            "id": job_id,
            "object": "video",
            "model": form.get("model", "sora-2"),
            "status": "queued",
            "progress": 0,
            "created_at": now,
            "completed_at": None,
            "expires_at": now + 3600,
            "prompt": form["prompt"],
            "size": form.get("size", "720x1280"),
            "seconds": form.get("seconds", "4"),
            "remixed_from_video_id": None,
            "error": None,
        }
        fake.polls[job_id] = 0
        if sc.create_delay_s:
            await asyncio.sleep(sc.create_delay_s.pop(0))
        if sc.create_errors_after:
            return failure(sc.create_errors_after.pop(0))
        return JSONResponse(fake.jobs[job_id])

    @app.get("/v1/videos")
    async def list_videos(
        limit: int = 20, order: str = "desc", after: str | None = None
    ) -> Response:
        fake.lists += 1
        items = sorted(fake.jobs.values(), key=lambda j: j["id"], reverse=order == "desc")
        if after is not None:
            ids = [j["id"] for j in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        page = items[:limit]
        return JSONResponse(
            {
                "object": "list",
                "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": len(items) > limit,
            }
        )

    @app.get("/v1/videos/{job_id}")
    async def retrieve(job_id: str) -> Response:
        job = fake.jobs.get(job_id)
        if job is None:
            return _error(404, f"Video with id '{job_id}' not found.")
        fake.polls[job_id] += 1
        done = fake.polls[job_id] >= fake.scenario.polls_to_finish
        if done and fake.scenario.fail_with:
            job.update(
                status="failed", error={"code": "moderation", "message": fake.scenario.fail_with}
            )
        elif done:
            job.update(status="completed", progress=100, completed_at=int(time.time()))
        else:
            job.update(status="in_progress", progress=50)
        return JSONResponse(job)

    @app.delete("/v1/videos/{job_id}")
    async def delete(job_id: str) -> Response:
        if fake.jobs.pop(job_id, None) is None:
            return _error(404, f"Video with id '{job_id}' not found.")
        return JSONResponse({"id": job_id, "object": "video.deleted", "deleted": True})

    @app.get("/v1/videos/{job_id}/content")
    async def content(job_id: str, variant: str = "video") -> Response:
        fake.downloads += 1
        sc = fake.scenario
        job = fake.jobs.get(job_id)
        if job is None or sc.expired:
            return _error(404, "The video content has expired.", code="video_expired")
        if job["status"] != "completed":
            return _error(400, "Video is not ready yet.")
        if sc.content_errors:
            return failure(sc.content_errors.pop(0))
        if sc.content_json_200:
            sc.content_json_200 -= 1
            return JSONResponse({"error": {"message": "temporarily unavailable"}})
        return Response(fake.mp4, media_type="video/mp4")

    return app


class FakeServer(ThreadedServer):
    """The fake on a free localhost port, served by uvicorn in a background thread."""

    def __init__(self, mp4: bytes) -> None:
        self.fake = FakeVideos(mp4)
        super().__init__(build_app(self.fake), "fake videos server")

    def reset(self, scenario: Scenario | None = None) -> FakeVideos:
        mp4 = self.fake.mp4
        self.fake.__dict__.update(FakeVideos(mp4).__dict__)
        self.fake.scenario = scenario or Scenario()
        return self.fake
