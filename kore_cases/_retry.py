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

import random
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from ._checks import seconds, whole_number

__all__ = ["Retry", "RetryPolicy", "is_retryable_status", "parse_retry_after"]

# 408 Request Timeout, 429 Too Many Requests and every 5xx are worth another try;
# other 4xx say the request itself is wrong and will fail the same way again.
_RETRYABLE_4XX = frozenset({408, 429})
# Delta-seconds as RFC 9110 writes them (digits), also with a fraction or an exponent.
_DELTA_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


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
    if _DELTA_SECONDS.fullmatch(text):
        # Digits only: a number too large for a float ("1e400") is a wait of forever,
        # which max_retry_after refuses, not a header to ignore.
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now or datetime.now(timezone.utc)
    return max(0.0, (when - current).total_seconds())


@dataclass(frozen=True)
class Retry:
    """How a client retries a failed request: a read-only value, like httpx's ``Timeout``.

    Pass it as ``CasesClient(..., retry=Retry(max_retries=3, backoff_max=4.0))``.

    Attributes:
        max_retries: retries after a retryable failure (408, 429, 5xx, connection
            errors, timeouts, a 200 whose body is not JSON); ``0`` never retries.
        backoff_base, backoff_max: the capped exponential backoff, in seconds: before
            retry ``n`` wait ``min(backoff_max, backoff_base * 2**(n-1))`` times a random
            factor in [0.5, 1]; a longer ``Retry-After`` from the server wins.
        max_retry_after: a 429 asking to wait longer than this many seconds raises
            :class:`~kore_cases.RateLimitError` (with ``retry_after``) instead of sleeping.
    """

    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        whole_number("max_retries", self.max_retries, 0)
        # Normalised to float, so that Retry(backoff_max=8) == Retry(backoff_max=8.0).
        for name, infinite in (
            ("backoff_base", False),
            ("backoff_max", False),
            ("max_retry_after", True),
        ):
            value = seconds(name, getattr(self, name), zero=True, infinite=infinite)
            object.__setattr__(self, name, value)

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


# The name the request path knew it by, kept while branches written against it land.
RetryPolicy = Retry
