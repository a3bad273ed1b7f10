"""HTTP API of the advice_generation service (mounted at /api/advice-generation/)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from formcoach.accounts.deps import CurrentUser
from formcoach.advice_generation.schemas import Drill
from formcoach.advice_generation.service import get_drill, list_drills, match_drill
from formcoach.kit.api import service_info
from formcoach.kit.errors import AppError

router = APIRouter()


@router.get("/")
def info(user: CurrentUser) -> dict[str, str]:
    return service_info("advice_generation")


@router.get("/drills")
def drills(user: CurrentUser) -> list[Drill]:
    """The drill library, with names, doses and cues in Japanese and English."""
    return list_drills()


@router.get("/drills/match")
def match(user: CurrentUser, text: str) -> dict[str, Any]:
    """The drill a free text names, e.g. ?text=プランク: 体幹を鍛える基本エクササイズ."""
    found = match_drill(text)
    if found.drill is None:
        raise AppError("unknown_drill", suggestions=", ".join(found.suggestions) or "-")
    return found.model_dump(mode="json")


@router.get("/drills/{drill_id}")
def drill(user: CurrentUser, drill_id: str) -> Drill:
    try:
        return get_drill(drill_id)
    except KeyError:
        raise AppError("not_found") from None
