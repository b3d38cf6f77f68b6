"""One account's budget shared by every client of that account in this process.

:class:`RateLimiter` queues the requests of every client given it and lets them through
as the :class:`~kore_cases._ratelimit.Budget` allows, first come first served, except
that one-page calls (``get_page``, ``count``, a watch's poll) go before the prefetches of
a pull: a pull never keeps an interactive call waiting for more than one request's turn.
A 429 pauses every request of the account, whichever client received it.

By default clients share one limiter per host, account and :class:`RateLimit` in the
process (:func:`shared_limiter`), whatever event loop or thread they run in: the blocking
client's loop thread, successive ``asyncio.run`` calls and an async app all spend one
budget. A :class:`RateLimit` with a ``store`` shares it across processes through Redis or
Valkey instead (``_redis_limiter``; one connection per event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import anyio

from ._ratelimit import DEFAULT_RATE_LIMIT, KORE_WINDOW, Budget, RateLimit

__all__ = [
    "LOG_WAIT_AFTER",
    "AccountLimiter",
    "Answer",
    "BudgetWaitTooLong",
    "RateLimiter",
    "Slot",
    "release_shared",
    "shared_limiter",
]

logger = logging.getLogger("kore_cases")

LOG_WAIT_AFTER = 5.0
"""A request that waits this many seconds for the budget is logged at INFO (once a pause)."""


@dataclass(frozen=True)
class Slot:
    """A request's place in the budget, from :meth:`AccountLimiter.acquire`."""

    sent: float
    """When the slot was taken, on the limiter's clock."""
    waited: float
    """Seconds the request waited for the budget (0 when it went at once)."""
    token: str = ""
    """The store's name for the slot (shared limiters only)."""


@dataclass(frozen=True)
class Answer:
    """How a request that held a :class:`Slot` ended."""

    sent: bool = True
    """False when the request never left: its slot frees at once."""
    counted: bool = True
    """False for a 429: it holds its slot but was not room the window had."""
    rate_limited: bool = False
    retry_after: float | None = None
    hourly: bool = False
    """Kore said ``hourly rate limit`` rather than ``per-minute``."""


class BudgetWaitTooLong(Exception):
    """A request would wait for the budget beyond the wait it was allowed."""

    def __init__(self, waited: float, needed: float, describe: str) -> None:
        super().__init__(
            f"waited {waited:.1f} s for the rate budget; it needed about {needed:.1f} s more"
        )
        self.waited = waited
        self.needed = needed
        self.describe = describe


class AccountLimiter(Protocol):
    """What a client needs from a budget: a queue to wait in, and news of each answer."""

    def describe(self) -> str:
        """The rate and where it is kept, for messages (no secrets)."""
        ...

    async def acquire(self, *, interactive: bool, max_wait: float) -> Slot:
        """Wait for room in the budget and take it; past ``max_wait`` raise
        :class:`BudgetWaitTooLong`."""
        ...

    async def release(self, slot: Slot, answer: Answer) -> bool:
        """Give the slot back as ``answer`` says; return whether a new 429 pause began."""
        ...

    async def aclose(self) -> None:
        """Let go of what the limiter holds (connections)."""
        ...


class RateLimiter:
    """A request budget shared, in this process, by every client it is given to.

    Clients of one host and account share one by default; pass your own to share a
    budget between accounts on purpose, or to keep a client apart::

        budget = RateLimiter(RateLimit((60, 60.0)))
        a = CasesClient(..., rate_limit=budget)
        b = CasesClient(..., rate_limit=budget)

    ``rate_limit=None`` makes a limiter that only pauses after 429s (and learns from
    them), assuming Kore's rolling ``assumed_window``. A limiter may be used from several
    event loops and threads at once (a blocking client beside an async one).
    A :class:`RateLimit` with a ``store`` is shared through the store instead: pass the
    :class:`RateLimit` itself to the client.
    """

    def __init__(
        self,
        rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT,
        *,
        assumed_window: float = KORE_WINDOW,
        name: str = "this limiter",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise TypeError(f"rate_limit must be a RateLimit or None, not {rate_limit!r}")
        if rate_limit is not None and rate_limit.store is not None:
            raise ValueError(
                "a RateLimit with a store is shared through the store: pass it to the client "
                "as rate_limit=, not to RateLimiter"
            )
        if not 0 < assumed_window < math.inf:
            raise ValueError(
                f"assumed_window must be a finite number of seconds > 0, not {assumed_window!r}"
            )
        self.rate_limit = rate_limit
        self.name = name
        self.budget: Budget = Budget(rate_limit, assumed_window=assumed_window)
        self._clock = clock
        self._interactive: deque[object] = deque()
        self._bulk: deque[object] = deque()
        # Waiters to wake when the budget changes, each in its own loop (maybe another
        # thread's); the lock guards all the state, never held across an await.
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        self._logged = False

    def __repr__(self) -> str:
        return f"RateLimiter({self.rate_limit!r}, name={self.name!r})"

    def describe(self) -> str:
        """The rate and whose budget it is, for messages."""
        return (
            f"{self.rate_limit!r} of {self.name}"
            if self.rate_limit
            else f"the 429 pauses of {self.name}"
        )

    async def acquire(self, *, interactive: bool = False, max_wait: float = math.inf) -> Slot:
        """Wait for room, interactive calls first, then first come first served."""
        ticket = object()
        queue = self._interactive if interactive else self._bulk
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            queue.append(ticket)
        started = now = self._clock()
        try:
            while True:
                with self._lock:
                    mine = self._head() is ticket
                    wait = self.budget.wait(now) if mine else math.inf
                    if wait <= 0:
                        return Slot(self.budget.take(now), now - started)
                    waited = now - started
                    # A 429 pause never shortens: one beyond the wait allowed fails now.
                    if waited >= max_wait or self.budget.pause_until > started + max_wait:
                        needed = self._needed(ticket, now)
                        raise BudgetWaitTooLong(waited, needed, self.describe())
                    if waited >= LOG_WAIT_AFTER and not self._logged:
                        self._log_wait(waited, now)
                    sleep = min(wait, started + max_wait - now)
                    if not self._logged:
                        sleep = min(sleep, started + LOG_WAIT_AFTER - now)
                    waiter[1].clear()
                    self._waiters.add(waiter)
                with anyio.move_on_after(max(sleep, 0.0)):
                    await waiter[1].wait()
                now = self._clock()
        finally:
            with self._lock:
                self._waiters.discard(waiter)
                queue.remove(ticket) if ticket in queue else None
                if not self._interactive and not self._bulk:
                    self._logged = False
                self._notify()

    async def release(self, slot: Slot, answer: Answer) -> bool:
        """Give a slot back; a 429 pauses everyone. Returns whether a new pause began."""
        with self._lock:
            return self._release(slot, answer)

    def _release(self, slot: Slot, answer: Answer) -> bool:
        now = self._clock()
        if not answer.sent:
            self.budget.cancel()
            self._notify()
            return False
        self.budget.release(now, slot.sent, answered=answer.counted and not answer.rate_limited)
        began = False
        if answer.rate_limited:
            began = now >= self.budget.pause_until
            pause = self.budget.rate_limited(now, answer.retry_after, hourly=answer.hourly)
            if began:
                self._logged = False
                learned = self.budget.learned_max_requests
                logger.info(
                    "429 for %s: every request waits %.1f s%s",
                    self.describe(),
                    pause,
                    f"; keeping to {learned} requests a window" if learned else "",
                )
        self._notify()
        return began

    async def aclose(self) -> None:
        """Nothing to close: the budget lives in this process."""

    def _head(self) -> object | None:
        if self._interactive:
            return self._interactive[0]
        return self._bulk[0] if self._bulk else None

    def _needed(self, ticket: object, now: float) -> float:
        """About how long ``ticket`` still had to wait: the head's wait, then a slot each."""
        order = [*self._interactive, *self._bulk]
        ahead = order.index(ticket) if ticket in order else 0
        return self.budget.wait(now) + ahead * max(self.budget.interval, 0.0)

    def _log_wait(self, waited: float, now: float) -> None:
        self._logged = True
        queued = len(self._interactive) + len(self._bulk)
        logger.info(
            "a request has waited %.1f s for the rate budget (%s); %d queued, next slot in %.1f s",
            waited,
            self.describe(),
            queued,
            self.budget.wait(now),
        )

    def _notify(self) -> None:
        """Wake every waiter to look again, each in its own loop (call with the lock)."""
        waiters, self._waiters = self._waiters, set()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, changed in waiters:
            if loop is running:
                changed.set()
                continue
            with contextlib.suppress(RuntimeError):  # a closed loop has nobody waiting
                loop.call_soon_threadsafe(changed.set)


# -- sharing --------------------------------------------------------------------------

_Key = tuple[str, str, "RateLimit | None"]
# In-process budgets are the process's, whatever loop or thread a client runs in; a
# store's limiter holds a connection of one event loop, so there is one per loop.
_process: dict[_Key, RateLimiter] = {}
_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_Key, AccountLimiter]] = (
    weakref.WeakKeyDictionary()
)
_registry_lock = threading.Lock()
_users: dict[int, int] = {}


def shared_limiter(host: str, account_id: str, rate_limit: RateLimit | None) -> AccountLimiter:
    """The limiter every client of ``host`` and ``account_id`` uses in this process."""
    host = _origin(host)
    key = (host, account_id, rate_limit)
    with _registry_lock:
        limiter: AccountLimiter | None
        if rate_limit is not None and rate_limit.store is not None:
            limiters = _per_loop.setdefault(asyncio.get_running_loop(), {})
            limiter = limiters.get(key)
            if limiter is None:
                from ._redis_limiter import RedisLimiter

                limiter = limiters[key] = RedisLimiter(rate_limit, host=host, account_id=account_id)
        else:
            limiter = _process.get(key)
            if limiter is None:
                name = f"account {account_id} at {host}"
                limiter = _process[key] = RateLimiter(rate_limit, name=name)
        _users[id(limiter)] = _users.get(id(limiter), 0) + 1
        return limiter


def _origin(host: str) -> str:
    """``host`` as one server: the name in lower case, without the scheme's default port."""
    parts = urlsplit(host)
    if parts.hostname is None:
        return host
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        name += f":{port}"
    return urlunsplit((parts.scheme.lower(), name, parts.path, "", ""))


_DEFAULT_PORTS = {"https": 443, "http": 80}


async def release_shared(limiter: AccountLimiter) -> None:
    """A client is done with a limiter from :func:`shared_limiter`.

    A store's limiter is closed with its last client (its state lives in the store);
    an in-process one stays, so that the next client of the account still knows the
    requests of the last minute.
    """
    with _registry_lock:
        count = _users.get(id(limiter), 0) - 1
        if count > 0:
            _users[id(limiter)] = count
            return
        _users.pop(id(limiter), None)
        if isinstance(limiter, RateLimiter):
            return
        for limiters in _per_loop.values():
            for key, value in list(limiters.items()):
                if value is limiter:
                    del limiters[key]
    await limiter.aclose()
