"""What a sync tells its caller: progress while it runs, a summary when it ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Phase", "SyncProgress", "SyncSummary"]

Phase = Literal["recent", "unresolved", "probes", "writing"]


@dataclass
class SyncProgress:
    """A sync's counters while it runs; passed to ``on_progress`` after every page.

    ``requests_planned`` is the run's estimate of all the requests it will send (it
    grows as answers reveal how many cases each pull holds); with the account's rate it
    gives an ETA.
    """

    phase: Phase = "recent"
    months_written: int = 0
    cases: int = 0
    """Cases received so far."""
    requests: int = 0
    requests_planned: int = 0
    elapsed: float = 0.0


@dataclass
class SyncSummary:
    """What a sync did; returned by :meth:`kore_cases.CasesClient.sync`.

    ``new``, ``changed``, ``unchanged`` count the cases received (``changed``: its
    ``updatedAt`` moved on); ``removed`` the stored cases no longer in the server's set.
    ``requests`` is what this run sent; ``full_pull_requests`` what pulling the whole
    set again would cost at the same page size.
    """

    directory: str
    first: bool
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    total: int = 0
    """Cases in the dataset after the run."""
    months_written: int = 0
    requests: int = 0
    full_pull_requests: int = 0
    probes: int = 0
    """Creation windows read for cases that left the unresolved set."""
    elapsed: float = 0.0
    high_water: str | None = None
    """The newest ``createdAt`` the dataset covers (server time)."""
    resumed: bool = False
    """The run continued one that had stopped."""
    notes: list[str] = field(default_factory=list)
