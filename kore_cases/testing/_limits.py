"""The fake server's rate limits: sliding windows per account, counted at arrival (no I/O).

The windows come checked from the server's settings (``_config.ServerConfig``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from .._ratelimit import DEFAULT_RATE_LIMIT

__all__ = ["KORE_RATE_LIMITS", "RATE_LIMIT_MESSAGE", "AccountWindows", "SlidingWindows"]

RATE_LIMIT_MESSAGE = (
    "You've exceeded the per-minute rate limit. Please wait for sometime before retrying."
)
"""Kore's words for a request over the Case Management limit ("API Rate Limits")."""
KORE_RATE_LIMITS: tuple[tuple[int, float], ...] = DEFAULT_RATE_LIMIT.windows
"""Kore's documented Case Management limit: 60 requests per rolling minute per account."""


class SlidingWindows:
    """Several "at most N requests per T seconds" windows, counted at arrival."""

    def __init__(self, windows: Sequence[tuple[int, float]]) -> None:
        self._windows = [(n, s, deque[float]()) for n, s in windows]

    def admit(self, now: float) -> int | None:
        """Take a slot in every window, or return the Retry-After seconds (nothing taken)."""
        wait = 0.0
        for max_requests, seconds, arrivals in self._windows:
            while arrivals and arrivals[0] <= now - seconds:
                arrivals.popleft()
            if len(arrivals) >= max_requests:
                wait = max(wait, arrivals[0] + seconds - now)
        if wait > 0:
            return max(1, math.ceil(wait))
        for _, _, arrivals in self._windows:
            arrivals.append(now)
        return None


class AccountWindows:
    """The same windows kept apart for each account (the ``accountId`` header)."""

    def __init__(self, windows: Sequence[tuple[int, float]]) -> None:
        self._windows = windows
        self._accounts: dict[str, SlidingWindows] = {}

    def admit(self, account: str, now: float) -> int | None:
        """:meth:`SlidingWindows.admit` in ``account``'s windows."""
        counted = self._accounts.get(account)
        if counted is None:
            counted = self._accounts[account] = SlidingWindows(self._windows)
        return counted.admit(now)
