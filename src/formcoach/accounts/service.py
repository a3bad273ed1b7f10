"""Accounts administration: the first admin, users, their tokens."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from formcoach.accounts.sessions import end_user_sessions
from formcoach.accounts.users import (
    ApiToken,
    User,
    hash_password,
    hash_token,
    new_token,
    revoke_tokens,
)
from formcoach.kit.errors import AppError
from formcoach.kit.i18n import Language
from formcoach.kit.settings import Settings


def ensure_admin(
    session: Session, password: str | None, settings: Settings | None = None
) -> str | None:
    """Create the first admin if there is no user yet; returns a generated password to print once.

    A given password must follow the password rules (weak_admin_password otherwise), and a
    generated one does (accounts/signin.py first_admin_password).
    """
    from formcoach.accounts.signin import ADMIN_USERNAME, first_admin_password

    if session.scalar(select(func.count()).select_from(User)):
        return None
    password, generated = first_admin_password(password, settings or Settings())
    session.add(User(username=ADMIN_USERNAME, password_hash=hash_password(password), is_admin=True))
    session.flush()
    return password if generated else None


def create_user(
    session: Session, username: str, password: str, language: Language, is_admin: bool = False
) -> User:
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise AppError("username_taken")
    user = User(
        username=username,
        password_hash=hash_password(password),
        language=language,
        is_admin=is_admin,
    )
    session.add(user)
    session.flush()
    return user


def create_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    plain = new_token()
    row = ApiToken(user_id=user.id, name=name, token_hash=hash_token(plain))
    session.add(row)
    session.flush()
    return row, plain


def delete_token(session: Session, user: User, token_id: int) -> None:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise AppError("not_found")
    session.delete(row)


def update_user(
    session: Session,
    user_id: int,
    *,
    is_active: bool | None = None,
    password: str | None = None,
    language: Language | None = None,
    is_admin: bool | None = None,
) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise AppError("not_found")
    if is_active is not None:
        user.is_active = is_active
    if password is not None:
        user.password_hash = hash_password(password)
    if password is not None or is_active is False:
        # An admin reset or a disable answers a suspected leak: no token or web session issued
        # under the old password may outlive it (the self-service change does the same,
        # security.change_password).
        revoke_tokens(session, user.id)
        end_user_sessions(session, user.id)
    if language is not None:
        if language not in ("ja", "en"):
            raise AppError("validation_error", detail="language must be ja or en")
        user.language = language
    if is_admin is not None:
        user.is_admin = is_admin
    session.flush()
    return user


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )
