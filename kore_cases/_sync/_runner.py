"""One sync run: the pulls of the plan, through the public client, merged month by month.

The recent pull reads newest first (Kore's order), bounded by ``endDate`` just after
the newest case when the run began, so cases created meanwhile shift no page. As its
cases cross into an older month, every month after it is complete: its file is merged
and the state file notes where the pull continues. A run that is killed continues from
there; at worst the month in progress is read again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import logging
import math
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from .._export._target import TargetBusyError, TargetLock
from .._wire import kore_time_from_ms
from ..errors import PaginationError
from ..filters import CaseFilter
from ._dataset import Dataset, MonthChanges
from ._keys import (
    NO_MONTH,
    CaseKey,
    case_key,
    datetime_from_ms,
    month_of,
    month_start,
    ms_from_datetime,
    next_month_start,
)
from ._merge import MonthMerger
from ._meter import RunMeter
from ._plan import DAY_MS, Range, plan_probes, plan_run
from ._report import SyncProgress, SyncSummary
from ._state import Pending, SyncState, SyncStateError, load_state, save_state

if TYPE_CHECKING:
    from .._client_pulls import PullMethods
    from .._pagination import PageIterator

__all__ = ["DEFAULT_OVERLAP_MS", "run_sync"]

logger = logging.getLogger("kore_cases")

DEFAULT_OVERLAP_MS = 5 * 60_000
"""How far before the high-water mark a run reads again even with no refresh window:
a case indexed late by the server can carry a ``createdAt`` a little older than cases
already seen."""


_FOREVER_DAYS = 1_000_000.0
"""A refresh window this long reaches back before 1970: every case is read again."""


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return kore_time_from_ms(ms)


def _bound_ms(value: Any, *, end: bool) -> int | None:
    """A filter's ``start_date``/``end_date`` as the instant it sends (epoch ms)."""
    if value is None:
        return None
    field, key = ("end_date", "endDate") if end else ("start_date", "startDate")
    sent: str = CaseFilter(**{field: value}).to_body()[key]
    return ms_from_datetime(datetime.fromisoformat(sent.replace("Z", "+00:00")))


class _Run:
    """One run: the client and the filter, the pulls of the plan, and where cases go.

    Counting is :class:`RunMeter`'s, merging into the months :class:`MonthMerger`'s;
    this class sends the requests and walks their answers.
    """

    def __init__(
        self,
        client: PullMethods,
        dataset: Dataset,
        case_filter: CaseFilter,
        state: SyncState,
        on_progress: Callable[[SyncProgress], None] | None,
    ) -> None:
        self.client = client
        self.dataset = dataset
        self.filter = case_filter
        self.state = state
        self.summary = SyncSummary(directory=str(dataset.root), first=False)
        self.meter = RunMeter(
            self.summary,
            on_progress,
            asked_page_size=client.page_size,
            max_page_size=client.max_page_size,
        )
        self.merger = MonthMerger(dataset, state, self.meter)
        self.user_end_ms = _bound_ms(case_filter.end_date, end=True)

    # -- requests ------------------------------------------------------------------

    def bounded(
        self, start_ms: int | None, end_ms: int | None, *, unresolved: bool = False
    ) -> CaseFilter | None:
        """The user's filter within ``[start_ms, end_ms]``; ``None`` if that is empty."""
        changes: dict[str, Any] = {}
        if unresolved:
            changes["unresolved"] = True
        user_start = _bound_ms(self.filter.start_date, end=False)
        if start_ms is not None and (user_start is None or start_ms > user_start):
            changes["start_date"] = datetime_from_ms(start_ms)
            user_start = start_ms
        if end_ms is not None and (self.user_end_ms is None or end_ms < self.user_end_ms):
            changes["end_date"] = datetime_from_ms(end_ms)
        end = end_ms if "end_date" in changes else self.user_end_ms
        if user_start is not None and end is not None and user_start > end:
            return None
        return dataclasses.replace(self.filter, **changes)

    async def newest(self, case_filter: CaseFilter) -> CaseKey | None:
        """The newest case matching ``case_filter`` (one request of two cases).

        Kore lists cases newest first; the second case checks it, since a pull bounded
        by the first case's ``createdAt`` would otherwise miss nearly everything.

        Raises:
            PaginationError: the server lists the older case first.
        """
        self.meter.plan_requests("newest", 1)
        page = await self.client.get_page(case_filter, page=1, page_size=2, model=msgspec.Raw)
        self.meter.count_requests(1)
        keys = [case_key(raw) for raw in page.results[:2]]
        if len(keys) == 2 and _ascending(keys[0].created_ms, keys[1].created_ms):
            raise PaginationError(
                f"the server listed a case created at {keys[0].created_ms} ms before one "
                f"created at {keys[1].created_ms} ms: sync needs Kore's documented order, "
                "newest first, to fill the months and bound its pulls",
                page=1,
            )
        return keys[0] if keys else None

    def pull(self, name: str, case_filter: CaseFilter) -> _KeyPages:
        """Every case of ``case_filter`` as :class:`CaseKey` lists, page by page."""
        pages = self.client.iter_pages(case_filter, model=msgspec.Raw, dedupe=False)
        return _KeyPages(self.meter, name, pages)

    def plan_older(self, pending: Pending) -> None:
        """Estimate the unresolved pull from the last run's unresolved set."""
        if not pending.has_unresolved:
            return
        end = pending.unresolved_end_ms
        older = sum(1 for c in self.state.unresolved.values() if end is None or c <= end)
        self.meter.plan_requests("unresolved", max(1, math.ceil(older / self.meter.page_limit())))

    # -- the parts of a run --------------------------------------------------------

    async def recent(self, pending: Pending) -> None:
        """The recent pull, settling each month as the pull passes into an older one."""
        if pending.recent_done:
            return
        # Nothing was newer than the run's end when it began: a stored case created after
        # it was deleted since (or left the filter), so the range is open upwards.
        covered = Range(pending.settle_start_ms, None)
        boundary = pending.next_end_ms  # months starting at or after it are settled
        lowest = pending.settle_start_ms
        # The stored months the pull can find gone cases in: each is settled even if the
        # pull returns none of its cases.
        waiting = {
            m
            for m in self.dataset.months()
            if m != NO_MONTH
            and (boundary is None or month_start(m) < boundary)
            and (lowest is None or next_month_start(m) > lowest)
        }
        months: dict[str, MonthChanges] = {}
        late = MonthChanges()
        current: str | None = None
        case_filter = self.bounded(pending.recent_start_ms, boundary)
        if case_filter is not None:
            async with self.pull("recent", case_filter) as pages:
                async for keys in pages:
                    for key in keys:
                        if key.created_ms is None:
                            self.merger.classify(key, months.setdefault(NO_MONTH, MonthChanges()))
                            continue
                        if boundary is not None and key.created_ms >= boundary:
                            # A month already settled (the data moved and pages were read
                            # again, or the server is not strictly newest first).
                            self.merger.classify(key, late)
                            continue
                        month = key.month
                        if current is not None and month < current:
                            boundary = next_month_start(month)
                            await self.merger.settle_before(boundary, months, waiting, covered)
                            pending.next_end_ms = boundary
                            await asyncio.to_thread(save_state, self.dataset.root, self.state)
                        current = month
                        self.merger.classify(key, months.setdefault(month, MonthChanges()))
        await self.merger.settle_before(
            None if lowest is None else month_start(month_of(lowest)), months, waiting, covered
        )
        if NO_MONTH in months:  # cases without a readable createdAt: merged, never settled
            await self.merger.settle(NO_MONTH, months.pop(NO_MONTH))
        if late.incoming:
            await self.merger.settle_late(late)
        pending.recent_done = True
        pending.next_end_ms = None
        await asyncio.to_thread(save_state, self.dataset.root, self.state)

    async def older(self, pending: Pending) -> None:
        """The unresolved pull, then probes for the cases that left the unresolved set."""
        months: dict[str, MonthChanges] = {}
        unresolved_now: set[str] = set()
        if pending.has_unresolved:
            case_filter = self.bounded(
                pending.unresolved_start_ms, pending.unresolved_end_ms, unresolved=True
            )
            if case_filter is not None:
                self.meter.report("unresolved")
                async with self.pull("unresolved", case_filter) as pages:
                    async for keys in pages:
                        for key in keys:
                            unresolved_now.add(key.id)
                            changes = months.setdefault(key.month, MonthChanges())
                            self.merger.classify(key, changes)
                            # The server says it is unresolved, whatever its status reads.
                            if key.created_ms is not None:
                                changes.unresolved[key.id] = key.created_ms
            end = pending.unresolved_end_ms
            candidates = [
                created
                for case_id, created in self.state.unresolved.items()
                if case_id not in unresolved_now and (end is None or created <= end)
            ]
            stored = sorted(
                s.created_ms for s in self.merger.index.values() if s.created_ms is not None
            )
            windows = plan_probes(candidates, stored, self.meter.page_limit())
            self.summary.probes = len(windows)
            self.meter.plan_requests("probes", len(windows))
            for number, window in enumerate(windows):
                self.meter.report("probes")
                probe = self.bounded(window.start_ms, window.end_ms)
                if probe is None:
                    continue
                async with self.pull(f"probe {number}", probe) as pages:
                    async for keys in pages:
                        for key in keys:
                            self.merger.classify(key, months.setdefault(key.month, MonthChanges()))
                for month in _months_of(window):
                    months.setdefault(month, MonthChanges()).covered.append(window)
        self.meter.report("writing")
        for month, changes in sorted(months.items()):
            for case_id in changes.returned:
                if case_id not in changes.unresolved:
                    changes.resolved.add(case_id)
            await self.merger.settle(month, changes)


def _ascending(first: int | None, second: int | None) -> bool:
    return first is not None and second is not None and first < second


class _KeyPages:
    """A pull's pages as lists of :class:`CaseKey`, counted into the run as they come.

    Use it as ``async with run.pull(...) as pages: async for keys in pages``; leaving
    the block stops the pull's fetches.
    """

    def __init__(self, meter: RunMeter, name: str, pages: PageIterator[msgspec.Raw]) -> None:
        self._meter = meter
        self._name = name
        self._pages = pages
        self._counted = 0

    async def __aenter__(self) -> _KeyPages:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._pages.aclose()
        self._meter.count_requests(self._pages.stats.requests - self._counted)

    def __aiter__(self) -> _KeyPages:
        return self

    async def __anext__(self) -> list[CaseKey]:
        page = await self._pages.__anext__()
        requests = self._pages.stats.requests
        self._meter.note_page(self._name, page, requests - self._counted)
        self._counted = requests
        return [case_key(raw) for raw in page.results]


def _months_of(window: Range) -> Iterable[str]:
    """The months a (bounded) window reaches into."""
    assert window.start_ms is not None
    assert window.end_ms is not None
    month = month_of(window.start_ms)
    while month_start(month) <= window.end_ms:
        yield month
        month = month_of(next_month_start(month))


async def run_sync(
    client: PullMethods,
    directory: str | Path,
    case_filter: CaseFilter | None = None,
    *,
    refresh_days: float = 30,
    full_refresh: bool = False,
    overlap_ms: int = DEFAULT_OVERLAP_MS,
    on_progress: Callable[[SyncProgress], None] | None = None,
) -> SyncSummary:
    """Bring the dataset in ``directory`` up to date; see :meth:`CasesClient.sync`."""
    case_filter = _check_filter(case_filter)
    if (
        isinstance(refresh_days, bool)
        or not isinstance(refresh_days, (int, float))
        or not 0 <= refresh_days < math.inf
    ):
        raise ValueError(f"refresh_days must be a number of days >= 0, not {refresh_days!r}")
    if on_progress is not None and not callable(on_progress):
        raise TypeError(f"on_progress must be a function of a SyncProgress, not {on_progress!r}")
    root = Path(directory)
    dataset = _open_dataset(root)
    lock = _only_run(root)
    try:
        dataset.remove_leftovers()  # now that no other run can be writing them
        return await _update(
            client, dataset, case_filter, refresh_days, full_refresh, overlap_ms, on_progress
        )
    finally:
        lock.__exit__(None, None, None)


async def _update(
    client: PullMethods,
    dataset: Dataset,
    case_filter: CaseFilter,
    refresh_days: float,
    full_refresh: bool,
    overlap_ms: int,
    on_progress: Callable[[SyncProgress], None] | None,
) -> SyncSummary:
    """The run itself, under the directory's lock."""
    root = dataset.root
    # As the state file holds it: JSON types only.
    body = msgspec.json.decode(msgspec.json.encode(case_filter.to_body()))
    try:
        state = load_state(root)
    except SyncStateError:
        if not full_refresh:
            raise
        state = None  # a full refresh rebuilds it
    if state is not None and state.filter != body and not full_refresh:
        raise ValueError(
            f"{root} holds a sync of another filter ({_describe(state.filter)}, now "
            f"{_describe(body)}): sync it with the same filters, sync the new filter to "
            "another directory, or rebuild this one with a full refresh"
        )
    if state is None or full_refresh:
        previous = state
        state = SyncState(filter=body)
        if previous is not None:
            state.field_columns = previous.field_columns
    run = _Run(client, dataset, case_filter, state, on_progress)
    summary = run.summary
    pending = state.pending
    if pending is None or full_refresh:
        pending = await _begin(run, state, refresh_days, overlap_ms, full_refresh)
    else:
        summary.resumed = True
    summary.first = pending.first
    run.plan_older(pending)
    await run.recent(pending)
    await run.older(pending)
    dataset.conform_all(state.field_columns)
    if pending.high_water_ms is not None:
        state.high_water_ms = max(state.high_water_ms or 0, pending.high_water_ms)
    state.high_water = (
        None if state.high_water_ms is None else kore_time_from_ms(state.high_water_ms)
    )
    state.pending = None
    summary.total = len(run.merger.index)
    summary.full_pull_requests = 1 + math.ceil(summary.total / run.meter.page_limit())
    summary.high_water = state.high_water
    summary.elapsed = run.meter.elapsed
    state.last_run = msgspec.to_builtins(dataclasses.asdict(summary))
    save_state(root, state)
    return summary


async def _begin(
    run: _Run, state: SyncState, refresh_days: float, overlap_ms: int, full: bool
) -> Pending:
    """Plan a new run, learn the newest case (the run's end), and record the plan."""
    plan = plan_run(
        high_water_ms=state.high_water_ms,
        since_ms=_bound_ms(run.filter.start_date, end=False),
        # Days beyond the epoch's age mean "everything"; more would overflow the dates.
        refresh_ms=round(min(refresh_days, _FOREVER_DAYS) * DAY_MS),
        overlap_ms=overlap_ms,
        full=full,
    )
    newest = None
    recent = run.bounded(plan.recent_start_ms, None)
    if recent is not None:
        newest = await run.newest(recent)
    end_ms = None
    high_water = None
    if newest is not None and newest.created_ms is not None:
        high_water = newest.created_ms
        end_ms = high_water + 1
    pending = Pending(
        recent_start_ms=plan.recent_start_ms,
        settle_start_ms=plan.settle_start_ms,
        end_ms=end_ms,
        next_end_ms=end_ms,
        high_water_ms=high_water,
        unresolved_start_ms=None if plan.unresolved is None else plan.unresolved.start_ms,
        unresolved_end_ms=None if plan.unresolved is None else plan.unresolved.end_ms,
        has_unresolved=plan.unresolved is not None,
        first=plan.first,
        full=full,
    )
    state.pending = pending
    save_state(run.dataset.root, state)
    return pending


def _open_dataset(root: Path) -> Dataset:
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory: sync writes a dataset directory")
    return Dataset(root)


def _only_run(root: Path) -> TargetLock:
    """Hold ``DIR/_sync.partial.lock`` for a run: a second sync of ``root`` fails at once."""
    lock = TargetLock(root / "_sync")
    try:
        return lock.__enter__()
    except TargetBusyError as exc:
        raise OSError(
            errno.EBUSY,
            f"another sync ({exc.holder}) is updating this dataset; wait for it to end or "
            "stop it, then sync again",
            str(root),
        ) from None


def _check_filter(case_filter: CaseFilter | None) -> CaseFilter:
    if case_filter is None:
        return CaseFilter()
    if not isinstance(case_filter, CaseFilter):
        raise TypeError(
            f"filter must be a CaseFilter, e.g. CaseFilter(status=['open']), not "
            f"{type(case_filter).__name__}"
        )
    if case_filter.sort_by is not None:
        raise ValueError(
            "sync reads cases newest first to fill the months in order: leave sort_by unset"
        )
    return case_filter


def _describe(body: dict[str, Any]) -> str:
    return msgspec.json.encode(body).decode() if body else "no filter"
