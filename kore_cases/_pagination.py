"""Concurrent auto-pagination: the page iterators behind ``iter_pages`` and ``iter_cases``.

How a pull runs:

1. The first page (``start_page``) is read alone: its ``limit`` and ``totalResults``
   plan what follows (a server may clamp ``limit``; ``totalPages`` is not trusted).
2. The next pages are prefetched by tasks this iterator owns, at most ``window`` of them
   beyond what the consumer has taken (:class:`~kore_cases._prefetch.PrefetchWindow`).
   Each task keeps its page as *bytes*: bytes are several times smaller than the
   objects they decode to, and decoding on arrival would make the reorder buffer cost
   garbage-collector time. A page is decoded when the consumer reaches it. A slow
   consumer therefore pauses fetching: memory is bounded by the window, never by the
   size of the result.
3. Every page is checked, in page order, by the
   :class:`~kore_cases._continuity.ContinuityTracker`: it accepts the page or says
   from which page to read again because the data moved, and it knows where the data
   ends. Pages are handed out in page order (``ordered=True``) or as they arrive.
4. When the pull ends, the cases handed out are compared with what the server
   announced; a shortfall is logged as a WARNING and kept in ``stats.shortfall``.

This module only wires those two pure parts to the
:class:`~kore_cases._page_reader.PageReader`, which builds, reads and decodes pages.
The iterators are classes, not async generators, and never ``yield`` inside a task
group or cancel scope. Leaving early (``aclose()``, leaving ``async with``, an
exception, cancellation, closing the client) cancels the fetches still running;
``break`` out of ``async for`` cancels those not answered yet, and iterating again
fetches them again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Coroutine, Mapping
from typing import Any, Protocol, TypeVar

from ._case_ids import CaseKeys, SeenIdHashes
from ._checks import whole_number
from ._continuity import ContinuityTracker, PageFacts, Rewind
from ._fetch import PageFetcher
from ._page_reader import PageReader, Prefetched, prefetch, result_of
from ._page_size import PageSizer
from ._prefetch import PrefetchWindow, pages_within
from ._pull_iter import AsyncPullIterator, PageStream
from ._stats import PullStats
from ._window_plan import TimeWindow
from .errors import KoreCasesError, PaginationError, resume_at
from .models import Case, CasesPage, page_decoder

__all__ = ["CaseIterator", "PageIterator", "PageSource", "TaskOwner", "check_pull_arguments"]

logger = logging.getLogger("kore_cases")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
R = TypeVar("R")


class TaskOwner:
    """Keeps the prefetch tasks of one client so that closing the client can cancel them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, R]) -> asyncio.Task[R]:
        """Start ``coro`` as a task owned by the client."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        # Retrieve the outcome so that a failed fetch nobody waits for any more (the
        # pull was abandoned) is not reported as "exception was never retrieved".
        if not task.cancelled():
            task.exception()

    async def cancel_all(self) -> None:
        """Cancel every task and wait until they have finished."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def check_pull_arguments(
    model: Any, start_page: object, max_items: object = None, ordered: object = True
) -> None:
    """Refuse bad ``iter_*`` arguments before any request is sent."""
    whole_number("start_page", start_page, 1)
    if max_items is not None:
        whole_number("max_items", max_items, 1)
    if not isinstance(ordered, bool):
        raise TypeError(f"ordered must be True or False, not {ordered!r}")
    try:
        page_decoder(model)
    except TypeError as exc:
        raise TypeError(
            f"model must be a type msgspec can decode into (a msgspec.Struct, dict, "
            f"msgspec.Raw...), not {model!r}: {exc}"
        ) from None


class PageIterator(PageStream[T]):
    """Async iterator over the pages of a pull; see :meth:`CasesClient.iter_pages`.

    Use it as ``async for page in it`` or ``async with it: async for page in it``;
    :meth:`aclose` stops it early. :attr:`stats` counts what it did and
    :attr:`resume_page` is where a new pull would continue.
    """

    def __init__(
        self,
        fetcher: PageFetcher,
        owner: TaskOwner,
        filter_body: Mapping[str, Any],
        *,
        model: Any = Case,
        page_size: int | PageSizer,
        window: int,
        start_page: int = 1,
        ordered: bool = True,
        dedupe: bool = True,
        max_items: int | None = None,
        stats: PullStats | None = None,
    ) -> None:
        check_pull_arguments(model, start_page, max_items, ordered)
        self._keys = CaseKeys(model, required=dedupe)
        self._seen = SeenIdHashes(self._keys.case_id) if self._keys.case_id and dedupe else None
        self._owner = owner
        self._ordered = ordered
        self._start_page = start_page
        self._max_items = max_items
        # A windowed pull hands every window's iterator the same counters.
        self.stats: PullStats = PullStats() if stats is None else stats
        self._reader: PageReader[T] = PageReader(fetcher, filter_body, model, page_size, self.stats)
        self._window: PrefetchWindow[asyncio.Task[Prefetched], CasesPage[T]] = PrefetchWindow(
            window, start_page + 1
        )
        self._concurrency = window
        self._tracker: ContinuityTracker | None = None  # from the first page on
        self._handed_out = 0  # cases in the pages handed to the consumer
        self._closed = False
        self._exhausted = False
        self._observer = fetcher.observer
        self._observer.pull_started(self.stats, self._reader.filter_body)

    # -- iteration protocol (``async for``/``async with``: see PageStream) -----------

    async def aclose(self) -> None:
        """Stop the pull: cancel the fetches still running and wait for them to end."""
        tasks = list(self._window.in_flight.values())
        self._abandon()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def __del__(self) -> None:
        # `break` out of a plain `async for` drops the iterator without aclose();
        # cancel its fetches so they neither run on nor hold connections.
        window = getattr(self, "_window", None)
        if window is not None:
            for task in window.in_flight.values():
                task.cancel()
            self._observer.pull_finished(self.stats)

    @property
    def total_results(self) -> int | None:
        """``totalResults`` as the pages read so far agree on it; ``None`` before page 1."""
        return self._tracker.total if self._tracker is not None else None

    @property
    def resume_page(self) -> int:
        """The page to pass as ``start_page=`` to continue: all before it were handed out.

        While pages are read again after the data moved, it is the first page read
        again: cases not handed out may have slid back onto it.
        """
        if self._tracker is None:
            return self._start_page
        lowest = self._window.lowest_ready()
        checked = self._tracker.resume_page
        return checked if lowest is None else min(lowest, checked)

    @property
    def resume_window(self) -> TimeWindow | None:
        """Always ``None``: a pull without ``window=`` continues from :attr:`resume_page`."""
        return None

    # -- taking pages ---------------------------------------------------------------

    async def _take(self) -> CasesPage[T]:
        """The next page for the consumer; the one place an error gets ``resume_page``."""
        if self._closed:
            raise StopAsyncIteration
        try:
            page = await self._next_page()
        except KoreCasesError as exc:
            resume_at(exc, self.resume_page)
            self._abandon(exc)
            raise
        except BaseException as exc:  # StopAsyncIteration too: it only ends the clock
            self._abandon(None if isinstance(exc, StopAsyncIteration) else exc)
            raise
        self.stats.pages += 1
        self._observer.page(self.stats, page.page, len(page.results), self.total_results)
        return page

    async def _next_page(self) -> CasesPage[T]:
        while (page := self._window.pop_ready()) is None:
            if self._exhausted or self._max_items_reached():
                raise StopAsyncIteration
            await self._advance()
        self._handed_out += len(page.results)
        self._fill()  # fetch ahead while the consumer works through this page
        return page

    def _max_items_reached(self) -> bool:
        return self._max_items is not None and self._handed_out >= self._max_items

    def _pause(self) -> None:
        """The consumer left its loop: stop the fetches not answered yet."""
        if not self._closed:
            for task in self._window.pause(asyncio.Task.done):
                task.cancel()

    # -- fetching -----------------------------------------------------------------

    async def _advance(self) -> None:
        """Bring at least one page closer: take in the next arrival, or end the pull."""
        if self._tracker is None:
            first = await self._reader.first(self._start_page)
            self._tracker = ContinuityTracker(self._start_page, first.limit)
            self._accept(first)
            return
        self._fill()
        window = self._window
        page_no = window.lowest_in_flight() if self._ordered else await self._first_done()
        if page_no is None:
            self._exhausted = True
            _report_shortfall(self._tracker, self._handed_out, self.stats)
            return
        prefetched = await result_of(window.in_flight[page_no], page_no)
        window.in_flight.pop(page_no, None)
        self._accept(await self._reader.decode(prefetched, self._tracker.served_page_size))

    def _fill(self) -> None:
        """Schedule prefetches while the window has room and pages are worth fetching."""
        tracker = self._tracker
        if tracker is None or self._closed:
            return
        budget = None
        if self._max_items is not None:
            # Prefetch no page that max_items cannot use.
            window = self._window
            known = self._handed_out + sum(len(p.results) for p in window.ready_items())
            remaining = self._max_items - known - tracker.served_page_size * len(window.in_flight)
            budget = max(0, math.ceil(remaining / tracker.served_page_size))
        self._window.size = pages_within(self._concurrency, self._reader.body_bytes)
        self._window.schedule(tracker.last_page, self._spawn_prefetch, budget)

    def _spawn_prefetch(self, page: int, again: bool) -> asyncio.Task[Prefetched]:
        if again:
            self.stats.pages_reread += 1
        assert self._tracker is not None
        body = self._reader.body(page, self._tracker.served_page_size)
        # The task must not hold on to `self`: an iterator dropped by `break` has to be
        # collected (its __del__ cancels the fetches) while its fetches still run.
        return self._owner.spawn(prefetch(self._reader.fetcher, body, page, self.stats))

    async def _first_done(self) -> int | None:
        """Wait until any fetch has finished and return its page number."""
        window = self._window
        if not window.in_flight:
            return None
        done = window.first_done(asyncio.Task.done)
        if done is None:
            await asyncio.wait(window.in_flight.values(), return_when=asyncio.FIRST_COMPLETED)
            done = window.first_done(asyncio.Task.done)
        return done

    # -- continuity, data changes and dedupe --------------------------------------

    def _accept(self, page: CasesPage[T]) -> None:
        """Take a decoded page in: queue it if it continues the pages before it."""
        tracker = self._tracker
        assert tracker is not None
        if page.limit != tracker.served_page_size:
            raise PaginationError(
                f"page {page.page} was served with limit {page.limit}, while page "
                f"{self._start_page} was served with limit {tracker.served_page_size}: the server "
                "changed its page size during the pull",
                page=page.page,
            )
        keys = self._keys.of(page.results)
        facts = PageFacts(
            page.page,
            page.total_results,
            len(page.results),
            page.has_more,
            CaseKeys.comparable(keys),
        )
        if self._ordered:
            verdict = tracker.check(facts)
            if verdict is None or verdict.keep:
                self._queue(page, keys)
        else:
            # Unordered: hand pages out as they come (dedupe guards against repeats);
            # the tracker checks them in page order as the contiguous run grows.
            self._queue(page, keys)
            verdict = tracker.arrive(facts)
        if verdict is not None:
            self._rewind(verdict)
        for task in self._window.trim(tracker.last_page):
            task.cancel()  # past the end of the data

    def _rewind(self, verdict: Rewind) -> None:
        """Drop what is in flight (it may predate the change) and read on from ``to``."""
        logger.warning("%s; reading again from page %d", verdict.reason, verdict.to)
        for task in self._window.restart(verdict.to):
            task.cancel()

    def _queue(self, page: CasesPage[T], keys: list[int]) -> None:
        """Queue a page for the consumer, without the cases already handed out."""
        if self._seen is not None:
            kept = self._seen.new_only(page.results, keys)
            self.stats.duplicates_dropped += len(page.results) - len(kept)
            page.results = kept
        if page.results:
            self._window.put_ready(page.page, page)

    # -- ending -------------------------------------------------------------------

    def _abandon(self, error: BaseException | None = None) -> None:
        """Stop for good: cancel every fetch still running; ``error`` ended the pull."""
        self._closed = True
        if self.stats.finished is None:
            self.stats.finished = time.monotonic()
            self._observer.pull_finished(self.stats, error)
        for task in self._window.clear():
            task.cancel()


def _report_shortfall(tracker: ContinuityTracker, handed_out: int, stats: PullStats) -> None:
    """At the end of the data: say so if fewer cases came than were announced."""
    missing = tracker.shortfall(handed_out)
    if not missing:
        return
    stats.shortfall += missing  # a windowed pull shares one PullStats across windows
    logger.warning(
        "the pull handed out %d cases, but the server announced %d (the least "
        "totalResults seen%s; %d repeats dropped): %d may have been missed. Cases "
        "created and resolved while it ran can do this (pin end_date to the start of "
        "the pull), or a server that ignores the page asked (try paging='skip')",
        handed_out,
        tracker.least_total,
        f", from page {tracker.first} on" if tracker.first > 1 else "",
        stats.duplicates_dropped,
        missing,
    )


class PageSource(Protocol[T]):
    """What :class:`CaseIterator` reads pages from: a page iterator, windowed or not."""

    @property
    def stats(self) -> PullStats: ...

    @property
    def total_results(self) -> int | None: ...

    @property
    def resume_page(self) -> int: ...

    @property
    def resume_window(self) -> TimeWindow | None: ...

    async def __anext__(self) -> CasesPage[T]: ...

    async def _take(self) -> CasesPage[T]:
        """The next page, without counting its cases (the case iterator counts them)."""
        ...

    def _pause(self) -> None:
        """The consumer left its ``async for``: stop the fetches not answered yet."""
        ...

    async def aclose(self) -> None:
        """Stop the pull: cancel the fetches still running and wait for them to end."""
        ...


class CaseIterator(AsyncPullIterator[T]):
    """Async iterator over the cases of a pull; see :meth:`CasesClient.iter_cases`.

    :attr:`stats`, :attr:`resume_page` and :attr:`resume_window` are those of the
    underlying page iterator, except that ``resume_page`` stays on a page until all its
    cases were yielded and ``stats.cases`` counts the cases yielded.
    """

    def __init__(self, pages: PageSource[T], *, max_items: int | None = None) -> None:
        self._pages = pages
        self._stats = pages.stats
        self._current: list[T] = []
        self._current_page: int | None = None
        self._index = 0
        # How far into _current may be handed out (max_items may stop inside a page),
        # and how many cases max_items still allows after that.
        self._available = 0
        self._allowed = max_items

    @property
    def stats(self) -> PullStats:
        """Counters of the pull (pages, cases, retries, waits, duplicates, elapsed)."""
        return self._stats

    @property
    def total_results(self) -> int | None:
        """``totalResults`` as the pages read so far agree on it; ``None`` before page 1."""
        return self._pages.total_results

    @property
    def resume_page(self) -> int:
        """The page to pass as ``start_page=`` to continue: all before it were yielded."""
        if self._current_page is not None and self._index < len(self._current):
            # Unordered pulls may hand out a page while an earlier one is still missing.
            return min(self._current_page, self._pages.resume_page)
        return self._pages.resume_page

    @property
    def resume_window(self) -> TimeWindow | None:
        """With ``window=``, the window :attr:`resume_page` counts in (pass it as
        ``start_window=``); ``None`` for a pull without windows."""
        return self._pages.resume_window

    async def __anext__(self) -> T:
        # The path taken for all but the first case of each page: keep it short.
        index = self._index
        if index < self._available:
            self._index = index + 1
            self._stats.cases += 1
            return self._current[index]
        return await self._next_page_first_case()

    async def _next_page_first_case(self) -> T:
        if self._allowed == 0:  # max_items reached, or closed
            await self._pages.aclose()
            raise StopAsyncIteration
        # Let the cases just handed out go before the next page decodes beside them.
        self._current = []
        page = await self._pages._take()  # pages are never empty
        self._current, self._current_page, self._index = page.results, page.page, 1
        self._available = len(page.results)
        if self._allowed is not None:
            self._available = min(self._available, self._allowed)
            self._allowed -= self._available
        self._stats.cases += 1
        return page.results[0]

    def _pause(self) -> None:
        self._pages._pause()

    async def aclose(self) -> None:
        """Stop the pull and cancel the fetches still running."""
        self._available = self._index  # nothing more from the current page either
        self._allowed = 0
        await self._pages.aclose()
