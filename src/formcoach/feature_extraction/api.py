"""HTTP API of the feature_extraction service (mounted at /api/feature-extraction/)."""

from __future__ import annotations

from fastapi import APIRouter

from formcoach.accounts.deps import CurrentUser
from formcoach.kit.api import service_info

router = APIRouter()


@router.get("/")
def info(user: CurrentUser) -> dict[str, str]:
    """Service name, version and status (authenticated like every service route)."""
    return service_info("feature_extraction")
