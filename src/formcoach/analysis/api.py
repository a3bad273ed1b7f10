"""HTTP API of the analysis service (mounted at /api/analysis/)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from formcoach.accounts.deps import CurrentUser
from formcoach.analysis.service import get_reference
from formcoach.kit.api import SettingsDep, service_info

router = APIRouter()


@router.get("/")
def info(user: CurrentUser) -> dict[str, str]:
    return service_info("analysis")


@router.get("/reference")
def reference(user: CurrentUser, settings: SettingsDep) -> dict[str, Any]:
    """The reference ranges in force, with their sources."""
    return get_reference(settings.reference_file).model_dump(mode="json")
