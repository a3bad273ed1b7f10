"""Imports every module that defines tables, so Base.metadata is complete (for Alembic)."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "formcoach.accounts.users",
    "formcoach.accounts.sessions",
    "formcoach.runs.models",
    "formcoach.video_generation.models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
