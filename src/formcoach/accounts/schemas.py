"""Request and response models of users, tokens and passwords."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from formcoach.kit.i18n import Language


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-@]+$")
    # Length and strength rules (settings.password_min_length...) answer 422 weak_password.
    password: str = Field(min_length=1, max_length=256)
    language: Literal["ja", "en"] = "ja"
    is_admin: bool = False


class UserOut(BaseModel):
    id: int
    username: str
    language: Language
    is_admin: bool
    is_active: bool
    created_at: datetime


class TokenCreate(BaseModel):
    name: str = Field(default="", max_length=100)


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None = None
    token: str | None = Field(default=None, description="Shown once, when the token is created")


class UserUpdate(BaseModel):
    """Fields an administrator (or, for language only, the user) may change; omitted = unchanged."""

    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=1, max_length=256)
    language: Literal["ja", "en"] | None = None
    is_admin: bool | None = None


class PasswordChange(BaseModel):
    """A signed-in user's own password change (POST /api/me/password)."""

    current_password: str = Field(min_length=1, max_length=256)
    # The password rules (settings.password_min_length...) answer 422 weak_password.
    new_password: str = Field(min_length=1, max_length=256)


class PasswordChanged(BaseModel):
    revoked_tokens: int = Field(
        description="API tokens revoked with the old password (all but the one used, if any)"
    )
