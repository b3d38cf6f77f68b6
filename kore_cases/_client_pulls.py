"""The pull methods of ``CasesClient``: one page, a count, and pulls of pages or cases.

:class:`PullMethods` is a base of :class:`kore_cases.CasesClient`. It only chooses what
to ask for; the client's :class:`~kore_cases._pull_factory.PullFactory` (``_pulls``, the
one thing it needs from the client) checks the arguments and builds the iterators.
``watch()`` and ``sync()`` use the client through this public surface.
"""

from __future__ import annotations

from typing import Any, TypeVar, overload

import msgspec

from ._client_config import ClientConfig
from ._page_size import PageSize
from ._pagination import CaseIterator, PageIterator
from ._pull_factory import PullFactory
from ._windows import TimeWindow, WindowedPages, WindowSize
from .filters import CaseFilter
from .models import Case, CasesPage

__all__ = ["PullMethods"]

T = TypeVar("T")


class PullMethods(ClientConfig):
    """``get_page``, ``count``, ``iter_pages`` and ``iter_cases`` of a client."""

    _pulls: PullFactory

    @overload
    async def get_page(
        self, filter: CaseFilter | None = None, *, page: int = 1, page_size: PageSize | None = None
    ) -> CasesPage[Case]: ...

    @overload
    async def get_page(
        self,
        filter: CaseFilter | None = None,
        *,
        page: int = 1,
        page_size: PageSize | None = None,
        model: type[T],
    ) -> CasesPage[T]: ...

    async def get_page(
        self,
        filter: CaseFilter | None = None,
        *,
        page: int = 1,
        page_size: PageSize | None = None,
        model: Any = Case,
    ) -> CasesPage[Any]:
        """Fetch one page of cases (1-based ``page``), retrying as configured.

        ``page_size`` overrides the client's for this call (``"max"`` included).
        """
        return await self._pulls.page(filter, page, page_size, model)

    async def count(self, filter: CaseFilter | None = None) -> int:
        """Return how many cases match ``filter`` (``totalResults``), with one small request."""
        first = await self.get_page(filter, page=1, page_size=1, model=msgspec.Raw)
        return first.total_results

    @overload
    def iter_pages(
        self,
        filter: CaseFilter | None = None,
        *,
        ordered: bool = True,
        start_page: int = 1,
        dedupe: bool = True,
        window: None = None,
    ) -> PageIterator[Case]: ...

    @overload
    def iter_pages(
        self,
        filter: CaseFilter | None = None,
        *,
        ordered: bool = True,
        model: type[T],
        start_page: int = 1,
        dedupe: bool = True,
        window: None = None,
    ) -> PageIterator[T]: ...

    @overload
    def iter_pages(
        self,
        filter: CaseFilter | None = None,
        *,
        ordered: bool = True,
        start_page: int = 1,
        dedupe: bool = True,
        window: WindowSize,
        start_window: TimeWindow | None = None,
    ) -> WindowedPages[Case]: ...

    @overload
    def iter_pages(
        self,
        filter: CaseFilter | None = None,
        *,
        ordered: bool = True,
        model: type[T],
        start_page: int = 1,
        dedupe: bool = True,
        window: WindowSize,
        start_window: TimeWindow | None = None,
    ) -> WindowedPages[T]: ...

    def iter_pages(
        self,
        filter: CaseFilter | None = None,
        *,
        ordered: bool = True,
        model: Any = Case,
        start_page: int = 1,
        dedupe: bool = True,
        window: WindowSize | None = None,
        start_window: TimeWindow | None = None,
    ) -> PageIterator[Any] | WindowedPages[Any]:
        """Iterate over the pages of every case matching ``filter``, fetched concurrently.

        Same options as :meth:`iter_cases`; empty pages are not yielded. When the data
        moves during the pull, pages are re-read; with ``dedupe=True`` their cases
        already yielded are removed from ``results``. With ``window=``, the pages are
        those of each creation-date window in turn (their ``page`` numbers count within
        the window).
        """
        return self._pulls.pages(
            filter, model, ordered, start_page, dedupe, None, window, start_window
        )

    @overload
    def iter_cases(
        self,
        filter: CaseFilter | None = None,
        *,
        max_items: int | None = None,
        ordered: bool = True,
        start_page: int = 1,
        dedupe: bool = True,
        window: WindowSize | None = None,
        start_window: TimeWindow | None = None,
    ) -> CaseIterator[Case]: ...

    @overload
    def iter_cases(
        self,
        filter: CaseFilter | None = None,
        *,
        max_items: int | None = None,
        ordered: bool = True,
        model: type[T],
        start_page: int = 1,
        dedupe: bool = True,
        window: WindowSize | None = None,
        start_window: TimeWindow | None = None,
    ) -> CaseIterator[T]: ...

    def iter_cases(
        self,
        filter: CaseFilter | None = None,
        *,
        max_items: int | None = None,
        ordered: bool = True,
        model: Any = Case,
        start_page: int = 1,
        dedupe: bool = True,
        window: WindowSize | None = None,
        start_window: TimeWindow | None = None,
    ) -> CaseIterator[Any]:
        """Iterate over every case matching ``filter``: ``async for case in ...``.

        Page ``start_page`` is fetched first; its ``totalPages`` plans the rest, which
        are fetched ``concurrency`` at a time, at most ``concurrency`` pages ahead of the
        consumer, and decoded as the consumer reaches them. Memory stays bounded by that
        window whatever the size of the result.

        Options:
            max_items: stop after this many cases (and cancel the fetches in flight).
            ordered: yield in the server's order (default), or pages as they arrive.
            model: the type each case decodes to: :class:`Case`, a msgspec Struct of
                your own with only the fields you need (decodes several times faster),
                or ``dict``.
            start_page: the page to start from; pass an error's ``resume_page`` here to
                continue a pull that failed.
            dedupe: never yield a case id twice, even when new cases shift pages during
                the pull. It keeps a 64-bit hash of each id yielded in a flat table: 8 to
                32 bytes per case (about 20 MB for a million); pass ``dedupe=False`` to
                keep memory flat.
            window: split the pull into consecutive creation-date windows of this
                ``timedelta`` (or ``"auto"``: sized from the counts, so that the windows
                add under 5% to the requests), each paged on its own: offsets stay
                shallow and the cases come out in creation order, newest first unless
                ``sort_by={"createdDate": "asc"}``. A bound the filter leaves open is
                learnt with one or two requests of one case. With ``dedupe=True`` the
                ids are kept per window only. See :mod:`kore_cases._windows`.
            start_window: with ``window``, the window to start with: an error's
                ``resume_window`` (with ``start_page=error.resume_page``).

        An error raised during the pull carries ``page`` and ``resume_page`` (and, with
        ``window``, ``resume_window``); in ordered mode nothing after the failed page
        has been yielded, so ``start_page=error.resume_page`` continues without loss or
        repetition. In unordered mode pages after ``resume_page`` may already have been
        yielded.
        """
        pages = self._pulls.pages(
            filter, model, ordered, start_page, dedupe, max_items, window, start_window
        )
        return CaseIterator(pages, max_items=max_items)
