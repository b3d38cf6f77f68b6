"""When to retry a request and how long to wait first: pure functions, no I/O.

Backoff before retry ``n`` (1-based) is capped exponential with "equal jitter"::

    delay = min(backoff_max, backoff_base * 2 ** (n - 1)) * uniform(0.5, 1.0)

With the defaults (``backoff_base=0.5``, ``backoff_max=8.0``) the waits before retries
1..5 are at most 0.5, 1, 2, 4 and 8 seconds, and at least half of that: the jitter
spreads clients that failed together so they do not retry together.

A ``Retry-After`` header (seconds or an HTTP date) replaces the computed delay when it
is longer; one beyond ``max_retry_after`` is not slept on but raised as
:class:`~kore_cases.RateLimitError` so that the caller can decide.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

__all__ = ["RetryPolicy", "is_retryable_status", "parse_retry_after"]

# 408 Request Timeout, 429 Too Many Requests and every 5xx are worth another try;
# other 4xx say the request itself is wrong and will fail the same way again.
_RETRYABLE_4XX = frozenset({408, 429})


def is_retryable_status(status: int) -> bool:
    """Tell whether an HTTP status is worth retrying (408, 429 and 5xx)."""
    return status in _RETRYABLE_4XX or 500 <= status <= 599


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the seconds a ``Retry-After`` header asks to wait, or ``None`` if unusable.

    Accepts delta-seconds (``"120"``, also ``"1.5"``) and HTTP dates
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``); a date in the past means 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now or datetime.now(timezone.utc)
    return max(0.0, (when - current).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait between tries (see the module docs)."""

    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ValueError(f"max_retries must be a whole number >= 0, not {self.max_retries!r}")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff_base and backoff_max must be >= 0")
        if self.max_retry_after < 0:
            raise ValueError("max_retry_after must be >= 0")

    def backoff(self, retry: int, *, rng: random.Random | None = None) -> float:
        """Return the jittered wait in seconds before retry number ``retry`` (1-based)."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** (retry - 1))
        return ceiling * (rng or random).uniform(0.5, 1.0)

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Return the wait before ``retry``: the backoff, or a longer ``Retry-After``."""
        computed = self.backoff(retry)
        if retry_after is None:
            return computed
        return max(computed, retry_after)
