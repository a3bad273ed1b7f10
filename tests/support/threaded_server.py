"""A FastAPI app served by uvicorn on a free localhost port in a background thread (for fakes)."""

from __future__ import annotations

import threading
import time
from typing import Literal, Self

import uvicorn
from fastapi import FastAPI

from tests.support.ports import free_port


class ThreadedServer:
    def __init__(
        self,
        app: FastAPI,
        name: str,
        lifespan: Literal["auto", "on", "off"] = "auto",
        start_timeout_s: float = 10.0,
    ) -> None:
        self.name = name
        port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._start_timeout_s = start_timeout_s
        # The app's own origin; fakes of OpenAI-style APIs are reached below /v1.
        self.origin = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.origin}/v1"

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + self._start_timeout_s
        while not self._server.started:
            assert time.monotonic() < deadline, f"{self.name} did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
