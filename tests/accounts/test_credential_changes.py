"""Every credential change ends every other credential, in every process (issue 23, item 2).

Two real gateway processes share one data directory (the one-machine shape with a second
gateway). A change made through the first, whether an admin reset, a self-service change, a
disable or a delete, must end the user's API tokens, web sessions and HTTP Basic with the old
password on both. A web session ends at once everywhere (it is a row); a token another process
has already checked may live on there for at most ``token_cache_s``, and no longer.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.apputil import ADMIN, ADMIN_PW
from tests.support.ports import free_port
from tests.support.scaled import wait_http

TOKEN_CACHE_S = 2.0
OLD, NEW = "first-passphrase-11", "second-passphrase-22"


def _start(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "FORMCOACH_DATA_DIR": str(data_dir),
        "FORMCOACH_ADMIN_PASSWORD": ADMIN_PW,
        "FORMCOACH_TOKEN_CACHE_S": str(TOKEN_CACHE_S),
    }
    env.pop("FORMCOACH_DATABASE_URL", None)
    env.pop("FORMCOACH_BROKER_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "formcoach", "serve", "--port", str(port)],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/api/health", proc, log)
    except AssertionError:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc, url


@pytest.fixture(scope="module")
def two_gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    root = tmp_path_factory.mktemp("two-gateways")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        first, url_a = _start(root / "data", root / "a.log")
        procs.append(first)  # migrates and makes the admin before the second one starts
        second, url_b = _start(root / "data", root / "b.log")
        procs.append(second)
        yield url_a, url_b
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)


def _basic(name: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def _browser(url: str, name: str) -> httpx.Client:
    browser = httpx.Client(base_url=url)
    page = browser.get("/login").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    r = browser.post("/login", data={"username": name, "password": OLD, "csrf": csrf})
    assert r.status_code == 303, r.text
    return browser


class Credentials:
    """One user's credentials, each held against both processes."""

    def __init__(self, url_a: str, url_b: str) -> None:
        self.name = f"user-{uuid.uuid4().hex[:8]}"
        made = httpx.post(
            f"{url_a}/api/users", headers=ADMIN, json={"username": self.name, "password": OLD}
        )
        assert made.status_code == 201, made.text
        self.id = int(made.json()["id"])
        token = httpx.post(
            f"{url_a}/api/tokens", headers=_basic(self.name, OLD), json={"name": "script"}
        )
        assert token.status_code == 201, token.text
        self.token = {"Authorization": f"Bearer {token.json()['token']}"}
        self.urls = (url_a, url_b)
        self.browsers = [_browser(url, self.name) for url in self.urls]

    def answers(self) -> dict[str, list[int]]:
        """/api/me per credential, on (first, second) process."""
        return {
            "token": [httpx.get(f"{u}/api/me", headers=self.token).status_code for u in self.urls],
            "cookie": [b.get("/api/me").status_code for b in self.browsers],
            "basic_old": [
                httpx.get(f"{u}/api/me", headers=_basic(self.name, OLD)).status_code
                for u in self.urls
            ],
        }


def _change(url: str, who: Credentials, action: str) -> None:
    if action == "admin_reset":
        r = httpx.patch(f"{url}/api/users/{who.id}", headers=ADMIN, json={"password": NEW})
    elif action == "self_change":
        r = httpx.post(
            f"{url}/api/me/password",
            headers=_basic(who.name, OLD),
            json={"current_password": OLD, "new_password": NEW},
        )
    elif action == "disable":
        r = httpx.patch(f"{url}/api/users/{who.id}", headers=ADMIN, json={"is_active": False})
    else:
        r = httpx.delete(f"{url}/api/users/{who.id}", headers=ADMIN)
    assert r.status_code in (200, 204), r.text


@pytest.mark.parametrize("action", ["admin_reset", "self_change", "disable", "delete"])
def test_a_credential_change_ends_tokens_sessions_and_basic_everywhere(
    two_gateways: tuple[str, str], action: str
) -> None:
    url_a, url_b = two_gateways
    who = Credentials(url_a, url_b)
    # Everything works on both processes, and the second has the token in its cache.
    assert who.answers() == {"token": [200, 200], "cookie": [200, 200], "basic_old": [200, 200]}
    _change(url_a, who, action)
    at_once = who.answers()
    # Web sessions are rows: gone for both processes at once; the old password too.
    assert at_once["cookie"] == [401, 401], at_once
    assert at_once["basic_old"] == [401, 401], at_once
    # The process that made the change forgets the token at once.
    assert at_once["token"][0] == 401, at_once
    time.sleep(TOKEN_CACHE_S + 0.5)
    later = who.answers()
    assert later == {"token": [401, 401], "cookie": [401, 401], "basic_old": [401, 401]}, later
    if action in ("admin_reset", "self_change"):
        # Only the new password opens the account, on both.
        for url in (url_a, url_b):
            assert httpx.get(f"{url}/api/me", headers=_basic(who.name, NEW)).status_code == 200
    if action == "disable":
        # A disabled user's own, unchanged password is refused too.
        for url in (url_a, url_b):
            assert httpx.get(f"{url}/api/me", headers=_basic(who.name, OLD)).status_code == 401
