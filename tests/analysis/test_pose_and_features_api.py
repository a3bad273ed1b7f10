"""The service-info routes of pose_estimation and feature_extraction require a user."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from formcoach.accounts.users import User, hash_password
from formcoach.feature_extraction.api import router as features_router
from formcoach.kit.api import install_error_handlers
from formcoach.kit.db import Base, get_engine, session_scope
from formcoach.kit.settings import Settings
from formcoach.pose_estimation.api import router as pose_router


@pytest.mark.parametrize(
    ("router", "prefix", "service"),
    [
        (pose_router, "/api/pose-estimation", "pose_estimation"),
        (features_router, "/api/feature-extraction", "feature_extraction"),
    ],
)
def test_service_info_needs_authentication(
    settings: Settings, router: APIRouter, prefix: str, service: str
) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    Base.metadata.create_all(get_engine(settings.db_url))
    with session_scope(settings.db_url) as session:
        session.add(User(username="coach", password_hash=hash_password("pw-123456")))
    app = FastAPI()
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(router, prefix=prefix)
    client = TestClient(app)

    anonymous = client.get(f"{prefix}/")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    wrong = client.get(f"{prefix}/", auth=("coach", "nope"))
    assert wrong.status_code == 401
    ok = client.get(f"{prefix}/", auth=("coach", "pw-123456"))
    assert ok.status_code == 200
    assert ok.json()["service"] == service and ok.json()["status"] == "ok"
