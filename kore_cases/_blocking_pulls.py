"""The pull methods of the blocking ``CasesClient``: one page, a count, pages, cases.

:class:`BlockingPullMethods` is a base of :class:`kore_cases.blocking.CasesClient`;
each method runs the async client's method of the same name on the background loop
(:class:`~kore_cases._blocking_loop.LoopCalls`), which documents the options.
"""

from __future__ import annotations

from typing import Any, TypeVar, overload

from ._blocking_loop import LoopCalls, PullIterator
from ._page_size import PageSize
from ._windows import TimeWindow, WindowSize
from .filters import CaseFilter
from .models import Case, CasesPage

__all__ = ["BlockingPullMethods"]

T = TypeVar("T")


class BlockingPullMethods(LoopCalls):
    """``get_page``, ``count``, ``iter_pages`` and ``iter_cases`` of the blocking client."""

    @overload
    def get_page(
        self, filter: CaseFilter | None = None, *, page: int = 1, page_size: PageSize | None = None
    ) -> CasesPage[Case]: ...

    @overload
    def get_page(
        self,
        filter: CaseFilter | None = None,
        *,
        page: int = 1,
        page_size: PageSize | None = None,
        model: type[T],
    ) -> CasesPage[T]: ...

    def get_page(
        self,
        filter: CaseFilter | None = None,
        *,
        page: int = 1,
        page_size: PageSize | None = None,
        model: Any = Case,
    ) -> CasesPage[Any]:
        """Fetch one page; see :meth:`kore_cases.CasesClient.get_page`."""
        return self._call(
            lambda: self._client.get_page(filter, page=page, page_size=page_size, model=model)
        )

    def count(self, filter: CaseFilter | None = None) -> int:
        """How many cases match ``filter``; see :meth:`kore_cases.CasesClient.count`."""
        return self._call(lambda: self._client.count(filter))

    @overload
    def iter_pages(
        self,
        filter: CaseFilter | None = None,
        *,
        ordered: bool = True,
        start_page: int = 1,
        dedupe: bool = True,
        window: WindowSize | None = None,
        start_window: TimeWindow | None = None,
    ) -> PullIterator[CasesPage[Case]]: ...

    @overload
    def iter_pages(
        self,
        filter: CaseFilter | None = None,
        *,
        ordered: bool = True,
        model: type[T],
        start_page: int = 1,
        dedupe: bool = True,
        window: WindowSize | None = None,
        start_window: TimeWindow | None = None,
    ) -> PullIterator[CasesPage[T]]: ...

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
    ) -> PullIterator[CasesPage[Any]]:
        """Iterate over pages; see :meth:`kore_cases.CasesClient.iter_pages`."""
        return self._pull(
            lambda: self._client._pulls.pages(
                filter, model, ordered, start_page, dedupe, None, window, start_window
            )
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
    ) -> PullIterator[Case]: ...

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
    ) -> PullIterator[T]: ...

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
    ) -> PullIterator[Any]:
        """Iterate over cases: ``for case in client.iter_cases(...)``.

        See :meth:`kore_cases.CasesClient.iter_cases` for the options; errors carry
        ``page`` and ``resume_page`` as there.
        """
        return self._pull(
            lambda: self._client.iter_cases(
                filter,
                max_items=max_items,
                ordered=ordered,
                model=model,
                start_page=start_page,
                dedupe=dedupe,
                window=window,
                start_window=start_window,
            )
        )
