"""A local fake of the OpenAI chat-completions protocol, over real HTTP for the real openai SDK.

It answers `POST /v1/chat/completions` in OpenAI's response shape, rewording the advice JSON it
is sent, and can be told to misbehave: name a drill that was not prescribed, add a number, be
slower than the client's timeout, answer 500 in OpenAI's error shape, or answer non-JSON text.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.support.threaded_server import ThreadedServer

Mode = Literal["good", "invented_drill", "invented_number", "slow", "error_500", "not_json"]


@dataclass
class FakeChat:
    mode: Mode = "good"
    slow_s: float = 3.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)


def reword(payload: dict[str, Any], mode: Mode) -> dict[str, Any]:
    items = []
    for i, item in enumerate(payload["advice"]):
        text = {
            "ja": "あなたの動画を見て感じたことです。" + item["text"]["ja"],
            "en": "Here is what I noticed in your video. " + item["text"]["en"],
        }
        if i == 0 and mode == "invented_drill":
            text["en"] += " Finish with a few Bulgarian split squats and pogo hops."
        if i == 0 and mode == "invented_number":
            text["en"] += " Do this 7 days a week."
        items.append(
            {
                "finding_codes": item["finding_codes"],
                "drills": item["drills"],
                "title": {"ja": item["title"]["ja"], "en": item["title"]["en"]},
                "text": text,
            }
        )
    return {"advice": items}


def build_app(fake: FakeChat) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> JSONResponse:
        body = await request.json()
        fake.requests.append(body)
        fake.auth.append(request.headers.get("authorization"))
        if fake.mode == "slow":
            await asyncio.sleep(fake.slow_s)
        if fake.mode == "error_500":
            return JSONResponse(
                {
                    "error": {
                        "message": "The server had an error",
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                },
                status_code=500,
            )
        payload = json.loads(body["messages"][-1]["content"])
        content = (
            "I am sorry, I cannot help with that."
            if fake.mode == "not_json"
            else "```json\n" + json.dumps(reword(payload, fake.mode), ensure_ascii=False) + "\n```"
        )
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {"prompt_tokens": 100, "completion_tokens": 100, "total_tokens": 200},
            }
        )

    return app


class FakeChatServer(ThreadedServer):
    """The fake on a free localhost port, served by uvicorn in a background thread."""

    def __init__(self) -> None:
        self.fake = FakeChat()
        super().__init__(build_app(self.fake), "fake chat server")

    def reset(self, mode: Mode) -> FakeChat:
        self.fake.mode = mode
        self.fake.requests.clear()
        self.fake.auth.clear()
        return self.fake
