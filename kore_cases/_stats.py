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
    received, ``rate_limit_waits`` the attempts that waited for the account's rate
    budget or a 429 pause, ``throttled_seconds`` the wall time during which at least one
    request of the pull was waiting for it (concurrent waits count once),
    ``duplicates_dropped`` the cases skipped because their id was already yielded,
    ``pages_reread`` the pages fetched again because the data moved during the pull,
    ``page_size_probes`` the requests a ``page_size="max"`` client sent that the server
    refused (400) as too large, ``shortfall`` how many fewer cases than the server
    announced a pull that ran to its end handed out (each shortfall is also logged as a
    WARNING: cases may have been missed).
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
    _waiting: int = field(default=0, repr=False, compare=False)
    _waiting_since: float = field(default=0.0, repr=False, compare=False)

    def wait_began(self) -> None:
        """A request of this pull starts waiting for the budget."""
        if self._waiting == 0:
            self._waiting_since = time.monotonic()
        self._waiting += 1

    def wait_ended(self, waited: float) -> None:
        """That request got through (``waited`` > 0: it really had to wait)."""
        self._waiting -= 1
        if waited > 0:
            self.rate_limit_waits += 1
        if self._waiting == 0:
            self.throttled_seconds += time.monotonic() - self._waiting_since

    @property
    def requests_per_minute(self) -> float:
        """Requests sent per minute of :attr:`elapsed`."""
        elapsed = self.elapsed
        return self.requests * 60.0 / elapsed if elapsed > 0 else 0.0

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
