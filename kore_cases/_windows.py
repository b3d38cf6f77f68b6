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
  (``page=totalResults``), gives the other end. The oldest and newest windows send the
  filter's own bounds (none, if it has none), so together the windows ask exactly what
  the filter asks. ``window="auto"`` always makes the first request (it needs the count).
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
  windows after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Generic, Literal, TypeVar, Union

import msgspec

from ._fetch import PageFetcher, decode_page
from ._pagination import PageIterator, TaskOwner, _Loop
from ._stats import PullStats
from ._window_plan import NominalWindow, WindowCursor, auto_width, first_auto_width
from ._wire import kore_time_from_ms, ms_from_datetime, parse_kore_time
from .errors import KoreCasesError, resume_at
from .models import CasesPage, page_decoder

__all__ = ["TimeWindow", "WindowSize", "WindowedPages", "check_window", "window_order"]

logger = logging.getLogger("kore_cases")

T = TypeVar("T")

WindowSize = Union[timedelta, Literal["auto"]]  # noqa: UP007 (a runtime alias on 3.10)
"""A window width, or ``"auto"``: sized from the counts."""

_MS = timedelta(milliseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class TimeWindow:
    """One creation-date window of a windowed pull: the ``startDate``/``endDate`` it sends.

    ``None`` means the bound is not sent (the filter has none there). Errors of a
    windowed pull carry one as ``resume_window``; pass it back as ``start_window=``.
    """

    start: str | None
    end: str | None

    def apply(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``body`` with this window's bounds in place of the filter's."""
        windowed = {k: v for k, v in body.items() if k not in ("startDate", "endDate")}
        if self.start is not None:
            windowed["startDate"] = self.start
        if self.end is not None:
            windowed["endDate"] = self.end
        return windowed


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


class _Stamp(msgspec.Struct, gc=False):
    """Just the creation time of a case, for learning a pull's span."""

    created_at: str | None = msgspec.field(default=None, name="createdAt")


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


class WindowedPages(Generic[T]):
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
    ) -> None:
        self._fetcher = fetcher
        self._owner = owner
        self._body = dict(body)
        self._open_window = open_window
        self._case_id = case_id
        self._width = window
        self._page_size = page_size
        self._concurrency = concurrency
        self._descending = window_order(body)
        self._start_window = start_window
        self._start_page = start_page
        self._max_items = max_items
        self._tail_pages = None if dedupe else 2  # the ids that guard the next window
        self._planned = False
        self._cursor: WindowCursor | None = None
        self._last_width: int | None = None
        self._count_hint: tuple[int, int] | None = None  # (width, count) of a window
        self._queue: deque[_Window[T]] = deque()
        self._edge_ids: set[Any] = set()
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

    # -- iteration protocol -------------------------------------------------------

    def __aiter__(self) -> _Loop[CasesPage[T]]:
        return _Loop(self)

    async def __aenter__(self) -> WindowedPages[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def __anext__(self) -> CasesPage[T]:
        page = await self._take()
        self.stats.cases += len(page.results)
        return page

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
            if started.first is not None:
                await asyncio.gather(started.first, return_exceptions=True)
            await started.pages.aclose()

    def _pause(self) -> None:
        """The consumer left its ``async for``: stop the fetches not answered yet."""
        for started in self._queue:
            task = started.first
            if task is not None and not task.done():
                # Cancelled, its iterator is spent: the window starts afresh if resumed.
                task.cancel()
                started.first = None
                started.pages = self._open_window(
                    started.sent.apply(self._body), started.start_page, self.stats
                )
            else:
                started.pages._pause()

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
            self.resume_page = head.pages.resume_page
            results = page.results
            if self._edge_ids:
                kept = [c for c in results if self._case_id(c) not in self._edge_ids]
                self.stats.duplicates_dropped += len(results) - len(kept)
                page.results = results = kept
                if not kept:
                    self.stats.pages -= 1  # counted by the window, never handed out
            head.tail.append([self._case_id(c) for c in results])
            if results:
                self._yielded += len(results)
                return page

    async def _next_of(self, head: _Window[T]) -> CasesPage[T] | None:
        """The head window's next page, or ``None`` when it has no more."""
        if head.first is not None:
            task, head.first = head.first, None
            first = await task
        elif not head.learned:  # its first fetch was stopped by a pause
            first = await _first_page(head.pages)
        else:
            try:
                page = await head.pages._take()
            except StopAsyncIteration:
                return None
            head.taken += 1
            return page
        self._learn(head, first)
        head.taken = 1
        return first

    def _learn(self, started: _Window[T], page: CasesPage[T] | None) -> None:
        """Take in a window's first answer (``None``: it is empty): its size, its count."""
        if started.learned:
            return
        started.learned = True
        count = 0 if page is None else page.total_results
        started.total_results = count
        started.total_pages = 0 if page is None else max(page.total_pages, page.page)
        if page is not None and page.limit > 0:
            self._page_size = page.limit
        if started.nominal is not None:
            self._count_hint = (started.nominal.end - started.nominal.start, count)

    def _peek(self, started: _Window[T]) -> None:
        """Learn from a window's first page as soon as it has arrived."""
        task = started.first
        if task is not None and task.done() and not task.cancelled() and not task.exception():
            self._learn(started, task.result())

    def _finish(self, head: _Window[T]) -> None:
        """The head window is done: its last ids guard the next one's edge."""
        self._queue.popleft()
        self._edge_ids = {case_id for ids in head.tail for case_id in ids}
        self.stats.finished = None  # the window's end is not the pull's
        # The next window starts at page 1 (only the first one resumes mid-window).
        self.resume_page = 1

    def _start_windows(self) -> None:
        """Start windows ahead while the ones started have < ``concurrency`` pages left.

        A window whose first answer has not come yet may hold many pages: no window is
        started after it until it has, which bounds the pages fetched ahead.
        """
        while not self._closed and self._more_windows():
            for started in self._queue:
                self._peek(started)
            remaining = [w.remaining for w in self._queue]
            if self._queue and (
                None in remaining or sum(r or 0 for r in remaining) >= self._concurrency
            ):
                return
            if self._max_items is not None and self._yielded >= self._max_items:
                return
            self._start(*self._next_window())

    def _more_windows(self) -> bool:
        return self._cursor is not None and not self._cursor.done

    def _next_window(self) -> tuple[TimeWindow, NominalWindow]:
        assert self._cursor is not None
        nominal = self._cursor.take(self._next_width(), aligned=self._width != "auto")
        return self._sent(nominal), nominal

    def _next_width(self) -> int:
        if self._width != "auto":
            return self._width // _MS
        assert self._last_width is not None
        if self._count_hint is not None:
            width, count = self._count_hint
            self._count_hint = None
            self._last_width = auto_width(width, count, self._page_size)
        return self._last_width

    def _sent(self, nominal: NominalWindow) -> TimeWindow:
        start = self._body.get("startDate") if nominal.oldest else _iso(nominal.start - 1)
        end = self._body.get("endDate") if nominal.newest else _iso(nominal.end)
        return TimeWindow(start, end)

    def _start(self, sent: TimeWindow, nominal: NominalWindow | None, page: int = 1) -> None:
        pages = self._open_window(sent.apply(self._body), page, self.stats)
        first = self._owner.spawn(_first_page(pages))
        tail: deque[list[Any]] = deque(maxlen=self._tail_pages)
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
        if self._start_window is not None:
            self._start(self._start_window, None, self._start_page)
        lo, hi = await self._span()
        if lo is None or hi is None:
            if self._start_window is None and self.total_results != 0:
                # No creation times to cut by: one window, the filter as it is.
                whole = TimeWindow(self._body.get("startDate"), self._body.get("endDate"))
                self._start(whole, None)
            return
        if hi < lo:
            return
        resumed = self._start_window is not None
        self._cursor = WindowCursor(
            lo,
            hi,
            descending=self._descending,
            lo_is_edge=resumed and not self._descending,
            hi_is_edge=resumed and self._descending,
        )
        if self._width == "auto":
            total = self.total_results or 0
            self._last_width = first_auto_width(lo, hi, total, self._page_size)

    async def _span(self) -> tuple[int | None, int | None]:
        """The creation times ``[lo, hi]`` the windows still have to cover, in ms."""
        lo = _bound_ms(self._body.get("startDate"), end=False)
        hi = _bound_ms(self._body.get("endDate"), end=True)
        resumed = self._start_window
        if resumed is not None:
            # Only the windows after the resumed one are left to plan.
            if self._descending:
                if resumed.start is None or resumed.start == self._body.get("startDate"):
                    return None, None
                # It sent startDate = a - 1 ms: [lo, a - 1] is left.
                hi = _bound_ms(resumed.start, end=False)
            else:
                if resumed.end is None or resumed.end == self._body.get("endDate"):
                    return None, None
                # It sent endDate = b: [b, hi] is left.
                lo = _bound_ms(resumed.end, end=False)
        need_count = self._width == "auto"
        if lo is not None and hi is not None and not need_count:
            return lo, hi
        first = await self._probe(1)
        self.total_results = first.total_results
        if first.total_results == 0 or not first.results:
            return None, None
        one_end = _created_ms(first.results[0])
        other_end: int | None = None
        if (lo is None and self._descending) or (hi is None and not self._descending):
            last = await self._probe(first.total_results)
            other_end = _created_ms(last.results[0]) if last.results else None
        else:
            other_end = one_end
        newest, oldest = (one_end, other_end) if self._descending else (other_end, one_end)
        lo = oldest if lo is None else lo
        hi = newest if hi is None else hi
        return lo, hi

    async def _probe(self, page: int) -> CasesPage[_Stamp]:
        """One case of the pull (page ``page`` of size 1): its time and the count."""
        decoder = page_decoder(_Stamp)
        fetcher = self._fetcher
        body = fetcher.request_body(self._body, page, 1)
        result, _attempts = await fetcher.fetch(
            body,
            page=page,
            stats=self.stats,
            parse=lambda data: decode_page(data, decoder, page=page, path=fetcher.path),
        )
        return result


async def _first_page(pages: PageIterator[T]) -> CasesPage[T] | None:
    """A window's first page (``None`` if it is empty), fetched ahead of its turn."""
    try:
        return await pages._take()
    except StopAsyncIteration:
        return None


def _iso(ms: int) -> str:
    """Epoch milliseconds as Kore writes dates: ``2025-05-26T18:30:00.000Z``."""
    return kore_time_from_ms(ms)


def _bound_ms(text: object, *, end: bool) -> int | None:
    """A filter bound as sent (ISO date-time, or a date) in ms; a date's end is its last ms."""
    if not isinstance(text, str):
        return None
    if len(text) == 10:
        day = date.fromisoformat(text)
        start = (datetime(day.year, day.month, day.day, tzinfo=timezone.utc) - _EPOCH) // _MS
        return start + _DAY_MS - 1 if end else start
    return _ms(text)


def _created_ms(stamp: _Stamp) -> int | None:
    return None if stamp.created_at is None else _ms(stamp.created_at)


def _ms(text: str) -> int | None:
    moment = parse_kore_time(text)
    return None if moment is None else ms_from_datetime(moment)
