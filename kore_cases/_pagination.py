"""Concurrent auto-pagination: the page scheduler behind ``iter_pages`` and ``iter_cases``.

How a pull runs:

1. The first page (``start_page``) is fetched alone: its ``limit``, ``totalPages`` and
   ``totalResults`` are the truth for what follows (a server may clamp ``limit``).
2. The next pages are fetched by tasks this iterator owns, at most ``window`` of them
   beyond what the consumer has taken. Each task keeps its page as *bytes*: bytes are
   several times smaller than the objects they decode to, and decoding on arrival would
   make the reorder buffer cost garbage-collector time. A page is decoded when the
   consumer reaches it. A slow consumer therefore pauses fetching: memory is bounded
   by the window, never by the size of the result.
3. Pages are handed out in page order (``ordered=True``) or as they arrive.

The iterators are classes, not async generators, and never ``yield`` inside a task group
or cancel scope. Leaving early (``break``, ``aclose()``, leaving ``async with``, an
exception, cancellation, closing the client) cancels the fetches still running.

Data may change during a pull. Every page reports ``totalResults``; when a page reports
another total than the pages before it, cases may have slid across the boundary between
them by up to the difference. The pull then drops the fetches in flight, goes back as
many pages as that shift spans and reads on from there through the same window; the
first page read again must be close enough to the snapshot of the pages already handed
out, or it goes further back. With ``dedupe=True`` a case id already yielded is
dropped, so reading again costs no duplicates.
"""

from __future__ import annotations

import asyncio
import logging
import math
import operator
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from ._checks import whole_number
from ._fetch import PageFetcher, Unreadable, check_page_number, decode_page
from ._page_size import PageSizer
from ._stats import PullStats
from .errors import KoreCasesError, PaginationError
from .models import Case, CasesPage, page_decoder

__all__ = ["CaseIterator", "PageIterator", "TaskOwner"]

logger = logging.getLogger("kore_cases")

T = TypeVar("T")
R = TypeVar("R")

# How often a pull may go back to re-read before it moves past the furthest page
# checked so far; beyond that the data changes faster than it can be read.
_MAX_REWINDS = 10
_NONE_HASH = hash(None)


class TaskOwner:
    """Keeps the fetch tasks of one client so that closing the client can cancel them."""

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


@dataclass
class _Fetched:
    page: int
    body: bytes
    attempts: int


async def _fetch(fetcher: PageFetcher, body: bytes, page: int, stats: PullStats) -> _Fetched:
    """Fetch one page and keep it as bytes (the fetcher has checked that it looks like JSON)."""
    data, attempts = await fetcher.fetch(body, page=page, stats=stats, parse=_as_is)
    return _Fetched(page, data, attempts)


def _as_is(data: bytes) -> bytes:
    return data


class _SeenIds:
    """The case ids a pull has handed out, as hashes: about 100 bytes per case."""

    def __init__(self, case_id: Callable[[Any], Any]) -> None:
        self._case_id = case_id
        self._hashes: set[int] = set()

    def new_only(self, cases: list[Any]) -> list[Any]:
        """Return the cases whose id was not seen yet, and remember their ids."""
        keys = [hash(i) for i in map(self._case_id, cases)]
        # The common case, all in C: every id new, distinct, and not None.
        distinct = _NONE_HASH not in keys and len(set(keys)) == len(keys)
        if distinct and self._hashes.isdisjoint(keys):
            self._hashes.update(keys)
            return cases
        kept = []
        for key, case in zip(keys, cases, strict=True):
            if key == _NONE_HASH and self._case_id(case) is None:
                kept.append(case)  # nothing to dedupe on: never drop a case for it
            elif key not in self._hashes:
                self._hashes.add(key)
                kept.append(case)
        return kept


def _id_getter(model: Any) -> Callable[[Any], Any]:
    """How to read a case's id from a decoded ``model`` instance, for ``dedupe``."""
    if model is dict:
        return operator.methodcaller("get", "_id")
    if (
        isinstance(model, type)
        and issubclass(model, msgspec.Struct)
        and "id" in model.__struct_fields__
    ):
        return operator.attrgetter("id")
    raise ValueError(
        f"dedupe=True needs the model to expose the case id, and {model!r} does not: add "
        "`id: str = msgspec.field(name='_id')` to it, or pass dedupe=False"
    )


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


class PageIterator(Generic[T]):
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
    ) -> None:
        check_pull_arguments(model, start_page, max_items, ordered)
        self._seen = _SeenIds(_id_getter(model)) if dedupe else None
        self._fetcher = fetcher
        self._owner = owner
        self._filter_body = dict(filter_body)
        self._decoder = page_decoder(model)
        # A PageSizer decides the first request's limit ("max" probes); the answer rules.
        self._sizer = page_size if isinstance(page_size, PageSizer) else PageSizer(page_size)
        self._page_size = self._sizer.size
        self._window = window
        self._ordered = ordered
        self._start_page = start_page
        self._max_items = max_items
        self.stats = PullStats()
        self.resume_page: int = start_page
        # What the server said: its page size, and the highest page known to exist.
        self._limit: int | None = None
        self._last_page = start_page
        # Fetches in progress by page number; the highest page scheduled now and ever.
        self._tasks: dict[int, asyncio.Task[_Fetched]] = {}
        self._scheduled = start_page - 1
        self._scheduled_high = start_page - 1
        # Decoded pages waiting to be handed out, in order.
        self._ready: deque[CasesPage[T]] = deque()
        # Continuity: the pages up to _checked hold every case before them in the
        # snapshot whose totalResults is _checked_total. Unordered mode parks the totals
        # of pages that arrived ahead of that prefix in _arrived_totals.
        self._checked = start_page - 1
        self._checked_total: int | None = None
        self._checked_high = start_page - 1
        self._arrived_totals: dict[int, int] = {}
        # While re-reading after the data moved: the total of the snapshot the pages
        # handed out came from, and the first page not handed out in it.
        self._rewind: tuple[int, int] | None = None
        self._rewinds_without_progress = 0
        self._yielded_items = 0
        self._closed = False
        self._exhausted = False

    # -- iteration protocol -------------------------------------------------------

    def __aiter__(self) -> PageIterator[T]:
        return self

    async def __aenter__(self) -> PageIterator[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def __anext__(self) -> CasesPage[T]:
        if self._closed:
            raise StopAsyncIteration
        try:
            page = await self._next_page()
        except StopAsyncIteration:
            self._abandon()  # nothing is left to fetch; this only ends the clock
            raise
        except KoreCasesError as exc:
            exc.resume_page = self.resume_page
            self._abandon()
            raise
        except BaseException:
            self._abandon()
            raise
        self.stats.pages += 1
        self.stats.cases += len(page.results)
        return page

    async def aclose(self) -> None:
        """Stop the pull: cancel the fetches still running and wait for them to end."""
        tasks = list(self._tasks.values())
        self._abandon()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def __del__(self) -> None:
        # `break` out of a plain `async for` drops the iterator without aclose();
        # cancel its fetches so they neither run on nor hold connections.
        for task in getattr(self, "_tasks", {}).values():
            task.cancel()

    @property
    def total_results(self) -> int | None:
        """``totalResults`` as the pages read so far agree on it; ``None`` before page 1."""
        return self._checked_total

    # -- scheduling ---------------------------------------------------------------

    async def _next_page(self) -> CasesPage[T]:
        while not self._ready:
            if self._exhausted or self._max_items_reached():
                raise StopAsyncIteration
            await self._advance()
        page = self._ready.popleft()
        self._yielded_items += len(page.results)
        # Fetch ahead while the consumer works through this page.
        self._fill_window()
        # Every page before the lowest one not yet handed out has been handed out whole.
        self.resume_page = min((p.page for p in self._ready), default=self._checked + 1)
        self.resume_page = min(self.resume_page, self._checked + 1)
        return page

    def _max_items_reached(self) -> bool:
        return self._max_items is not None and self._yielded_items >= self._max_items

    async def _advance(self) -> None:
        """Bring at least one page closer: take in the next arrival, or end the pull."""
        if self._limit is None:
            first = await self._first_page()
            self._limit = first.limit
            self._scheduled = self._scheduled_high = self._start_page
            self._accept(first)
            return
        self._fill_window()
        if not self._tasks:
            self._exhausted = True
            return
        page_no = min(self._tasks) if self._ordered else await self._first_done()
        fetched = await self._result(self._tasks[page_no])
        del self._tasks[page_no]
        self._accept(await self._decode(fetched))

    async def _first_page(self) -> CasesPage[T]:
        """Fetch the start page in the consumer's task: its answer plans the pull."""
        return await self._sizer.first(self._first_page_of, self.stats)

    async def _first_page_of(self, size: int) -> CasesPage[T]:
        page = self._start_page
        if self._fetcher.paging == "skip" and page > 1:
            # skip counts cases, and resume_page counts pages of the server's limit,
            # which may be smaller than page_size (a clamp): learn the limit first.
            probe = await self._fetch_now(page, size, check_page=False)
            if probe.limit == size:
                check_page_number(probe, page)
                return probe
            return await self._fetch_now(page, probe.limit)
        return await self._fetch_now(page, size)

    async def _fetch_now(self, page: int, limit: int, *, check_page: bool = True) -> CasesPage[T]:
        body = self._fetcher.request_body(self._filter_body, page, limit)
        result, _attempts = await self._fetcher.fetch(
            body,
            page=page,
            stats=self.stats,
            parse=lambda data: self._decode_bytes(page, data, check_page=check_page),
        )
        return result

    def _fill_window(self) -> None:
        """Schedule fetches until ``window`` pages are in flight or waiting to be read."""
        limit = self._limit or self._page_size
        last = self._last_page
        if self._max_items is not None:
            # Prefetch no page that max_items cannot use.
            known = self._yielded_items + sum(len(p.results) for p in self._ready)
            remaining = self._max_items - known - limit * len(self._tasks)
            last = min(last, self._scheduled + max(0, math.ceil(remaining / limit)))
        while len(self._tasks) + len(self._ready) < self._window and self._scheduled < last:
            self._scheduled += 1
            self._tasks[self._scheduled] = self._spawn_fetch(self._scheduled)

    def _spawn_fetch(self, page: int) -> asyncio.Task[_Fetched]:
        if page <= self._scheduled_high:
            self.stats.pages_reread += 1
        self._scheduled_high = max(self._scheduled_high, page)
        body = self._fetcher.request_body(self._filter_body, page, self._limit or self._page_size)
        # The task must not hold on to `self`: an iterator dropped by `break` has to be
        # collected (its __del__ cancels the fetches) while its fetches still run.
        return self._owner.spawn(_fetch(self._fetcher, body, page, self.stats))

    async def _first_done(self) -> int:
        """Wait until any fetch has finished and return its page number."""
        done = next((p for p, t in self._tasks.items() if t.done()), None)
        if done is not None:
            return done
        await asyncio.wait(self._tasks.values(), return_when=asyncio.FIRST_COMPLETED)
        return next(p for p, t in self._tasks.items() if t.done())

    @staticmethod
    async def _result(task: asyncio.Task[_Fetched]) -> _Fetched:
        # asyncio.wait() rather than `await task`: if the consumer is cancelled while
        # waiting, the cancellation must not be forwarded into the fetch task, which
        # _abandon() cancels anyway. A page that is already there needs no wait.
        if not task.done():
            await asyncio.wait((task,))
        if task.cancelled():
            # Not this consumer's cancellation (asyncio.wait would have raised that).
            raise RuntimeError(
                "this pull was stopped (aclose() or the client's exit) while a page was awaited"
            )
        return task.result()

    async def _decode(self, fetched: _Fetched) -> CasesPage[T]:
        """Decode a fetched page; a body still malformed is fetched again (retry budget)."""
        page = fetched.page
        try:
            return self._decode_bytes(page, fetched.body)
        except Unreadable as exc:
            if fetched.attempts >= 1 + self._fetcher.policy.max_retries:
                raise self._fetcher.unreadable_error(page, exc, fetched.attempts) from None
        body = self._fetcher.request_body(self._filter_body, page, self._limit or self._page_size)
        result, _attempts = await self._fetcher.fetch(
            body,
            page=page,
            stats=self.stats,
            parse=lambda data: self._decode_bytes(page, data),
            attempts_used=fetched.attempts,
        )
        return result

    def _decode_bytes(self, page: int, body: bytes, *, check_page: bool = True) -> CasesPage[T]:
        result: CasesPage[T] = decode_page(
            body, self._decoder, page=page, path=self._fetcher.path, check_page=check_page
        )
        return result

    # -- continuity, data changes and dedupe --------------------------------------

    def _accept(self, page: CasesPage[T]) -> None:
        """Take a decoded page in: queue it if it continues the pages before it."""
        self._note(page)
        if self._ordered:
            if self._continues(page.page, page.total_results):
                self._queue(page)
            return
        # Unordered: hand pages out as they come (dedupe guards against repeats), and
        # check continuity in page order as the contiguous prefix grows.
        self._queue(page)
        self._arrived_totals[page.page] = page.total_results
        while self._checked + 1 in self._arrived_totals:
            page_no = self._checked + 1
            if not self._continues(page_no, self._arrived_totals.pop(page_no)):
                break

    def _continues(self, page_no: int, total: int) -> bool:
        """Extend the checked prefix to ``page_no``, or rewind if the data moved.

        Cases not yet handed out sit at most ``|total - base|`` places before where they
        were in the snapshot the earlier pages came from (``base``), so reading again
        from ``ceil(|total - base| / limit)`` pages back, all in one snapshot, finds
        every one of them.
        """
        limit = self._limit or self._page_size
        if self._rewind is not None:
            base, resume_at = self._rewind
            needed = max(1, resume_at - math.ceil(abs(total - base) / limit))
            if page_no > needed:  # the data moved again: this read starts too late
                self._rewind_to(needed, base, resume_at, total)
                return False
            self._rewind = None
        elif self._checked_total is not None and total != self._checked_total:
            first = max(1, page_no - math.ceil(abs(total - self._checked_total) / limit))
            self._rewind_to(first, self._checked_total, page_no, total)
            return False
        self._checked, self._checked_total = page_no, total
        if page_no > self._checked_high:
            self._checked_high = page_no
            self._rewinds_without_progress = 0
        return True

    def _rewind_to(self, first: int, base: int, resume_at: int, total: int) -> None:
        """Drop what is in flight and fetch again from page ``first``."""
        self._rewinds_without_progress += 1
        if self._rewinds_without_progress > _MAX_REWINDS:
            raise PaginationError(
                f"totalResults kept changing ({base} -> {total}) while page {resume_at} was "
                f"read again {_MAX_REWINDS} times; for a stable result set, pin end_date to "
                "the time the pull started",
                page=resume_at,
            )
        logger.warning(
            "totalResults changed during the pull: %d, then %d at page %d; "
            "reading again from page %d",
            base,
            total,
            resume_at,
            first,
        )
        for task in self._tasks.values():
            task.cancel()  # fetched before the change: their pages may be stale
        self._tasks.clear()
        self._arrived_totals.clear()
        self._scheduled = self._checked = first - 1
        self._checked_total = None
        self._rewind = (base, resume_at)

    def _note(self, page: CasesPage[T]) -> None:
        """Learn from a page's metadata how far the pull goes."""
        if page.limit != self._limit:
            raise PaginationError(
                f"page {page.page} was served with limit {page.limit}, while page "
                f"{self._start_page} was served with limit {self._limit}: the server "
                "changed its page size during the pull",
                page=page.page,
            )
        self._last_page = max(self._last_page, page.total_pages)
        # totalPages is the plan, hasMore the truth: a full last page that still says
        # hasMore means there is at least one page more than announced.
        if page.has_more and len(page.results) >= page.limit > 0:
            self._last_page = max(self._last_page, page.page + 1)

    def _queue(self, page: CasesPage[T]) -> None:
        """Queue a page for the consumer, without the cases already handed out."""
        if self._seen is not None:
            kept = self._seen.new_only(page.results)
            self.stats.duplicates_dropped += len(page.results) - len(kept)
            page.results = kept
        if page.results:
            self._ready.append(page)

    # -- ending -------------------------------------------------------------------

    def _abandon(self) -> None:
        """Stop for good: cancel every fetch still running."""
        self._closed = True
        if self.stats.finished is None:
            self.stats.finished = time.monotonic()
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        self._ready.clear()


class CaseIterator(Generic[T]):
    """Async iterator over the cases of a pull; see :meth:`CasesClient.iter_cases`.

    :attr:`stats` and :attr:`resume_page` are those of the underlying page iterator,
    except that ``resume_page`` stays on a page until all its cases were yielded.
    """

    def __init__(self, pages: PageIterator[T], *, max_items: int | None = None) -> None:
        self._pages = pages
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
        return self._pages.stats

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

    def __aiter__(self) -> CaseIterator[T]:
        return self

    async def __aenter__(self) -> CaseIterator[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def __anext__(self) -> T:
        # The path taken for all but the first case of each page: keep it short.
        index = self._index
        if index < self._available:
            self._index = index + 1
            return self._current[index]
        return await self._next_page_first_case()

    async def _next_page_first_case(self) -> T:
        if self._allowed == 0:  # max_items reached, or closed
            await self._pages.aclose()
            raise StopAsyncIteration
        # Let the cases just handed out go before the next page decodes beside them.
        self._current = []
        page = await self._pages.__anext__()  # pages are never empty
        self._current, self._current_page, self._index = page.results, page.page, 1
        self._available = len(page.results)
        if self._allowed is not None:
            self._available = min(self._available, self._allowed)
            self._allowed -= self._available
        return page.results[0]

    async def aclose(self) -> None:
        """Stop the pull and cancel the fetches still running."""
        self._available = self._index  # nothing more from the current page either
        self._allowed = 0
        await self._pages.aclose()
