"""Sign-in throttling that slows guessers down and never locks the user out (accounts/throttle.py).

Each lock-out found by the hostile-user review is replayed through the real app: guesses at
`admin` from one address, many guesses from one shop address, and a rotating X-Forwarded-For
sent from loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from formcoach.accounts.throttle import SigninThrottle
from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from tests.conftest import make_settings
from tests.support.apputil import ADMIN, ADMIN_PW, basic

PAIR_LIMIT = 3
BASE_S = 60.0


def _app(tmp_path: Path, **extra: object) -> FastAPI:
    settings = make_settings(
        tmp_path / "data",
        signin_max_failures_per_pair=PAIR_LIMIT,
        signin_max_failures_per_account=10,
        signin_max_failures_per_ip=10,
        signin_backoff_base_s=BASE_S,
        signin_window_s=900.0,
        **extra,
    )
    prepare(settings)
    return create_app(settings, start_jobs=False)


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[FastAPI]:
    made = _app(tmp_path)
    with TestClient(made):
        yield made


def _from(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 40000))


def _me(client: TestClient, username: str, password: str, **headers: str) -> int:
    r = client.get("/api/me", headers={**basic(username, password), **headers})
    return r.status_code


# --- the policy, on a clock of the test's own ---------------------------------------------


def test_a_failing_pair_waits_longer_after_each_failure() -> None:
    now = [0.0]
    t = SigninThrottle(3, 100, 100, 3600.0, backoff_base_s=10.0, backoff_max_s=45.0,
                       clock=lambda: now[0])  # fmt: skip
    t.failed("Alice", "10.0.0.1")
    t.failed("alice", "10.0.0.1")  # usernames compare case-insensitively
    assert t.retry_after("ALICE", "10.0.0.1") == 0  # two free mistakes
    waits = []
    for _ in range(4):
        t.failed("alice", "10.0.0.1")
        waits.append(t.retry_after("alice", "10.0.0.1"))
        now[0] += waits[-1]  # the guesser waits it out, then guesses again
    assert waits == [10, 20, 40, 45]  # doubling, up to the ceiling
    # Nobody else is slowed: the account from another address, the address for another account.
    assert t.retry_after("alice", "10.0.0.2") == 0
    assert t.retry_after("bob", "10.0.0.1") == 0
    # The right password (succeeded) forgives that pair only.
    t.succeeded("alice", "10.0.0.1")
    assert t.retry_after("alice", "10.0.0.1") == 0


def test_an_address_that_has_not_failed_is_never_refused() -> None:
    now = [0.0]
    t = SigninThrottle(3, 5, 5, 3600.0, backoff_base_s=10.0, clock=lambda: now[0])
    for i in range(50):  # a botnet guessing at alice, and one address spraying every account
        t.failed("alice", f"203.0.113.{i}")
        t.failed(f"user{i}", "198.51.100.7")
    assert t.retry_after("alice", "192.0.2.1") == 0
    assert t.retry_after("carol", "198.51.100.7") == 0
    # A pair that failed once pays for the account's and the address's counts.
    t.failed("alice", "192.0.2.1")
    t.failed("carol", "198.51.100.7")
    assert t.retry_after("alice", "192.0.2.1") > 0
    assert t.retry_after("carol", "198.51.100.7") > 0
    # Failures leave the window: nothing is remembered after it.
    now[0] += 3601
    assert (
        t.retry_after("alice", "203.0.113.1") == 0 and not t.stats([("account", "alice")])[0].count
    )


# --- the lock-outs of the review, through the app -------------------------------------------


def test_guessing_at_admin_does_not_lock_the_admin_out(app: FastAPI) -> None:
    attacker, admin = _from(app, "203.0.113.7"), _from(app, "198.51.100.2")
    codes = [_me(attacker, "admin", f"guess-{i}-xyz") for i in range(PAIR_LIMIT + 5)]
    assert codes[:PAIR_LIMIT] == [401] * PAIR_LIMIT and set(codes[PAIR_LIMIT:]) == {429}
    # The attacker is slowed, in their language, with the wait in Retry-After...
    for lang, word in (("en", "Too many failed sign-in attempts"), ("ja", "サインインの失敗")):
        r = attacker.get(f"/api/me?lang={lang}", headers=ADMIN)
        assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"
        wait = int(r.headers["Retry-After"])
        assert 0 < wait <= BASE_S and str(wait) in r.json()["error"]["message"]
        assert word in r.json()["error"]["message"]
    # ...and the admin, at an address that has not failed, signs in at once, again and again.
    for _ in range(3):
        assert _me(admin, "admin", ADMIN_PW) == 200
    # The web form is the same sign-in.
    page = admin.get("/login").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    r = admin.post(
        "/login",
        data={"username": "admin", "password": ADMIN_PW, "csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def test_failures_from_a_shop_address_do_not_lock_out_its_other_users(app: FastAPI) -> None:
    shop = _from(app, "192.0.2.50")
    for name in ("coach-a", "coach-b"):
        r = shop.post(
            "/api/users",
            headers=ADMIN,
            json={"username": name, "password": f"{name[-1]}-pass-9876"},
        )
        assert r.status_code == 201, r.text  # fmt: skip
    # 20 failures from the shop's one address (someone guessing at many names)...
    for i in range(20):
        assert _me(shop, f"user{i}", "wrong-pw-123") == 401
    assert _me(shop, "coach-a", "wrong-pw-123") == 401
    assert _me(shop, "coach-a", "a-pass-9876") == 429  # a pair that failed is slowed
    # ...while the other coach behind the same address signs in with the right password.
    assert _me(shop, "coach-b", "b-pass-9876") == 200
    assert _me(shop, "admin", ADMIN_PW) == 200


def test_rotating_forwarded_for_from_loopback_does_not_escape(app: FastAPI) -> None:
    local = _from(app, "127.0.0.1")
    codes = [
        _me(local, "admin", f"guess-{i}-xyz", **{"X-Forwarded-For": f"198.51.100.{i}"})
        for i in range(PAIR_LIMIT + 3)
    ]
    # No proxy is trusted by default: every guess counted against 127.0.0.1.
    assert codes[:PAIR_LIMIT] == [401] * PAIR_LIMIT and set(codes[PAIR_LIMIT:]) == {429}


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    made = _app(tmp_path, trusted_proxies="127.0.0.1, 10.0.0.0/8")
    with TestClient(made):
        proxy = _from(made, "127.0.0.1")
        attacker = {"X-Forwarded-For": "forged-by-client, 203.0.113.9, 10.1.2.3"}
        for i in range(PAIR_LIMIT):
            assert _me(proxy, "admin", f"guess-{i}-xyz", **attacker) == 401
        # Right to left past the trusted hops, the client is 203.0.113.9: it is slowed...
        assert _me(proxy, "admin", ADMIN_PW, **attacker) == 429
        # ...whatever it writes further left, while another client behind the proxy gets in.
        assert _me(proxy, "admin", ADMIN_PW, **{"X-Forwarded-For": "x, 203.0.113.9"}) == 429
        assert _me(proxy, "admin", ADMIN_PW, **{"X-Forwarded-For": "198.51.100.4"}) == 200
        # A peer outside the trusted list is the client, whatever header it sends.
        outsider = _from(made, "192.0.2.77")
        for i in range(PAIR_LIMIT):
            assert _me(outsider, "admin", f"g-{i}-xyz", **{"X-Forwarded-For": f"10.9.9.{i}"}) == 401
        assert _me(outsider, "admin", ADMIN_PW, **{"X-Forwarded-For": "10.9.9.99"}) == 429


def test_a_bad_trusted_proxy_setting_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6"):
        make_settings(tmp_path / "data", trusted_proxies="10.0.0.0/8, nginx")
