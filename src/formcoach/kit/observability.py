"""Structured logs and the context they carry (run id, stage, user id).

One JSON object per line (time, level, logger, message, run_id, stage, user_id, exc_info), so a
log shipper can pick out every line of one run. The context lives in contextvars: the stage
runner and the Celery task wrapper set it (``log_context``), and every line logged inside —
in that thread or in a thread pool that copies the context — carries it without the code that
logs having to pass it along.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

CONTEXT_FIELDS: tuple[str, ...] = ("run_id", "stage", "user_id", "job_id")
_VARS: dict[str, ContextVar[Any]] = {
    name: ContextVar(f"formcoach_{name}", default=None) for name in CONTEXT_FIELDS
}


def current_context() -> dict[str, Any]:
    """The context fields set now (those not set are left out)."""
    return {name: var.get() for name, var in _VARS.items() if var.get() is not None}


@contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Set context fields for the block (nested blocks add to and then restore the outer one)."""
    unknown = set(values) - set(_VARS)
    if unknown:
        raise ValueError(f"unknown log context field(s): {', '.join(sorted(unknown))}")
    tokens: list[tuple[ContextVar[Any], Token[Any]]] = [
        (_VARS[name], _VARS[name].set(value)) for name, value in values.items()
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def bind(**values: Any) -> None:
    """Set context fields until the current task or thread ends (Celery's prerun signal)."""
    for name, value in values.items():
        _VARS[name].set(value)


def clear() -> None:
    for var in _VARS.values():
        var.set(None)


class JsonFormatter(logging.Formatter):
    """One JSON object per record; context fields from contextvars, or from ``extra=``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = current_context()
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is None:
                value = context.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The human-readable form (FORMCOACH_LOG_FORMAT=text), context appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = current_context()
        extra = " ".join(f"{k}={v}" for k, v in context.items())
        return f"{line} [{extra}]" if extra else line


def configure_logging(level: int | str = logging.INFO, fmt: str = "json") -> None:
    """Route every logger (uvicorn's and Celery's included) to one stderr handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        # Their own handlers (from uvicorn's default config) would print every line twice.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Alembic narrates every plugin at INFO; the URL and admin login must stay visible.
    logging.getLogger("alembic").setLevel(logging.WARNING)
