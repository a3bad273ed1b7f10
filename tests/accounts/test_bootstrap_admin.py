"""The first admin: FORMCOACH_ADMIN_PASSWORD must follow the password rules, and a generated
password does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from formcoach.accounts.signin import first_admin_password, password_problem
from formcoach.accounts.users import User, verify_password
from formcoach.bootstrap import prepare
from formcoach.kit.db import get_engine, session_scope
from formcoach.kit.errors import AppError
from formcoach.kit.settings import Settings


def _users(settings: Settings) -> list[User]:
    with session_scope(settings.db_url) as session:
        users = list(session.scalars(select(User)))
        session.expunge_all()
        return users


@pytest.mark.parametrize(
    ("password", "min_length", "en", "ja"),
    [
        ("short-pw", 10, "use at least 10 characters", "10 文字以上"),
        ("Admin", 5, "must not contain the username", "ユーザー名を含む"),
        ("password123", 10, "commonly used", "よく使われている"),
        ("abcdefghijklm", 10, "simple sequence", "連続した文字"),
    ],
)
def test_a_weak_admin_password_is_refused(
    tmp_path: Path, password: str, min_length: int, en: str, ja: str
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", admin_password=password, password_min_length=min_length
    )
    with pytest.raises(AppError) as refused:
        prepare(settings)
    assert refused.value.code == "weak_admin_password"
    assert en in refused.value.message(
        "en"
    ) and "FORMCOACH_ADMIN_PASSWORD" in refused.value.message("en")
    assert ja in refused.value.message("ja") and "起動を中止" in refused.value.message("ja")
    assert _users(settings) == []  # no admin with the weak password
    get_engine(settings.db_url).dispose()


def test_generated_passwords_follow_the_rules(tmp_path: Path) -> None:
    # A minimum above the generator's usual 16 characters: the generated one grows with it.
    for min_length in (10, 16, 24, 40):
        settings = Settings(data_dir=tmp_path / "data", password_min_length=min_length)
        for _ in range(200):
            password, generated = first_admin_password(None, settings)
            assert generated and len(password) >= min_length
            assert password_problem(password, "admin", settings) is None
    settings = Settings(data_dir=tmp_path / "first", password_min_length=24)
    printed = prepare(settings)
    assert printed is not None and len(printed) >= 24
    assert password_problem(printed, "admin", settings) is None
    [admin] = _users(settings)
    assert admin.username == "admin" and admin.is_admin
    assert verify_password(admin.password_hash, printed)
    get_engine(settings.db_url).dispose()


def test_a_good_admin_password_is_used_and_only_checked_when_used(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", admin_password="a-good-root-passphrase")
    assert prepare(settings) is None
    [admin] = _users(settings)
    assert verify_password(admin.password_hash, "a-good-root-passphrase")
    # Once an admin exists the variable is not used (the admin may have changed the password
    # since), so a weak value no longer matters and the app starts.
    later = Settings(data_dir=tmp_path / "data", admin_password="weak")
    assert prepare(later) is None
    assert [u.username for u in _users(later)] == ["admin"]
    get_engine(settings.db_url).dispose()


def _cli(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FORMCOACH_")} | {
        "FORMCOACH_DATA_DIR": str(data_dir),
        "FORMCOACH_LOG_FORMAT": "text",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "formcoach", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def test_the_cli_refuses_to_start_with_a_weak_admin_password(tmp_path: Path) -> None:
    refused = _cli(tmp_path / "data", "migrate", FORMCOACH_ADMIN_PASSWORD="1234567890")
    assert refused.returncode == 2, refused.stderr
    assert "weak_admin_password" in refused.stderr
    assert "よく使われているパスワードは使えません" in refused.stderr
    assert "it is one of the most commonly used passwords" in refused.stderr
    assert "Traceback" not in refused.stderr
    # Nothing was made for an admin: a good password afterwards is the one that counts.
    started = _cli(tmp_path / "data", "migrate", FORMCOACH_ADMIN_PASSWORD="a-good-one-at-last")
    assert started.returncode == 0, started.stderr
    generated = _cli(tmp_path / "other", "migrate", FORMCOACH_PASSWORD_MIN_LENGTH="20")
    assert generated.returncode == 0, generated.stderr
    line = next(x for x in generated.stdout.splitlines() if x.startswith("admin login: admin / "))
    password = line.removeprefix("admin login: admin / ").strip()
    settings = Settings(data_dir=tmp_path / "other", password_min_length=20)
    assert len(password) >= 20 and password_problem(password, "admin", settings) is None
    with session_scope(settings.db_url) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1
        admin = session.scalar(select(User))
        assert admin is not None and verify_password(admin.password_hash, password)
    get_engine(settings.db_url).dispose()
