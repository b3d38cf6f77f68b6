"""Time-windowed pulls: ``iter_cases(filter, window=timedelta(days=30))`` and ``"auto"``.

The pull is split into consecutive creation-date windows (see
:mod:`kore_cases._window_plan` for the arithmetic and the boundaries sent), each paged
on its own by an ordinary page iterator (``iter_pages`` of the window's filter). So
offsets stay shallow, cases created during the pull only touch the newest window, and
a failed pull can resume at a window boundary.

How it runs:

* **Bounds.** The windows cover the filter's ``start_date``..``end_date``. A bound the
  filter leaves open is learnt from the data, cheaply: one request of one case gives
  the first case in the pull's order and ``totalResults``; a second, of the last case
  (``page=totalResults``), gives the other end (:mod:`kore_cases._window_span`). The
  oldest and newest windows send the filter's own bounds (none, if it has none), so
  together the windows ask exactly what the filter asks. ``window="auto"`` always makes
  the first request (it needs the count).
* **Order.** Windows are walked in the pull's order: newest first, as Kore lists, unless
  the filter says ``sort_by={"createdDate": "asc"}``. Another sort is refused (the
  windows are cut by creation date).
* **Concurrency.** Every window shares the client's concurrency and rate budget. The
  next window is started (its first request sent, then its prefetch) while the current
  one still has fewer than ``concurrency`` pages to go, so the pipeline never drains
  between windows; a window whose size is unknown holds back the one after it, which
  bounds memory to about two windows' prefetch.
* **Counts.** A window's ``totalResults`` comes with its first page: an empty window
  costs that one request. With ``"auto"`` the counts size the next windows.
* **Repeats at the edges.** Neighbouring windows overlap by a millisecond, so that no
  reading of Kore's (undocumented) inclusive or exclusive bounds loses a case; a case
  the previous window already yielded is dropped, by id: against every id of that
  window with ``dedupe=True`` (however many cases share the edge's millisecond), else
  against its last two pages (memory stays flat).
* **Resuming.** Errors carry ``resume_window`` (a :class:`TimeWindow`) and
  ``resume_page``; ``iter_cases(filter, window=..., start_window=err.resume_window,
  start_page=err.resume_page)`` continues with that window from that page, then the
  windows after it. It drops the cases of the edge it shares with the window before
  it that that window yielded (:mod:`kore_cases._window_resume`).

The parts: :class:`~kore_cases._window_plan.WindowSchedule` (pure) says which window
comes next and what it sends; :class:`EdgeRepeats` (pure) drops the repeats at the
edges; :class:`WindowedPages` starts the windows' iterators and hands out their pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, Literal, TypeVar, Union

from ._fetch import PageFetcher
from ._pagination import PageIterator, TaskOwner
from ._pull_iter import PageStream
from ._stats import PullStats
from ._window_plan import (
    NominalWindow,
    TimeWindow,
    WindowCursor,
    WindowSchedule,
    first_auto_width,
)
from ._window_resume import CreatedMs, ResumedEdges
from ._window_span import edge_included, learn_span, planned_bounds
from .errors import KoreCasesError, resume_at
from .models import CasesPage

__all__ = ["TimeWindow", "WindowSize", "WindowedPages", "check_window", "window_order"]

T = TypeVar("T")

WindowSize = Union[timedelta, Literal["auto"]]  # noqa: UP007 (a runtime alias on 3.10)
"""A window width, or ``"auto"``: sized from the counts."""

_MS = timedelta(milliseconds=1)


def check_window(window: object) -> WindowSize:
    """A positive ``timedelta`` of at least a millisecond, or ``"auto"``."""
    if window == "auto" and isinstance(window, str):
        return "auto"
    if not isinstance(window, timedelta) or window < _MS:
        raise ValueError(
            "window must be a timedelta of at least 1 ms, e.g. timedelta(days=30), or "
            f"'auto' (sized from the counts); not {window!r}"
        )
    return window


def window_order(body: Mapping[str, Any]) -> bool:
    """Whether a windowed pull of ``body`` goes newest first (its ``sortBy``, checked)."""
    sort = body.get("sortBy")
    if sort is None:
        return True  # Kore lists newest first
    if isinstance(sort, dict) and list(sort) == ["createdDate"]:
        return bool(sort["createdDate"] == "desc")
    raise ValueError(
        "window= cuts the pull by creation date, so the cases must be sorted by it: "
        "leave sort_by unset (newest first) or pass sort_by={'createdDate': 'asc'} "
        f"(or 'desc'); not {sort!r}"
    )


@dataclass
class _Window(Generic[T]):
    """A started window: its iterator, the task fetching its first page, its progress."""

    sent: TimeWindow
    nominal: NominalWindow | None
    start_page: int
    pages: PageIterator[T]
    first: asyncio.Task[CasesPage[T] | None] | None
    total_pages: int | None = None
    total_results: int | None = None
    taken: int = 0
    learned: bool = False
    tail: deque[list[Any]] = field(default_factory=deque)

    @property
    def remaining(self) -> int | None:
        """Pages still to come, or ``None`` before the first page is known."""
        if self.total_pages is None:
            return None
        return max(0, self.total_pages - self.taken)

    async def next_page(self) -> tuple[CasesPage[T] | None, bool]:
        """Its next page (``None``: it has no more), and whether that is its first answer."""
        if self.first is not None:
            task, self.first = self.first, None
            return await task, True
        if not self.learned:  # its first fetch was stopped by a pause
            return await _first_page(self.pages), True
        try:
            page = await self.pages._take()
        except StopAsyncIteration:
            return None, False
        self.taken += 1
        return page, False

    def learn(self, page: CasesPage[T] | None) -> bool:
        """Take in its first answer (``None``: it is empty); ``False`` if known already."""
        if self.learned:
            return False
        self.learned = True
        self.total_results = 0 if page is None else page.total_results
        self.total_pages = 0 if page is None else max(page.total_pages, page.page)
        return True

    def arrived(self) -> CasesPage[T] | Literal[False] | None:
        """Its first answer if it has come and not been taken, else ``False``."""
        task = self.first
        if task is not None and task.done() and not task.cancelled() and not task.exception():
            return task.result()
        return False

    def pause(self, reopen: Callable[[_Window[T]], PageIterator[T]]) -> None:
        """Stop its fetches not answered yet (a first page: its iterator is ``reopen``ed)."""
        task = self.first
        if task is not None and not task.done():
            # Cancelled, its iterator is spent: the window starts afresh if resumed.
            task.cancel()
            self.first = None
            self.pages = reopen(self)
        else:
            self.pages._pause()

    async def close(self) -> None:
        """Cancel its requests in flight and wait for them to end."""
        if self.first is not None:
            await asyncio.gather(self.first, return_exceptions=True)
        await self.pages.aclose()


class EdgeRepeats:
    """Drops the cases of a window that the window before it already yielded.

    Neighbouring windows overlap by a millisecond, so a case at an edge may come from
    both. The ids kept are those of the previous window's last ``tail_pages`` pages
    (memory stays flat), or all of its ids with ``tail_pages=None`` (``dedupe=True``:
    however many cases share the edge's millisecond).
    """

    def __init__(self, case_id: Callable[[Any], Any], tail_pages: int | None) -> None:
        self._case_id = case_id
        self._tail_pages = tail_pages
        self._ids: set[Any] = set()

    @property
    def active(self) -> bool:
        """Whether the previous window left ids to drop."""
        return bool(self._ids)

    def tail(self) -> deque[list[Any]]:
        """A new window's record of the ids of its last pages."""
        return deque(maxlen=self._tail_pages)

    def drop(self, results: list[Any]) -> list[Any]:
        """``results`` without the cases the previous window yielded."""
        return [case for case in results if self._case_id(case) not in self._ids]

    def note(self, tail: deque[list[Any]], results: list[Any]) -> None:
        """A page of the window whose ``tail`` this is was handed out."""
        tail.append([self._case_id(case) for case in results])

    def window_done(self, tail: deque[list[Any]]) -> None:
        """A window ended: its last ids guard the next one's edge."""
        self._ids = {case_id for ids in tail for case_id in ids}


class WindowedPages(PageStream[T]):
    """Async iterator over the pages of a time-windowed pull (see the module docstring).

    Returned by ``iter_pages(..., window=...)``. :attr:`stats` counts every window's
    requests (one record, shared by the windows' iterators); :attr:`resume_window` and
    :attr:`resume_page` say where a new pull would continue.
    """

    def __init__(
        self,
        *,
        fetcher: PageFetcher,
        owner: TaskOwner,
        body: Mapping[str, Any],
        open_window: Callable[[dict[str, Any], int, PullStats], PageIterator[T]],
        case_id: Callable[[Any], Any],
        window: WindowSize,
        page_size: int,
        concurrency: int,
        start_window: TimeWindow | None = None,
        start_page: int = 1,
        max_items: int | None = None,
        dedupe: bool = False,
        created_ms: CreatedMs | None = None,
    ) -> None:
        self._fetcher = fetcher
        self._owner = owner
        self._body = dict(body)
        self._open_window = open_window
        self._width = window
        self._page_size = page_size
        self._concurrency = concurrency
        self._descending = window_order(body)
        self._start_window = start_window
        self._start_page = start_page
        self._max_items = max_items
        self._edges = EdgeRepeats(case_id, None if dedupe else 2)
        self._resumed = ResumedEdges(
            self._body,
            start_window,
            start_page,
            descending=self._descending,
            created_ms=created_ms,
            ask=lambda ms: edge_included(fetcher, self._body, self.stats, ms, self._descending),
        )
        self._planned = False
        self._schedule: WindowSchedule | None = None
        self._queue: deque[_Window[T]] = deque()
        self._yielded = 0
        self._closed = False
        self.stats: PullStats = PullStats()
        """Counters of the whole pull: every window's requests and the span's."""
        self.total_results: int | None = None
        """The pull's ``totalResults`` when a bound was learnt (``None`` otherwise)."""
        self.resume_window: TimeWindow | None = start_window
        """The window a new pull would continue with (``None``: from the start)."""
        self.resume_page: int = start_page
        """The page of :attr:`resume_window` a new pull would continue from."""
        self.windows: int = 0
        """Windows started so far."""

    # -- iteration protocol (``async for``/``async with``: see PageStream) -----------

    async def _take(self) -> CasesPage[T]:
        """The next page, without counting its cases (the case iterator counts them)."""
        if self._closed:
            raise StopAsyncIteration
        try:
            return await self._next_page()
        except KoreCasesError as exc:
            resume_at(exc, self.resume_page, self.resume_window)
            await self.aclose()
            raise
        except BaseException:
            await self.aclose()
            raise

    def __del__(self) -> None:
        # Dropped without aclose() (a `break`): stop the first-page fetches ahead.
        for started in getattr(self, "_queue", ()):
            if started.first is not None:
                started.first.cancel()

    async def aclose(self) -> None:
        """Stop the pull: cancel every window's requests still in flight."""
        self._closed = True
        self.stats.finished = time.monotonic()
        queue, self._queue = list(self._queue), deque()
        for started in queue:
            if started.first is not None:
                started.first.cancel()
        for started in queue:
            await started.close()

    def _pause(self) -> None:
        """The consumer left its ``async for``: stop the fetches not answered yet."""
        for started in self._queue:
            started.pause(self._reopen)

    def _reopen(self, started: _Window[T]) -> PageIterator[T]:
        return self._open_window(started.sent.apply(self._body), started.start_page, self.stats)

    # -- the pull -----------------------------------------------------------------

    async def _next_page(self) -> CasesPage[T]:
        if not self._planned:
            await self._plan()
        while True:
            self._start_windows()
            if not self._queue:
                self._closed = True
                self.stats.finished = time.monotonic()
                raise StopAsyncIteration
            head = self._queue[0]
            self.resume_window = head.sent
            page = await self._next_of(head)
            if page is None:
                self._finish(head)
                continue
            results = page.results
            if self._edges.active or self._resumed.active:
                # May ask Kore: resume_page stays before this page until it is done.
                kept = await self._resumed.drop(head.sent, self._edges.drop(results))
                self.stats.duplicates_dropped += len(results) - len(kept)
                page.results = results = kept
                if not kept:
                    self.stats.pages -= 1  # counted by the window, never handed out
            self.resume_page = head.pages.resume_page
            self._edges.note(head.tail, results)
            if results:
                self._yielded += len(results)
                return page

    async def _next_of(self, head: _Window[T]) -> CasesPage[T] | None:
        """The head window's next page, or ``None`` when it has no more."""
        page, first = await head.next_page()
        if first:
            self._learn(head, page)
            head.taken = 1
        return page

    def _learn(self, started: _Window[T], page: CasesPage[T] | None) -> None:
        """Take in a window's first answer (``None``: it is empty): its size, its count."""
        if not started.learn(page):
            return
        if page is not None and page.limit > 0:
            self._page_size = page.limit
        if started.nominal is not None and self._schedule is not None:
            self._schedule.counted(started.nominal, started.total_results or 0)

    def _finish(self, head: _Window[T]) -> None:
        """The head window is done: its last ids guard the next one's edge."""
        self._queue.popleft()
        self._edges.window_done(head.tail)
        self._resumed.window_done(handed_out=self._edges.active)
        self.stats.finished = None  # the window's end is not the pull's
        # The next window starts at page 1 (only the first one resumes mid-window).
        self.resume_page = 1

    def _start_windows(self) -> None:
        """Start windows ahead while the ones started have < ``concurrency`` pages left.

        A window whose first answer has not come yet may hold many pages: no window is
        started after it until it has, which bounds the pages fetched ahead.
        """
        schedule = self._schedule
        while not self._closed and schedule is not None and not schedule.done:
            for started in self._queue:
                if (arrived := started.arrived()) is not False:
                    self._learn(started, arrived)  # as soon as its first page came
            remaining = [w.remaining for w in self._queue]
            if self._queue and (
                None in remaining or sum(r or 0 for r in remaining) >= self._concurrency
            ):
                return
            if self._max_items is not None and self._yielded >= self._max_items:
                return
            self._start(*schedule.take(self._page_size))

    def _start(self, sent: TimeWindow, nominal: NominalWindow | None, page: int = 1) -> None:
        pages = self._open_window(sent.apply(self._body), page, self.stats)
        first = self._owner.spawn(_first_page(pages))
        tail = self._edges.tail()
        self._queue.append(_Window(sent, nominal, page, pages, first, tail=tail))
        self.windows += 1
        # When its answer comes, the next window may start without waiting for the
        # consumer to reach this one.
        first.add_done_callback(self._on_first_page)

    def _on_first_page(self, task: asyncio.Task[CasesPage[T] | None]) -> None:
        """A window's first answer came: start the windows after it, if the pull goes on."""
        if self._closed or task.cancelled():
            return
        # The client closed under the pull: the consumer's next step raises the error.
        with contextlib.suppress(RuntimeError):
            self._start_windows()

    # -- planning -----------------------------------------------------------------

    async def _plan(self) -> None:
        """Learn the span (if a bound is open) and start the first window."""
        self._planned = True
        resumed = self._start_window
        if resumed is not None:
            self._start(resumed, None, self._start_page)
        bounds = planned_bounds(self._body, resumed, descending=self._descending)
        if bounds is None:
            return
        auto = not isinstance(self._width, timedelta)
        span = await learn_span(
            self._fetcher,
            self._body,
            self.stats,
            bounds,
            descending=self._descending,
            need_count=auto,
        )
        self.total_results = span.total
        lo, hi = span.lo, span.hi
        if lo is None or hi is None:
            if resumed is None and self.total_results != 0:
                # No creation times to cut by: one window, the filter as it is.
                whole = TimeWindow(self._body.get("startDate"), self._body.get("endDate"))
                self._start(whole, None)
            return
        if hi < lo:
            return
        cursor = WindowCursor(
            lo,
            hi,
            descending=self._descending,
            lo_is_edge=resumed is not None and not self._descending,
            hi_is_edge=resumed is not None and self._descending,
        )
        bounds_sent = (self._body.get("startDate"), self._body.get("endDate"))
        if isinstance(self._width, timedelta):
            self._schedule = WindowSchedule(cursor, bounds_sent, width=self._width // _MS)
        else:
            first = first_auto_width(lo, hi, self.total_results or 0, self._page_size)
            self._schedule = WindowSchedule(cursor, bounds_sent, width=None, first_width=first)


async def _first_page(pages: PageIterator[T]) -> CasesPage[T] | None:
    """A window's first page (``None`` if it is empty), fetched ahead of its turn."""
    try:
        return await pages._take()
    except StopAsyncIteration:
        return None
