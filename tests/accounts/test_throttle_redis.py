"""Sign-in throttling shared through Redis by every gateway process (accounts/throttle_redis.py).

Against the real Redis of this machine (127.0.0.1:6379, database REDIS_DB, a key prefix of
its own per test, removed afterwards), a second OS process, two gateway apps on one database,
and a Redis of the test's own that it stops.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from formcoach.accounts.signin import SigninThrottle, make_signin_throttle
from formcoach.accounts.throttle_redis import KEY_PREFIX, RedisSigninThrottle
from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.kit.settings import Settings
from tests.conftest import make_settings
from tests.support.apputil import ADMIN, ADMIN_PW, basic
from tests.support.ports import free_port

REDIS_DB = 13
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"


@pytest.fixture()
def client() -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(REDIS_URL)
    yield c
    c.close()


@pytest.fixture()
def prefix(client: redis.Redis) -> Iterator[str]:
    name = f"test-throttle-{uuid.uuid4().hex[:12]}"
    yield name
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)


def _throttle(client: redis.Redis, prefix: str, window_s: float = 600.0) -> RedisSigninThrottle:
    # 3 failures per (account, address) pair; a 600 s wait after the third.
    return RedisSigninThrottle(client, 3, 100, 5, window_s, 600.0, 900.0, prefix=prefix)


def test_two_throttles_share_the_count(client: redis.Redis, prefix: str) -> None:
    first, second = _throttle(client, prefix), _throttle(client, prefix)
    first.failed("Runner", "203.0.113.7")
    second.failed("runner", "203.0.113.7")
    assert first.retry_after("runner", "203.0.113.7") == 0
    first.failed("RUNNER", "203.0.113.7")
    # Three failures of the pair, counted by two instances: both slow it now.
    for throttle in (first, second):
        wait = throttle.retry_after("runner", "203.0.113.7")
        assert 590 <= wait <= 600
        assert throttle.retry_after("someone-else", "203.0.113.7") == 0
        assert throttle.retry_after("runner", "198.51.100.1") == 0
    # Nothing was counted in either process's memory; Redis holds no names, only digests.
    assert not first._failures and not second._failures
    keys = {k.decode() for k in client.scan_iter(f"{prefix}:*")}
    assert len(keys) == 3 and not any("runner" in k or "203.0" in k for k in keys)
    # A success on one clears the pair for both; the account and the address keep counts.
    second.succeeded("runner", "203.0.113.7")
    assert first.retry_after("runner", "203.0.113.7") == 0
    assert client.zcard(first.redis_key(("ip", "203.0.113.7"))) == 3


def test_a_second_process_counts_for_this_one(client: redis.Redis, prefix: str) -> None:
    here = _throttle(client, prefix)
    here.failed("coach", "192.0.2.1")
    code = (
        "import redis\n"
        "from formcoach.accounts.throttle_redis import RedisSigninThrottle\n"
        f"c = redis.Redis.from_url({REDIS_URL!r})\n"
        f"t = RedisSigninThrottle(c, 3, 100, 5, 600.0, 600.0, 900.0, prefix={prefix!r})\n"
        "t.failed('coach', '192.0.2.1')\n"
        "t.failed('coach', '192.0.2.1')\n"
        "print(t.retry_after('coach', '192.0.2.1'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    # The other process saw this one's failure too (its third makes the limit)...
    assert int(out.stdout.strip()) > 0
    # ...and this one sees the other's two.
    assert here.retry_after("coach", "192.0.2.1") > 0
    assert client.zcard(here.redis_key(("account", "coach"))) == 3


def test_failures_expire_with_the_window(client: redis.Redis, prefix: str) -> None:
    throttle = _throttle(client, prefix, window_s=1.0)
    for _ in range(3):
        throttle.failed("sprinter", "192.0.2.10")
    assert throttle.retry_after("sprinter", "192.0.2.10") == 1  # the window ends the wait
    key = throttle.redis_key(("account", "sprinter"))
    # Each key expires with the window: Redis keeps nothing older.
    assert 0 < client.pttl(key) <= 1000
    time.sleep(1.2)
    assert throttle.retry_after("sprinter", "192.0.2.10") == 0
    assert client.exists(key) == 0
    assert not list(client.scan_iter(f"{prefix}:*"))


def test_the_factory_picks_redis_only_when_configured(tmp_path: Path) -> None:
    plain = make_signin_throttle(make_settings(tmp_path))
    assert type(plain) is SigninThrottle
    shared = make_signin_throttle(make_settings(tmp_path, broker_url=REDIS_URL))
    assert isinstance(shared, RedisSigninThrottle)
    assert shared.client.connection_pool.connection_kwargs["db"] == REDIS_DB
    shared.client.close()


@pytest.fixture()
def two_gateways(tmp_path: Path, client: redis.Redis) -> Iterator[tuple[TestClient, TestClient]]:
    """Two gateway apps on one database and one Redis: two processes of the scaled shape."""

    def clean() -> None:
        for key in client.scan_iter(f"{KEY_PREFIX}:*"):
            client.delete(key)

    clean()
    settings = make_settings(
        tmp_path / "data",
        broker_url=REDIS_URL,
        signin_max_failures_per_pair=4,
        signin_max_failures_per_ip=100,
        signin_backoff_base_s=300.0,
    )
    prepare(settings)
    with (
        TestClient(create_app(settings, start_jobs=False)) as a,
        TestClient(create_app(settings, start_jobs=False)) as b,
    ):
        yield a, b
    clean()


def test_guesses_spread_over_two_gateways_share_one_limit(
    two_gateways: tuple[TestClient, TestClient],
) -> None:
    a, b = two_gateways
    for gateway in (a, b, a, b):
        r = gateway.get("/api/me", headers=basic("admin", "a-wrong-guess"))
        assert r.status_code == 401, r.text
    # Per process each gateway saw two failures of the pair (under the limit of 4); together 4.
    for gateway in (a, b):
        r = gateway.get("/api/me", headers=ADMIN)
        assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"
        assert int(r.headers["Retry-After"]) > 0
    assert isinstance(a.app.state.signin_throttle, RedisSigninThrottle)  # type: ignore[attr-defined]


def _settings_for(tmp_path: Path, url: str) -> Settings:
    return make_settings(
        tmp_path / "data",
        broker_url=url,
        signin_max_failures_per_pair=3,
        signin_max_failures_per_ip=100,
        signin_backoff_base_s=300.0,
    )


def test_redis_unreachable_sign_in_works_and_counts_locally(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Fail to local counting: sign-in goes on, and the per-process limit still holds."""
    settings = _settings_for(tmp_path, f"redis://127.0.0.1:{free_port()}/0")  # nobody listens
    prepare(settings)
    with caplog.at_level(logging.WARNING), TestClient(create_app(settings, start_jobs=False)) as c:
        assert c.get("/api/me", headers=ADMIN).json()["username"] == "admin"
        for _ in range(3):
            assert c.get("/api/me", headers=basic("admin", "guess-1234")).status_code == 401
        r = c.get("/api/me", headers=ADMIN)
        assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"
        throttle = c.app.state.signin_throttle  # type: ignore[attr-defined]
        assert isinstance(throttle, RedisSigninThrottle)
        assert throttle._failures[("account", "admin")]
    assert "Redis unavailable" in caplog.text


def test_redis_stopping_mid_way_keeps_sign_in_working(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(tmp_path)),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        probe = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis did not start"
                time.sleep(0.05)
        settings = _settings_for(tmp_path, f"redis://127.0.0.1:{port}/0")
        prepare(settings)
        with TestClient(create_app(settings, start_jobs=False)) as c:
            assert c.get("/api/me", headers=basic("admin", "guess-1234")).status_code == 401
            assert probe.dbsize() == 3  # the pair, the account and the address, in Redis
            server.terminate()
            server.wait(timeout=10)
            assert c.get("/api/me", headers=ADMIN).json()["username"] == "admin"
            assert c.get("/api/me", headers=basic("admin", "guess-1234")).status_code == 401
            # Past the pause after an error, Redis is tried again (still down: local again).
            throttle = c.app.state.signin_throttle  # type: ignore[attr-defined]
            throttle._down_until = 0.0
            assert c.get("/api/me", headers=ADMIN).json()["username"] == "admin"
            assert throttle._down_until > time.monotonic()
            web = c.get("/login")
            assert web.status_code == 200
            csrf = web.text.split('name="csrf" value="')[1].split('"')[0]
            signed_in = c.post(
                "/login",
                data={"username": "admin", "password": ADMIN_PW, "csrf": csrf},
                follow_redirects=False,
            )
            assert signed_in.status_code == 303
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)
