"""Which requests a sync needs, given what the last one saw: pure, no I/O, no clock.

A sync keeps a dataset equal to the server's set of cases matching a filter, under one
assumption: **a resolved case older than the refresh window does not change**. A run
therefore reads only

1. the *recent* range: every case created from the refresh window's start (the
   high-water mark, the newest ``createdAt`` seen, minus ``refresh``; at least an
   ``overlap`` before the mark) to now. This is every new case, and every case whose
   state may still move. A first run (or a full refresh) has no mark: its recent range
   is everything.
2. the *unresolved* cases older than that (the filter with ``unresolved=True``): their
   state moves at any age.
3. *probes*: each case that was unresolved at the last run and is older than the
   recent range, but is not in the unresolved answer any more, was resolved (or left the
   filter, or was deleted). The API cannot fetch a case by id, so it is read through a
   creation-time window of a few milliseconds around its known ``createdAt``;
   neighbours share a window while the window holds at most a page of known cases.

A range that was read whole *settles* the dataset inside it: a stored case created
strictly inside it that the answer did not hold is gone from the server's set.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "DAY_MS",
    "PROBE_PAD_MS",
    "Range",
    "RunPlan",
    "plan_probes",
    "plan_run",
]

DAY_MS = 86_400_000
PROBE_PAD_MS = 2
"""A probe window reaches this far either side of a case's ``createdAt``, so that the
case is strictly inside it whether the server's bounds are inclusive or not."""


@dataclass(frozen=True)
class Range:
    """Cases created from ``start_ms`` to ``end_ms`` (epoch ms; ``None``: unbounded)."""

    start_ms: int | None
    end_ms: int | None

    def holds(self, created_ms: int | None) -> bool:
        """``created_ms`` lies strictly inside: the case is in the answer if it exists.

        Strictly, because the server's ``startDate``/``endDate`` may include or exclude
        the bound itself.
        """
        if created_ms is None:
            return self.start_ms is None and self.end_ms is None
        return (self.start_ms is None or created_ms > self.start_ms) and (
            self.end_ms is None or created_ms < self.end_ms
        )


@dataclass(frozen=True)
class RunPlan:
    """The pulls of one run, but the probes (planned once the unresolved set is known)."""

    recent_start_ms: int | None
    """``startDate`` of the recent pull (``None``: from the beginning)."""
    settle_start_ms: int | None
    """Stored cases created after this and not in the recent answer are gone."""
    unresolved: Range | None
    """The creation range of the unresolved pull, or ``None`` when there is none."""
    first: bool
    """No high-water mark: everything is read (a first run or a full refresh)."""


def plan_run(
    *,
    high_water_ms: int | None,
    since_ms: int | None,
    refresh_ms: int,
    overlap_ms: int,
    full: bool,
) -> RunPlan:
    """Plan a run from the last high-water mark and the filter's own ``start_date``.

    ``full`` (a full refresh) reads everything and settles everything, also stored cases
    older than ``since_ms``.
    """
    if refresh_ms < 0 or overlap_ms < 0:
        raise ValueError("refresh and overlap must be >= 0 milliseconds")
    if full or high_water_ms is None:
        return RunPlan(
            recent_start_ms=since_ms,
            settle_start_ms=None if full else since_ms,
            unresolved=None,
            first=True,
        )
    start = high_water_ms - max(refresh_ms, overlap_ms)
    if start <= 0 or (since_ms is not None and since_ms >= start):
        # The filter's own range is all recent (a window reaching back to 1970 holds
        # every case): read it whole.
        return RunPlan(since_ms, since_ms, None, first=False)
    return RunPlan(
        recent_start_ms=start,
        settle_start_ms=start,
        unresolved=Range(since_ms, start),
        first=False,
    )


def plan_probes(
    candidates: Iterable[int],
    stored_created: Sequence[int],
    page_limit: int,
    *,
    pad_ms: int = PROBE_PAD_MS,
) -> list[Range]:
    """Creation windows that hold each of ``candidates`` (their ``createdAt``, ms).

    ``stored_created`` is the sorted ``createdAt`` of every stored case: a window grows
    to the next candidate while it holds at most ``page_limit`` stored cases, so that it
    usually costs one request. Each candidate is strictly inside its window.
    """
    if page_limit < 1:
        raise ValueError(f"page_limit must be >= 1, not {page_limit}")
    windows: list[Range] = []
    start = 0
    for created in sorted(set(candidates)):
        if windows:
            grown_end = created + pad_ms
            inside = bisect_right(stored_created, grown_end) - bisect_left(stored_created, start)
            if inside <= page_limit:
                windows[-1] = Range(start, grown_end)
                continue
        start = created - pad_ms
        windows.append(Range(start, created + pad_ms))
    return windows
