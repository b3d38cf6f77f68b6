"""Counters of one pull (or of one client's single-page calls)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["PullStats"]


@dataclass
class PullStats:
    """What a pull has done so far; read it during or after the pull.

    ``pages`` and ``cases`` count what was yielded; ``requests`` every attempt sent,
    ``retries`` the attempts that repeated a failed one, ``rate_limited`` the 429s
    received, ``rate_limit_waits`` the attempts that waited for the client's own rate
    windows or a 429 pause (``throttled_seconds`` in all), ``duplicates_dropped`` the
    cases skipped because their id was already yielded, ``pages_reread`` the pages
    fetched again because the data moved during the pull, ``page_size_probes`` the
    requests a ``page_size="max"`` client sent that the server refused (400) as too large,
    ``shortfall`` how many fewer cases than the server announced a pull that ran to its
    end handed out (each shortfall is also logged as a WARNING: cases may have been
    missed).
    """

    pages: int = 0
    cases: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    rate_limit_waits: int = 0
    throttled_seconds: float = 0.0
    duplicates_dropped: int = 0
    pages_reread: int = 0
    page_size_probes: int = 0
    shortfall: int = 0
    started: float = field(default_factory=time.monotonic, repr=False)
    finished: float | None = field(default=None, repr=False)

    @property
    def elapsed(self) -> float:
        """Seconds from the start of the pull to its end (or to now while it runs)."""
        end = self.finished if self.finished is not None else time.monotonic()
        return end - self.started

    @property
    def cases_per_second(self) -> float:
        """Yielded cases per second of :attr:`elapsed`."""
        elapsed = self.elapsed
        return self.cases / elapsed if elapsed > 0 else 0.0
