"""Public functions of the gateway's runs resource (other services may call these)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from formcoach.gateway.models import Run
from formcoach.kit.errors import AppError


def get_run_for_user(session: Session, user_id: int, run_id: int) -> Run:
    """The run if it belongs to the user; otherwise not_found (never reveal others' ids)."""
    run = session.get(Run, run_id)
    if run is None or run.user_id != user_id:
        raise AppError("not_found")
    return run
