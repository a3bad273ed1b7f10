"""Password-check throttling that slows the guesser down and never locks the user out.

Failures are counted per (account, client address) pair. After `max_per_pair` failures within
the window, that pair waits before its next check, the wait doubling with each further failure
(backoff_base_s, 2×, 4×… up to backoff_max_s). A pair with no failure in the window is never
refused: the right password from an address that has not failed for that account always gets
checked, so nobody can lock a user out by guessing at their name (OWASP Authentication Cheat
Sheet, "Login Throttling"; NIST SP 800-63B 5.2.2 rate limiting).

Failures are also counted per account and per address. Past their limits they add waits, but
only to pairs that have failed themselves:
- many addresses guessing one account (`max_per_account`): every failing pair of that account
  backs off further, while the account's owner, at an address that has not failed, signs in;
- one address guessing many accounts (`max_per_ip`): that address's failing pairs back off,
  while colleagues behind the same shop router sign in to their own accounts.
A guesser with fresh addresses or fresh account names gets one guess per pair and window; the
password rules (length, no common passwords) make one guess worthless.

The "change" key (the current password asked by a password change) is a pair of its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from formcoach.kit.backoff import doubling_backoff

# Above this many keys with recent failures, expired ones are swept out.
MAX_TRACKED_KEYS = 10_000

Key = tuple[str, str]


@dataclass(frozen=True)
class KeyStats:
    """Failures of one key within the window, and seconds since the latest of them."""

    count: int
    age_s: float

    def merged(self, other: KeyStats) -> KeyStats:
        if not other.count:
            return self
        if not self.count:
            return other
        return KeyStats(self.count + other.count, min(self.age_s, other.age_s))


NONE = KeyStats(0, math.inf)


def signin_keys(account: str, ip: str) -> list[Key]:
    """The pair first (it gates the others), then the account and the address."""
    name = account.casefold()
    return [("pair", f"{name}\x00{ip}"), ("account", name), ("ip", ip)]


class SigninThrottle:
    """Counts in this process's memory (the one-process default).

    RedisSigninThrottle (accounts/throttle_redis.py) keeps the same counts in Redis so that every
    gateway process shares them; only `stats`/`record`/`clear` differ.
    """

    def __init__(
        self,
        max_per_pair: int,
        max_per_account: int,
        max_per_ip: int,
        window_s: float,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {
            "pair": max_per_pair,
            "change": max_per_pair,
            "account": max_per_account,
            "ip": max_per_ip,
        }
        self.window_s = window_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._clock = clock
        self._failures: dict[Key, deque[float]] = {}
        self._lock = threading.Lock()

    # --- storage (overridden by the Redis variant) ------------------------------------------

    def _recent(self, key: Key, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def stats(self, keys: Sequence[Key]) -> list[KeyStats]:
        now = self._clock()
        with self._lock:
            found = [self._recent(key, now) for key in keys]
        return [KeyStats(len(t), now - t[-1]) if t else NONE for t in found]

    def record(self, keys: Sequence[Key]) -> None:
        """One failure on each key."""
        now = self._clock()
        with self._lock:
            if len(self._failures) > MAX_TRACKED_KEYS:
                # Guesses at many made-up usernames leave keys nobody asks about again.
                for key in list(self._failures):
                    self._recent(key, now)
            for key in keys:
                self._recent(key, now)
                self._failures.setdefault(key, deque()).append(now)

    def clear(self, key: Key) -> None:
        with self._lock:
            self._failures.pop(key, None)

    # --- policy -----------------------------------------------------------------------------

    def backoff_s(self, count: int, limit: int) -> float:
        """The wait after `count` failures on a key whose first `limit - 1` are free."""
        if count < limit:
            return 0.0
        return doubling_backoff(self.backoff_base_s, count - limit, self.backoff_max_s)

    def wait_for(self, keys: Sequence[Key]) -> int:
        """Seconds until a password check on these keys is accepted; 0 when it is now.

        keys[0] is the pair: with no failure of its own, nothing else can make it wait.
        """
        found = self.stats(keys)
        if not found or not found[0].count:
            return 0
        wait = 0.0
        for key, stat in zip(keys, found, strict=True):
            backoff = self.backoff_s(stat.count, self.limits[key[0]])
            if backoff:
                # Once the latest failure has left the window, the key has none left.
                wait = max(wait, min(backoff, self.window_s) - stat.age_s)
        return math.ceil(wait) if wait > 0 else 0

    def retry_after(self, account: str, ip: str) -> int:
        return self.wait_for(signin_keys(account, ip))

    def failed(self, account: str, ip: str) -> None:
        self.record(signin_keys(account, ip))

    def succeeded(self, account: str, ip: str) -> None:
        # Only the pair is forgiven: one known password must not reset guessing at others,
        # nor the account's count of guesses from elsewhere.
        self.clear(signin_keys(account, ip)[0])
