"""Sign-in throttling shared by every gateway process, in Redis.

Several gateway processes behind one address (the scaled-out shape) each counting failures on
their own would give an attacker spreading guesses over them N times the attempts. Here each
key is a Redis sorted set of failure times (a sliding window, like the in-memory counter),
read and written by Lua scripts: atomic, and timed by the Redis server's clock, so gateways on
hosts with skewed clocks still agree. Every write sets the key to expire with the window, so
Redis holds nothing past it. Names are stored as SHA-256 digests: no username or address in
Redis.

When Redis fails, password checks go on, counted in this process's memory (the in-memory
SigninThrottle this class extends) until Redis answers again. Failing closed would lock
every user out of password sign-in for as long as Redis is away, while the web app and its
database still work; failing fully open would drop throttling altogether. Counting locally
keeps the one-process guarantee (the limit per process) for the length of the outage.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence

import redis

from formcoach.accounts.throttle import NONE, Key, KeyStats, SigninThrottle

log = logging.getLogger(__name__)

KEY_PREFIX = "formcoach:signin"
# Sign-in waits at most this long for Redis before counting locally.
REDIS_TIMEOUT_S = 0.5
# After a Redis failure, this long without trying it (a dead Redis would otherwise cost every
# sign-in the timeout).
REDIS_RETRY_S = 10.0

# KEYS: the keys; ARGV[1]: window in ms. Returns, per key, the failure count in the window and
# the ms since the latest (-1 when none).
_STATS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  local age = -1
  if count > 0 then
    local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    age = now - tonumber(last[2])
  end
  table.insert(out, count)
  table.insert(out, age)
end
return out
"""
# KEYS: the keys; ARGV[1]: window in ms; ARGV[2]: a random member suffix (two failures in the
# same millisecond are two failures).
_RECORD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  redis.call('ZADD', key, now, now .. ':' .. ARGV[2] .. ':' .. i)
  redis.call('PEXPIRE', key, window)
end
return now
"""


class RedisSigninThrottle(SigninThrottle):
    """SigninThrottle whose counts live in Redis, shared by every process using it."""

    def __init__(
        self,
        client: redis.Redis,
        max_per_pair: int,
        max_per_account: int,
        max_per_ip: int,
        window_s: float,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 900.0,
        prefix: str = KEY_PREFIX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            max_per_pair,
            max_per_account,
            max_per_ip,
            window_s,
            backoff_base_s,
            backoff_max_s,
            clock,
        )
        self.client = client
        self.prefix = prefix
        self._window_ms = max(1, int(window_s * 1000))
        self._stats_script = client.register_script(_STATS)
        self._record_script = client.register_script(_RECORD)
        self._down_until = 0.0
        self._state_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, *limits: float) -> RedisSigninThrottle:
        """`limits` as SigninThrottle takes them: per pair, account, ip, window, backoffs."""
        client = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
        )
        pair, account, ip, window, base, longest = limits
        return cls(client, int(pair), int(account), int(ip), window, base, longest)

    def redis_key(self, key: Key) -> str:
        kind, name = key
        return f"{self.prefix}:{kind}:{hashlib.sha256(name.encode()).hexdigest()[:32]}"

    def _usable(self) -> bool:
        with self._state_lock:
            return time.monotonic() >= self._down_until

    def _failed_redis(self, error: redis.RedisError) -> None:
        with self._state_lock:
            self._down_until = time.monotonic() + REDIS_RETRY_S
        log.warning(
            "sign-in throttle: Redis unavailable (%s); counting in this process for %.0f s",
            error,
            REDIS_RETRY_S,
        )

    def stats(self, keys: Sequence[Key]) -> list[KeyStats]:
        # Failures counted here during an outage still count once Redis is back.
        local = super().stats(keys)
        if not self._usable():
            return local
        try:
            raw = self._stats_script(
                keys=[self.redis_key(key) for key in keys], args=[self._window_ms]
            )
        except redis.RedisError as error:
            self._failed_redis(error)
            return local
        shared = [
            KeyStats(int(count), int(age) / 1000) if int(count) else NONE
            for count, age in zip(raw[::2], raw[1::2], strict=True)
        ]
        return [mine.merged(theirs) for mine, theirs in zip(local, shared, strict=True)]

    def record(self, keys: Sequence[Key]) -> None:
        if self._usable():
            try:
                self._record_script(
                    keys=[self.redis_key(key) for key in keys],
                    args=[self._window_ms, secrets.token_hex(6)],
                )
                return
            except redis.RedisError as error:
                self._failed_redis(error)
        super().record(keys)

    def clear(self, key: Key) -> None:
        super().clear(key)
        if self._usable():
            try:
                self.client.delete(self.redis_key(key))
            except redis.RedisError as error:
                self._failed_redis(error)
