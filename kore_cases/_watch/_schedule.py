"""When a watch polls next, and what a set-mode poll costs against the budget (pure).

:class:`PollSchedule` spreads polls (``every`` times a random factor in ``[1 - jitter,
1 + jitter]``, so that many watches started together drift apart) and, after a failed poll,
backs off exponentially up to four times ``every`` (at least as long as a ``Retry-After``),
never faster than ``every``. It also bounds the warnings: one for the first failure of an
outage, then one at each doubling of the count.

:func:`set_budget` is the arithmetic ``mode="set"`` refuses or warns with.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .._ratelimit import RateLimit

__all__ = ["KORE_REQUESTS_PER_MINUTE", "PollSchedule", "SetBudget", "set_budget"]

KORE_REQUESTS_PER_MINUTE = 60.0
"""Kore's documented getCases budget per account, assumed when the client has no rate limit."""

_MAX_BACKOFF_FACTOR = 4.0


class PollSchedule:
    """Delays between polls; ``rng`` is injectable so tests see fixed numbers."""

    def __init__(self, every: float, jitter: float, rng: random.Random | None = None) -> None:
        self.every = every
        self.jitter = jitter
        self.failures = 0
        """Consecutive failed polls (0 while things work)."""
        self._rng = rng or random.Random()

    def _spread(self, seconds: float) -> float:
        return seconds * self._rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)

    def succeeded(self) -> float:
        """A poll worked: the delay to the next one (from this poll's start)."""
        self.failures = 0
        return self._spread(self.every)

    def failed(self, retry_after: float | None = None) -> float:
        """A poll failed: the (growing) delay to the next one."""
        self.failures += 1
        backoff = min(self.every * 2.0**self.failures, self.every * _MAX_BACKOFF_FACTOR)
        return max(self._spread(backoff), retry_after or 0.0, self.every)

    def worth_a_warning(self) -> bool:
        """Whether the current failure should be logged at WARNING (1st, 2nd, 4th, 8th...)."""
        return self.failures > 0 and self.failures & (self.failures - 1) == 0


@dataclass(frozen=True)
class SetBudget:
    """What reading a whole set every ``every`` seconds costs, against what is allowed."""

    total: int
    page_size: int
    every: float
    allowed_per_minute: float
    source: str

    @property
    def per_poll(self) -> int:
        """Requests per poll: ``ceil(total / page_size)`` (at least one)."""
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def per_minute(self) -> float:
        """Requests a minute at one poll per ``every``."""
        return self.per_poll * 60.0 / self.every

    @property
    def share(self) -> float:
        """``per_minute`` as a fraction of the allowed budget."""
        return self.per_minute / self.allowed_per_minute

    def explain(self) -> str:
        """The arithmetic, in words, and what to do about it."""
        least_every = math.ceil(self.per_poll * 60.0 / self.allowed_per_minute)
        return (
            f"mode='set' reads all {self.total:,} matching cases each poll: "
            f"ceil({self.total:,}/{self.page_size}) = {self.per_poll} requests every "
            f"{self.every:g} s = {self.per_minute:.0f} requests/min, {self.share:.0%} of "
            f"the account's {self.allowed_per_minute:.0f}/min ({self.source}); poll every "
            f"{least_every} s or more (every={least_every}), narrow the filter, or use mode='new'"
        )


def set_budget(total: int, page_size: int, every: float, rate_limit: RateLimit | None) -> SetBudget:
    """The budget arithmetic for a set of ``total`` cases read ``page_size`` at a time."""
    if rate_limit is None:
        allowed, source = KORE_REQUESTS_PER_MINUTE, "Kore's documented limit"
    else:
        allowed = min(count * 60.0 / seconds for count, seconds in rate_limit.windows)
        source = f"the client's {rate_limit!r}"
    return SetBudget(total, max(page_size, 1), every, allowed, source)
