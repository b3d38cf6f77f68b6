"""A run's counters: requests sent and planned, cases received, and the progress reports.

No I/O: the caller's ``on_progress`` is all it calls, and its clock is injectable.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._report import Phase, SyncProgress, SyncSummary

if TYPE_CHECKING:
    from ..models import CasesPage

__all__ = ["RunMeter"]


class RunMeter:
    """Counts a run's requests and cases into its summary and progress, and reports them.

    ``requests_planned`` is the sum of each pull's estimate (a pull's first page says
    how many pages it holds), never less than the requests already sent.
    """

    def __init__(
        self,
        summary: SyncSummary,
        on_progress: Callable[[SyncProgress], None] | None,
        *,
        asked_page_size: int | str,
        max_page_size: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.summary = summary
        self.progress = SyncProgress()
        self._on_progress = on_progress
        self._asked = asked_page_size
        self._max_page_size = max_page_size
        self._clock = clock
        self.started = clock()
        self.server_limit: int | None = None
        """The largest page size the server has answered with in this run."""
        self._planned_by_pull: dict[str, int] = {}

    @property
    def elapsed(self) -> float:
        """Seconds since the run began."""
        return self._clock() - self.started

    def note_page(self, name: str, page: CasesPage[Any], requests: int) -> None:
        """Count a page of pull ``name`` (and the ``requests`` it took) into the run."""
        if page.limit > 0:
            self.server_limit = max(self.server_limit or 0, page.limit)
            self._planned_by_pull[name] = max(1, math.ceil(page.total_results / page.limit))
        self.count_requests(requests)
        self.progress.cases += len(page.results)
        self.report()

    def page_limit(self) -> int:
        """Cases a page holds: the server's answer if there was one, else what is asked."""
        if self.server_limit is not None:
            return self.server_limit
        return self._asked if isinstance(self._asked, int) else self._max_page_size

    def count_requests(self, n: int) -> None:
        """``n`` more requests were sent."""
        self.summary.requests += n
        self.progress.requests += n

    def plan_requests(self, name: str, requests: int) -> None:
        """Pull ``name`` is expected to take ``requests`` requests in all."""
        self._planned_by_pull[name] = requests

    def report(self, phase: Phase | None = None) -> None:
        """Enter ``phase`` (if given) and pass the progress to ``on_progress``."""
        if phase is not None:
            self.progress.phase = phase
        if self._on_progress is None:
            return
        self.progress.elapsed = self.elapsed
        planned = sum(self._planned_by_pull.values())
        self.progress.requests_planned = max(planned, self.progress.requests)
        self._on_progress(self.progress)
