"""Reading the pages of one pull: the request for a page, its fetch, its decoding.

The words: to *fetch* a page is to send its request, with retries, until an answer is
usable (:meth:`PageFetcher.fetch`); to *read* one is to fetch it and decode it now; to
*prefetch* one is to fetch it in a task ahead of the consumer and keep it as bytes.

:class:`PageReader` knows the pull's filter, model and page size; the page iterator
decides *which* pages to read and when. Prefetched pages are kept as bytes
(:class:`Prefetched`) and decoded when the consumer reaches them; a body that is still
malformed then is read again within the page's retry budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ._fetch import PageFetcher, Unreadable, check_page_number, decode_page
from ._http import ResponseBody
from ._page_size import PageSizer
from ._stats import PullStats
from .errors import ClientClosedError, PaginationError
from .models import CasesPage, page_decoder

__all__ = ["PageReader", "Prefetched", "prefetch", "result_of"]

T = TypeVar("T")


@dataclass
class Prefetched:
    """A prefetched page's answer as bytes, and the attempts it took."""

    page: int
    body: ResponseBody
    attempts: int


async def prefetch(fetcher: PageFetcher, body: bytes, page: int, stats: PullStats) -> Prefetched:
    """Fetch one page and keep it as bytes (the fetcher has checked that it looks like JSON).

    A pull runs each as a task; tests find those tasks by this coroutine's name.
    """
    data, attempts = await fetcher.fetch(body, page=page, stats=stats, parse=_as_is)
    return Prefetched(page, data, attempts)


def _as_is(data: ResponseBody) -> ResponseBody:
    return data


async def result_of(task: asyncio.Task[Prefetched], page: int) -> Prefetched:
    """The outcome of a prefetch, without forwarding the consumer's cancellation to it."""
    # asyncio.wait() rather than `await task`: if the consumer is cancelled while
    # waiting, the cancellation must not be forwarded into the prefetch task, which the
    # iterator cancels anyway. A page that is already there needs no wait.
    if not task.done():
        await asyncio.wait((task,))
    if task.cancelled():
        # Not this consumer's cancellation (asyncio.wait would have raised that).
        raise ClientClosedError(
            f"page {page}: this pull was stopped (aclose() or the client's exit) while "
            "the page was awaited",
            page=page,
        )
    return task.result()


class PageReader(Generic[T]):
    """Builds, reads and decodes the pages of one pull."""

    def __init__(
        self,
        fetcher: PageFetcher,
        filter_body: Mapping[str, Any],
        model: Any,
        page_size: int | PageSizer,
        stats: PullStats,
    ) -> None:
        self.fetcher = fetcher
        self.filter_body = dict(filter_body)
        self._decoder = page_decoder(model)
        # A PageSizer decides the first request's limit ("max" probes); the answer rules.
        self._sizer = page_size if isinstance(page_size, PageSizer) else PageSizer(page_size)
        self._stats = stats
        self.body_bytes: int | None = None
        """The size of the latest answer read, for the prefetch window (``None`` before)."""

    def body(self, page: int, limit: int) -> bytes:
        """The request body asking for ``page`` of ``limit`` cases."""
        return self.fetcher.request_body(self.filter_body, page, limit)

    async def first(self, page: int) -> CasesPage[T]:
        """Read the start page: its answer plans the pull (and its ``limit`` is usable)."""
        answer = await self._sizer.first(lambda size: self._first(page, size), self._stats)
        return _usable_limit(answer)

    async def _first(self, page: int, size: int) -> CasesPage[T]:
        if self.fetcher.paging == "skip" and page > 1:
            # skip counts cases, and resume_page counts pages of the server's limit,
            # which may be smaller than page_size (a clamp): learn the limit first.
            probe = _usable_limit(await self._read(page, size, check_page=False))
            if probe.limit == size:
                check_page_number(probe, page)
                return probe
            return await self._read(page, probe.limit)
        return await self._read(page, size)

    async def _read(
        self, page: int, limit: int, *, check_page: bool = True, attempts_used: int = 0
    ) -> CasesPage[T]:
        result, _attempts = await self.fetcher.fetch(
            self.body(page, limit),
            page=page,
            stats=self._stats,
            parse=lambda data: self._decode(page, data, check_page=check_page),
            attempts_used=attempts_used,
        )
        return result

    async def decode(self, prefetched: Prefetched, limit: int) -> CasesPage[T]:
        """Decode a prefetched page; a body still malformed is read again (retry budget)."""
        page = prefetched.page
        try:
            return self._decode(page, prefetched.body)
        except Unreadable as exc:
            if prefetched.attempts >= 1 + self.fetcher.policy.max_retries:
                raise self.fetcher.unreadable_error(page, exc, prefetched.attempts) from None
        return await self._read(page, limit, attempts_used=prefetched.attempts)

    def _decode(self, page: int, body: ResponseBody, *, check_page: bool = True) -> CasesPage[T]:
        self.body_bytes = len(body)
        result: CasesPage[T] = decode_page(
            body, self._decoder, page=page, path=self.fetcher.path, check_page=check_page
        )
        return result


def _usable_limit(page: CasesPage[T]) -> CasesPage[T]:
    """Refuse a page size no request can be built from (it would be sent back)."""
    if page.limit < 1:
        raise PaginationError(
            f"page {page.page} was served with limit {page.limit}: a page size is a whole "
            "number >= 1, so the server's paging metadata cannot plan the pull",
            page=page.page,
        )
    return page
