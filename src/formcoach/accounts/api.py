"""The REST routes of accounts: users (administrators), the caller's own account and API
tokens. Mounted under /api by the gateway. Deleting a user stays a gateway route: it deletes
their runs and drill videos too, a composition over several services."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from formcoach.accounts import service as accounts_service
from formcoach.accounts.deps import AdminUser, CurrentUser
from formcoach.accounts.schemas import (
    PasswordChange,
    PasswordChanged,
    TokenCreate,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from formcoach.accounts.signin import change_password, check_password
from formcoach.accounts.users import User
from formcoach.kit.api import DbSession, IdPath, SettingsDep
from formcoach.kit.errors import AppError
from formcoach.kit.schemas import ErrorResponse

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 413, 415, 422)
}
router = APIRouter(responses=ERRORS)


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


@router.post("/users", status_code=201, response_model=UserOut, tags=["accounts"])
def create_user(
    body: UserCreate, admin: AdminUser, session: DbSession, settings: SettingsDep
) -> UserOut:
    check_password(body.password, body.username, settings)
    user = accounts_service.create_user(
        session, body.username, body.password, body.language, body.is_admin
    )
    return user_out(user)


@router.get("/users", response_model=list[UserOut], tags=["accounts"])
def list_users(admin: AdminUser, session: DbSession) -> list[UserOut]:
    return [user_out(u) for u in session.query(User).order_by(User.id)]


@router.patch("/users/{user_id}", response_model=UserOut, tags=["accounts"])
def update_user(
    user_id: IdPath, body: UserUpdate, user: CurrentUser, session: DbSession, settings: SettingsDep
) -> UserOut:
    """Administrators change any field; every user may change their own language."""
    admin_fields = body.model_fields_set - {"language"}
    if not user.is_admin and (user_id != user.id or admin_fields):
        raise AppError("forbidden")
    if user_id == user.id and (body.is_active is False or body.is_admin is False):
        # An administrator locking themselves out would leave nobody to undo it.
        raise AppError("validation_error", detail="you cannot disable or demote yourself")
    target = session.get(User, user_id)
    if body.password is not None and target is not None:
        check_password(body.password, target.username, settings)
    updated = accounts_service.update_user(session, user_id, **body.model_dump(exclude_unset=True))
    # Committed before answering: a page reloading after the change must see it.
    session.commit()
    return user_out(updated)


@router.get("/me", response_model=UserOut, tags=["accounts"])
def me(user: CurrentUser) -> UserOut:
    return user_out(user)


@router.post("/me/password", response_model=PasswordChanged, tags=["accounts"])
def change_my_password(
    body: PasswordChange,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    settings: SettingsDep,
) -> PasswordChanged:
    """Any user's own password: the current one is required (403 wrong_password, throttled:
    429 too_many_attempts), the new one follows the rules (422 weak_password). Every API token
    of the user but the one this request used is revoked."""
    revoked = change_password(
        request, session, user, body.current_password, body.new_password, settings
    )
    session.commit()
    return PasswordChanged(revoked_tokens=revoked)


@router.post("/tokens", status_code=201, response_model=TokenOut, tags=["accounts"])
def create_token(body: TokenCreate, user: CurrentUser, session: DbSession) -> TokenOut:
    row, plain = accounts_service.create_token(session, user, body.name)
    return TokenOut(id=row.id, name=row.name, created_at=row.created_at, token=plain)


@router.get("/tokens", response_model=list[TokenOut], tags=["accounts"])
def list_tokens(user: CurrentUser, session: DbSession) -> list[TokenOut]:
    return [
        TokenOut(id=t.id, name=t.name, created_at=t.created_at, last_used_at=t.last_used_at)
        for t in accounts_service.list_tokens(session, user)
    ]


@router.delete("/tokens/{token_id}", status_code=204, tags=["accounts"])
def delete_token(token_id: IdPath, user: CurrentUser, session: DbSession) -> Response:
    accounts_service.delete_token(session, user, token_id)
    return Response(status_code=204)
