"""The gate every request attempt of a client passes: the account's budget, then concurrency.

A request attempt runs inside ``async with throttle.turn() as turn:``. Entering waits for
room in the account's budget (an :class:`~kore_cases._limiter.AccountLimiter`, shared with
the other clients of the account) and then for one of this client's ``concurrency``
places; leaving gives both back, whatever happened inside. The body tells the turn how the
answer went (:meth:`Turn.succeeded`, :meth:`Turn.rate_limited`).

Concurrency adapts like TCP congestion control (AIMD): a 429 pause halves the number of
requests this client allows in flight (``allowed_concurrency``); each success then adds
``1/allowed_concurrency`` back, so the full ``concurrency`` returns after about one window
of successes. One-page calls (``interactive``) go before a pull's prefetches at both gates.
"""

from __future__ import annotations

import math
from types import TracebackType
from typing import Protocol

import anyio

from ._limiter import AccountLimiter, Answer, Slot

__all__ = ["Throttle", "Turn", "WaitMeter"]


class WaitMeter(Protocol):
    """Where a turn reports the time it waits for the budget (a pull's stats)."""

    def wait_began(self) -> None:
        """A request of the pull starts waiting for the budget."""

    def wait_ended(self, waited: float) -> None:
        """That request got through after ``waited`` seconds (0: it did not wait)."""


class Turn:
    """One request attempt's turn: ``async with throttle.turn() as turn:``.

    ``waited`` holds the seconds spent waiting for the account's budget on entry.
    """

    __slots__ = ("_answer", "_interactive", "_max_wait", "_meter", "_slot", "_throttle", "waited")

    def __init__(
        self, throttle: Throttle, interactive: bool, max_wait: float, meter: WaitMeter | None
    ) -> None:
        self._throttle = throttle
        self._interactive = interactive
        self._max_wait = max_wait
        self._meter = meter
        self._slot: Slot | None = None
        self._answer = Answer()
        self.waited: float = 0.0

    def succeeded(self) -> None:
        """The answer was a usable page: concurrency may grow back."""
        self._answer = Answer(counted=True)
        self._throttle.on_success()

    def rate_limited(self, retry_after: float | None, *, hourly: bool = False) -> None:
        """The answer was a 429 to be waited for (``retry_after`` ``None``: no header)."""
        self._answer = Answer(
            counted=False, rate_limited=True, retry_after=retry_after, hourly=hourly
        )

    def not_sent(self) -> None:
        """The request never left (the token could not be made): free its slot at once."""
        self._answer = Answer(sent=False)

    async def __aenter__(self) -> Turn:
        throttle = self._throttle
        if self._meter is not None:
            self._meter.wait_began()
        try:
            self._slot = await throttle.limiter.acquire(
                interactive=self._interactive, max_wait=self._max_wait
            )
        finally:
            if self._meter is not None:
                self._meter.wait_ended(self._slot.waited if self._slot else 0.0)
        self.waited = self._slot.waited
        try:
            await throttle._enter(self._interactive)
        except BaseException:
            await throttle.limiter.release(self._slot, Answer(sent=False))
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        throttle = self._throttle
        throttle._leave()
        assert self._slot is not None
        with anyio.CancelScope(shield=True):  # the budget must hear of every answer
            paused = await throttle.limiter.release(self._slot, self._answer)
        if paused:
            throttle.on_rate_limited()


class Throttle:
    """Admit a client's request attempts: within the account's budget, a few at a time.

    ``max_concurrency`` is the client's ``concurrency``; ``allowed_concurrency`` is how many
    AIMD allows in flight now (a float: each success adds a fraction of a request back).
    """

    def __init__(self, concurrency: int, limiter: AccountLimiter) -> None:
        self.max_concurrency = concurrency
        self.allowed_concurrency: float = float(concurrency)
        self.active: int = 0
        self.limiter = limiter
        self._freed: anyio.Event | None = None
        self._interactive_waiting = 0

    def turn(
        self,
        *,
        interactive: bool = False,
        max_wait: float = math.inf,
        meter: WaitMeter | None = None,
    ) -> Turn:
        """A turn for one request attempt, to be used as ``async with throttle.turn():``.

        ``interactive`` puts a one-page call before a pull's prefetches; past
        ``max_wait`` seconds of waiting for the budget, entering raises
        :class:`~kore_cases._limiter.BudgetWaitTooLong`.
        """
        return Turn(self, interactive, max_wait, meter)

    def on_success(self) -> None:
        """Additive increase: give back a little concurrency after a good answer."""
        if self.allowed_concurrency < self.max_concurrency:
            self.allowed_concurrency = min(
                float(self.max_concurrency),
                self.allowed_concurrency + 1.0 / self.allowed_concurrency,
            )

    def on_rate_limited(self) -> None:
        """Multiplicative decrease, once per 429 pause."""
        self.allowed_concurrency = max(1.0, self.allowed_concurrency / 2.0)

    async def _enter(self, interactive: bool) -> None:
        """Wait for one of the ``allowed_concurrency`` places; interactive calls first."""
        if interactive:
            self._interactive_waiting += 1
        try:
            while self.active >= int(self.allowed_concurrency) or (
                not interactive and self._interactive_waiting
            ):
                if self._freed is None:
                    self._freed = anyio.Event()
                await self._freed.wait()
        finally:
            if interactive:
                self._interactive_waiting -= 1
        self.active += 1

    def _leave(self) -> None:
        self.active -= 1
        freed, self._freed = self._freed, None
        if freed is not None:
            freed.set()
