"""Cases into the dataset's months: each case new, changed or unchanged, each month merged.

:class:`MonthMerger` keeps the run's index of stored cases (id -> month and times) and
the state's unresolved set in step with the files it merges;
:func:`track_unresolved` (pure) is how a merged month changes that set.
"""

from __future__ import annotations

import asyncio

from ._dataset import Dataset, MonthChanges, Stored
from ._keys import NO_MONTH, CaseKey, month_start, next_month_start
from ._meter import RunMeter
from ._plan import Range
from ._state import SyncState

__all__ = ["MonthMerger", "track_unresolved"]


class MonthMerger:
    """Classifies the cases a run receives and merges them into their month's file."""

    def __init__(self, dataset: Dataset, state: SyncState, meter: RunMeter) -> None:
        self.dataset = dataset
        self.state = state
        self.meter = meter
        self.summary = meter.summary
        self.index: dict[str, Stored] = dataset.index()

    def classify(self, key: CaseKey, changes: MonthChanges) -> None:
        """Count ``key`` as new, changed or unchanged and note it in its month's changes."""
        changes.returned.add(key.id)
        if key.unresolved and key.created_ms is not None:
            changes.unresolved[key.id] = key.created_ms
        stored = self.index.get(key.id)
        if stored is None:
            if key.id not in changes.incoming:
                self.summary.new += 1
            changes.incoming[key.id] = key
        elif key.updated_ms is not None and (
            stored.updated_ms is None or key.updated_ms > stored.updated_ms
        ):
            if key.id not in changes.incoming:
                self.summary.changed += 1
            changes.incoming[key.id] = key
        elif key.id not in changes.incoming:
            self.summary.unchanged += 1

    async def settle(self, month: str, changes: MonthChanges) -> None:
        """Merge one month's changes into its file and the index, and its unresolved cases."""
        # In a thread: the pull's prefetched requests go on while the file is written.
        removed, fields = await asyncio.to_thread(
            self.dataset.settle, month, changes, self.state.field_columns
        )
        if changes.incoming or removed:
            self.summary.months_written += 1
            self.meter.progress.months_written += 1
        self.state.field_columns = fields
        self.summary.removed += len(removed)
        for case_id in removed:
            self.index.pop(case_id, None)
        for case_id, key in changes.incoming.items():
            self.index[case_id] = Stored(month, key.created_ms, key.updated_ms)
        track_unresolved(self.state.unresolved, month, changes, removed)

    async def settle_before(
        self,
        boundary: int | None,
        months: dict[str, MonthChanges],
        waiting: set[str],
        covered: Range,
    ) -> None:
        """Settle every month starting at or after ``boundary`` (all with ``None``)."""
        ready = sorted(
            m
            for m in set(months) | waiting
            if boundary is None or (m != NO_MONTH and month_start(m) >= boundary)
        )
        for month in reversed(ready):
            changes = months.pop(month, None) or MonthChanges()
            if month != NO_MONTH:
                changes.covered.append(covered)
            waiting.discard(month)
            await self.settle(month, changes)
            self.meter.report("recent")

    async def settle_late(self, late: MonthChanges) -> None:
        """Merge cases that came after their month was settled, month by month."""
        by_month: dict[str, MonthChanges] = {}
        for case_id, key in late.incoming.items():
            changes = by_month.setdefault(key.month, MonthChanges())
            changes.incoming[case_id] = key
            changes.returned.add(case_id)
            if key.unresolved and key.created_ms is not None:
                changes.unresolved[case_id] = key.created_ms
        for month, changes in sorted(by_month.items()):
            await self.settle(month, changes)


def track_unresolved(
    unresolved: dict[str, int], month: str, changes: MonthChanges, removed: set[str]
) -> None:
    """Update ``unresolved`` (id -> ``createdAt``) for ``month`` merged with ``changes``.

    A case of the month inside a range read whole is dropped (it is added back if the
    answers said it is unresolved), as is a removed case or one known to be resolved.
    """
    if changes.covered and month != NO_MONTH:
        first, after = month_start(month), next_month_start(month)
        for case_id in [
            i
            for i, created in unresolved.items()
            if first <= created < after and any(r.holds(created) for r in changes.covered)
        ]:
            del unresolved[case_id]
    for case_id in removed:
        unresolved.pop(case_id, None)
    for case_id, created in changes.unresolved.items():
        if created is not None:
            unresolved[case_id] = created
    for case_id in changes.resolved:
        unresolved.pop(case_id, None)
