"""Client-side rate limiting: several sliding windows that hold at once.

Kore counts a request when it *arrives*, which is after we send it. A limiter that
frees a slot one window after the *send* lets a burst at a window's edge arrive inside
the server's next window and earn 429s. So a slot here stays taken while its request
is in flight and for a whole window after its response came back: the server has
certainly stopped counting it by then.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

import anyio

from ._checks import whole_number

__all__ = ["DEFAULT_RATE_LIMIT", "RateLimit", "RateLimiter"]


class RateLimit:
    """Request-rate windows to stay under, each ``(max_requests, seconds)``.

    ``RateLimit((600, 60.0), (18000, 3600.0))`` is Kore's documented limit for runtime
    public APIs (per bot) and the client's default. Every window holds at once.
    """

    __slots__ = ("windows",)

    def __init__(self, *windows: tuple[int, float]) -> None:
        if not windows:
            raise ValueError("RateLimit needs at least one (max_requests, seconds) window")
        checked: list[tuple[int, float]] = []
        for window in windows:
            if not isinstance(window, tuple) or len(window) != 2:
                raise TypeError(
                    f"each window must be a (max_requests, seconds) tuple, not {window!r}"
                )
            count, seconds = window
            whole_number("max_requests", count, 1)
            if (
                isinstance(seconds, bool)
                or not isinstance(seconds, (int, float))
                or not 0 < seconds < math.inf  # an endless window would stall for good
            ):
                raise ValueError(f"window seconds must be a finite number > 0, not {seconds!r}")
            checked.append((count, float(seconds)))
        self.windows: tuple[tuple[int, float], ...] = tuple(checked)

    def __repr__(self) -> str:
        return (
            f"RateLimit{self.windows!r}"
            if len(self.windows) > 1
            else f"RateLimit({self.windows[0]!r})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RateLimit) and other.windows == self.windows

    def __hash__(self) -> int:
        return hash(self.windows)


DEFAULT_RATE_LIMIT = RateLimit((600, 60.0), (18000, 3600.0))


class _Window:
    __slots__ = ("expiries", "max_requests", "seconds")

    def __init__(self, max_requests: int, seconds: float) -> None:
        self.max_requests = max_requests
        self.seconds = seconds
        # When each finished request stops counting, oldest first (at most max_requests).
        self.expiries: deque[float] = deque()

    def wait(self, now: float, in_flight: int) -> float:
        """Seconds until one more request fits (``inf`` if only a response can free one)."""
        while self.expiries and self.expiries[0] <= now:
            self.expiries.popleft()
        excess = in_flight + len(self.expiries) - self.max_requests
        if excess < 0:
            return 0.0
        if excess < len(self.expiries):
            return self.expiries[excess] - now
        return math.inf


class RateLimiter:
    """The running state of a :class:`RateLimit`, shared by every request of one client."""

    def __init__(self, limit: RateLimit, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._windows = [_Window(count, seconds) for count, seconds in limit.windows]
        self._in_flight = 0
        self._sleeping = False  # the lock holder is waiting for a window to free a slot
        self._lock = anyio.Lock()
        self._changed = anyio.Event()

    async def acquire(self) -> float:
        """Wait for a slot in every window, take it, and return the seconds waited."""
        started = self._clock()
        # Queued behind a request that sleeps for a slot: this one waits for rate too.
        blocked = self._sleeping
        # One waiter at a time computes its wait: first come, first served.
        async with self._lock:
            while True:
                now = self._clock()
                wait = max(w.wait(now, self._in_flight) for w in self._windows)
                if wait <= 0:
                    self._in_flight += 1
                    return now - started if blocked else 0.0
                blocked = self._sleeping = True
                self._changed = anyio.Event()
                try:
                    with anyio.move_on_after(wait):
                        await self._changed.wait()
                finally:
                    self._sleeping = False

    def release(self) -> None:
        """Mark the request answered: its slot frees one window from now."""
        self._in_flight -= 1
        now = self._clock()
        for window in self._windows:
            window.expiries.append(now + window.seconds)
        self._changed.set()
