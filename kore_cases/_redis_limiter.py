"""An account's budget kept in Redis or Valkey, shared by every process and machine.

Three small Lua scripts run atomically on the store, timed by the store's own ``TIME``
(so the clocks of the machines do not matter). Per account there is one sorted set per
window (member: a slot's token, score: when the slot stops counting), a key holding the
last send (for pacing) and a pause key:

- ``ACQUIRE`` drops the slots whose time is up and, if every window has room, the pause
  has passed and the pacing allows, adds the slot to every window *held until start +
  lease + window*: a process that dies mid-request frees its slot all the same.
- ``RELEASE`` re-dates the slot to *answer + window* when the answer comes (Kore counts
  arrivals; by then it has stopped counting this one); after a 429 it sets the pause
  key, which holds back every process: until the given ``Retry-After``, or until the
  oldest slot of the window frees (a whole window when there is none).
- ``CANCEL`` removes a slot whose request was never sent.

Within a process, waiters queue as in :class:`~kore_cases.RateLimiter` (one-page calls
first) and only the head asks the store, polling at a fraction of a slot.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections import deque
from typing import Any

import anyio

from ._extras import import_extra
from ._limiter import Answer, BudgetWaitTooLong, Slot
from ._ratelimit import HOURLY_WINDOW, RateLimit, redacted_url
from .errors import APIConnectionError

__all__ = ["RedisLimiter"]

logger = logging.getLogger("kore_cases")

DEFAULT_LEASE = 60.0
"""Seconds a request may stay in flight before its slot counts as answered (a crash)."""

# KEYS: pause, when the next paced request is due, then one sorted set per window.
# ARGV: lease, burst (0: no pacing), interval, token, then (max_requests, seconds) of
#       each window.
# Returns {1, now} when the slot was taken, {0, seconds to wait} when not.
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lease, burst, interval = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local token = ARGV[4]
-- A 429 pause holds back every process of the account.
local wait = (tonumber(redis.call('GET', KEYS[1]) or '0')) - now
for i = 3, #KEYS do
  local j = 5 + (i - 3) * 2
  local max_requests = tonumber(ARGV[j])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)  -- slots no longer counted
  local held = redis.call('ZCARD', KEYS[i])
  if held >= max_requests then
    -- Scores are when slots free: room comes with the (held - max_requests + 1)-th earliest.
    local first = held - max_requests
    local s = redis.call('ZRANGE', KEYS[i], first, first, 'WITHSCORES')
    wait = math.max(wait, tonumber(s[2]) - now)
  end
end
-- Pacing: after a short burst, one request per interval, on a schedule (a late
-- request does not push back the ones after it).
local due = tonumber(redis.call('GET', KEYS[2]) or '0')
if burst > 0 then
  wait = math.max(wait, due - (burst - 1) * interval - now)
end
if wait > 0 then return {0, tostring(wait)} end
for i = 3, #KEYS do
  local seconds = tonumber(ARGV[5 + (i - 3) * 2 + 1])
  -- Held while in flight, and until start + lease + window if no answer ever comes.
  redis.call('ZADD', KEYS[i], now + lease + seconds, token)
  redis.call('PEXPIRE', KEYS[i], math.ceil((lease + seconds) * 1000) + 1000)
end
if burst > 0 then
  redis.call('SET', KEYS[2], tostring(math.max(due, now) + interval), 'PX',
    math.ceil(burst * interval * 1000) + 1000)
end
return {1, tostring(now)}
"""

# KEYS: pause, then one sorted set per window.
# ARGV: token, rate limited (0/1), pause seconds (-1: none given), 429 window seconds,
#       then the seconds of each window.
# Returns {1 if a new pause began, the pause in seconds}.
RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local token = ARGV[1]
for i = 2, #KEYS do
  -- The answer came: the server stops counting the request one window from now.
  redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[4 + i - 1]), token)
end
if ARGV[2] ~= '1' then return {0, '0'} end
local pause = tonumber(ARGV[3])
if pause < 0 then
  -- No Retry-After: until the oldest slot of the window frees, or a whole window.
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  pause = tonumber(ARGV[4])
  if oldest[2] then pause = math.min(pause, tonumber(oldest[2]) - now) end
end
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + pause > current then
  redis.call('SET', KEYS[1], tostring(now + pause), 'PX', math.ceil(pause * 1000) + 1)
end
if current <= now then return {1, tostring(pause)} end
return {0, tostring(math.max(pause, current - now))}
"""

# KEYS: one sorted set per window. ARGV: token. The request was never sent.
CANCEL = """
for i = 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
return 1
"""

_POLL = 0.25  # at most this long between two asks of the store while waiting


class RedisLimiter:
    """The budget of one account kept in a Redis/Valkey ``store`` (see the module docs)."""

    def __init__(
        self, rate_limit: RateLimit, *, host: str, account_id: str, lease: float = DEFAULT_LEASE
    ) -> None:
        if rate_limit.store is None:
            raise ValueError("RedisLimiter needs a RateLimit with a store")
        redis = import_extra("redis.asyncio", "redis", "RateLimit(..., store=...)")
        self.rate_limit = rate_limit
        self.url = redacted_url(rate_limit.store)
        self._redis: Any = redis.Redis.from_url(
            rate_limit.store, socket_connect_timeout=5.0, socket_timeout=10.0
        )
        # One hash tag per account: every key of it lands on one cluster slot.
        prefix = f"kore-cases:{{{host}|{account_id}}}"
        self._pause_key, self._last_key = f"{prefix}:pause", f"{prefix}:last"
        self._window_keys = [f"{prefix}:w{n}:{s:g}" for n, s in rate_limit.windows]
        self._acquire = self._redis.register_script(ACQUIRE)
        self._release = self._redis.register_script(RELEASE)
        self._cancel = self._redis.register_script(CANCEL)
        self._lease = lease
        self._account = f"account {account_id} at {host}"
        self._interactive: deque[object] = deque()
        self._bulk: deque[object] = deque()
        self._changed: anyio.Event | None = None

    def describe(self) -> str:
        """The rate and where it is kept (the store's URL without its password)."""
        return f"{self.rate_limit!r} of {self._account}, kept in {self.url}"

    async def acquire(self, *, interactive: bool = False, max_wait: float = math.inf) -> Slot:
        """Wait for room in the shared budget, one-page calls first within this process."""
        ticket = object()
        queue = self._interactive if interactive else self._bulk
        queue.append(ticket)
        started = time.monotonic()
        token = uuid.uuid4().hex
        try:
            while True:
                head = self._interactive[0] if self._interactive else self._bulk[0]
                wait = await self._try(token) if head is ticket else math.inf
                now = time.monotonic()
                if wait <= 0:
                    return Slot(now, now - started if now - started > 0.001 else 0.0, token)
                waited = now - started
                if waited >= max_wait:
                    needed = wait if math.isfinite(wait) else self.rate_limit.interval
                    raise BudgetWaitTooLong(waited, needed, self.describe())
                changed = self._event()
                poll = min(wait, _POLL, max(0.005, self.rate_limit.interval / 2))
                with anyio.move_on_after(min(poll, started + max_wait - now)):
                    await changed.wait()
        finally:
            queue.remove(ticket) if ticket in queue else None
            self._notify()

    async def release(self, slot: Slot, answer: Answer) -> bool:
        """Re-date the slot to now + window; after a 429, pause every process."""
        try:
            if not answer.sent:
                await self._cancel(keys=self._window_keys, args=[slot.token])
                return False
            if answer.hourly:
                pause = answer.retry_after if answer.retry_after is not None else HOURLY_WINDOW
            else:
                pause = answer.retry_after if answer.retry_after is not None else -1.0
            window = min(seconds for _, seconds in self.rate_limit.windows)
            seconds = [str(s) for _, s in self.rate_limit.windows]
            began, paused = await self._release(
                keys=[self._pause_key, *self._window_keys],
                args=[slot.token, "1" if answer.rate_limited else "0", pause, window, *seconds],
            )
        except Exception as exc:  # the store went away: the slot frees by its lease
            logger.warning("could not give a slot back to %s: %s", self.url, exc)
            return False
        finally:
            self._notify()
        if int(began):
            logger.info("429 for %s: every process waits %.1f s", self.describe(), float(paused))
        return bool(int(began))

    async def aclose(self) -> None:
        """Close the connections to the store."""
        await self._redis.aclose()

    async def _try(self, token: str) -> float:
        """Take a slot now (0) or say how long to wait; an unreachable store is an error."""
        rate = self.rate_limit
        args: list[Any] = [
            self._lease,
            rate.burst or 0,
            rate.interval,
            token,
        ]
        for count, seconds in rate.windows:
            args += [count, seconds]
        try:
            taken, value = await self._acquire(
                keys=[self._pause_key, self._last_key, *self._window_keys], args=args
            )
        except Exception as exc:
            raise APIConnectionError(
                f"the rate-limit store {self.url} cannot be used ({type(exc).__name__}: "
                f"{redacted_url(str(exc))}); no request was sent: start the store, or fix "
                "KORE_RATE_STORE / --rate-store / RateLimit(store=...)"
            ) from None
        return 0.0 if int(taken) else float(value)

    def _event(self) -> anyio.Event:
        if self._changed is None:
            self._changed = anyio.Event()
        return self._changed

    def _notify(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()
