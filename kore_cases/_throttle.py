"""The gate every request attempt of a client passes: concurrency, 429 pauses, rate windows.

A request attempt runs inside ``async with throttle.turn() as turn:``; the turn is taken
on entry (waiting as long as needed) and given back on exit, whatever happened inside.
The body tells the turn how the answer went (:meth:`Turn.succeeded`,
:meth:`Turn.rate_limited`); the throttle adapts when the turn ends.

Concurrency adapts like TCP congestion control (AIMD): a 429 halves the number of
requests allowed in flight and pauses new ones until ``Retry-After`` has passed; each
success then adds ``1/limit`` back, so the full ``concurrency`` returns after about one
window of successes. Together they turn a 429 into a short, shared pause instead of a
retry storm, when the server's limit is unknown or shared with other clients.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

import anyio

from ._ratelimit import RateLimit, RateLimiter

__all__ = ["Throttle", "Turn"]

_DEFAULT_PAUSE = 1.0  # seconds to pause after a 429 that names no Retry-After


class Turn:
    """One request attempt's turn: ``async with throttle.turn() as turn:``.

    ``waited`` holds the seconds spent waiting for pauses or rate windows on entry.
    """

    __slots__ = ("_outcome", "_retry_after", "_throttle", "waited")

    def __init__(self, throttle: Throttle) -> None:
        self._throttle = throttle
        self.waited: float = 0.0
        self._outcome: str | None = None
        self._retry_after: float | None = None

    def succeeded(self) -> None:
        """The answer was a usable page: concurrency may grow back."""
        self._outcome = "ok"

    def rate_limited(self, retry_after: float | None) -> None:
        """The answer was a 429 to be waited for: pause and slow down (``None``: no header)."""
        self._outcome = "429"
        self._retry_after = retry_after

    async def __aenter__(self) -> Turn:
        self.waited = await self._throttle._acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        throttle = self._throttle
        throttle._release()
        if self._outcome == "ok":
            throttle.on_success()
        elif self._outcome == "429":
            throttle.on_rate_limited(self._retry_after)


class Throttle:
    """Admit request attempts: at most ``limit`` in flight, none while paused, within rate."""

    def __init__(
        self,
        concurrency: int,
        rate_limit: RateLimit | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_concurrency = concurrency
        self.limit: float = float(concurrency)
        self.active: int = 0
        self._clock = clock
        self._pause_until = 0.0
        self._freed = anyio.Event()
        self._waiting = 0
        self._rate = RateLimiter(rate_limit, clock=clock) if rate_limit is not None else None

    def turn(self) -> Turn:
        """A turn for one request attempt, to be used as ``async with throttle.turn():``."""
        return Turn(self)

    async def _acquire(self) -> float:
        """Wait for a turn and return the seconds spent waiting on pauses or rate windows."""
        while self.active >= int(self.limit):
            self._waiting += 1
            try:
                await self._freed.wait()
            finally:
                self._waiting -= 1
        self.active += 1
        try:
            waited = 0.0
            pause = self._pause_until - self._clock()
            if pause > 0:
                await anyio.sleep(pause)
                waited += pause
            if self._rate is not None:
                waited += await self._rate.acquire()
        except BaseException:
            self._leave()
            raise
        return waited

    def _release(self) -> None:
        if self._rate is not None:
            self._rate.release()
        self._leave()

    def on_success(self) -> None:
        """Additive increase: give back a little concurrency after a good answer."""
        if self.limit < self.max_concurrency:
            self.limit = min(float(self.max_concurrency), self.limit + 1.0 / self.limit)

    def on_rate_limited(self, retry_after: float | None) -> None:
        """Multiplicative decrease and a shared pause, once per burst of 429s."""
        now = self._clock()
        if now >= self._pause_until:
            # 429s answering requests sent before this pause began belong to the
            # same burst: halving once for the burst is enough.
            self.limit = max(1.0, self.limit / 2.0)
        pause = retry_after if retry_after is not None else _DEFAULT_PAUSE
        self._pause_until = max(self._pause_until, now + pause)

    def _leave(self) -> None:
        self.active -= 1
        if self._waiting:  # a fresh event per release only when someone waits for one
            freed, self._freed = self._freed, anyio.Event()
            freed.set()
