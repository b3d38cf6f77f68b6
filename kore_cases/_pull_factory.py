"""How a client's calls are assembled: a filter and options in, a page or a pull out.

:class:`PullFactory` joins the options of one client or view (its
:class:`~kore_cases._settings.Settings`) to the :class:`~kore_cases._session.Session` it
shares: :meth:`~PullFactory.page` fetches one page (``get_page``), and
:meth:`~PullFactory.pages` checks a pull's arguments and builds its
:class:`~kore_cases._pagination.PageIterator`, or with ``window=`` its
:class:`~kore_cases._windows.WindowedPages`. The client's public methods only choose
what to ask for; every check that can fail before a request is sent happens here.
"""

from __future__ import annotations

from typing import Any

from ._case_ids import CaseKeys
from ._checks import whole_number
from ._fetch import decode_page
from ._page_size import PageSize, check_page_size
from ._pagination import PageIterator, check_pull_arguments
from ._session import Session
from ._settings import Settings
from ._stats import PullStats
from ._window_resume import created_ms_reader
from ._windows import TimeWindow, WindowedPages, WindowSize, check_window, window_order
from .filters import CaseFilter
from .models import CasesPage, page_decoder

__all__ = ["PullFactory"]


class PullFactory:
    """One page or one pull, with the options of a client (or view) over its session."""

    def __init__(self, settings: Settings, session: Session) -> None:
        self.settings = settings
        self.session = session

    async def page(
        self, filter: CaseFilter | None, page: int, page_size: PageSize | None, model: Any
    ) -> CasesPage[Any]:
        """Fetch page ``page`` (``page_size=None``: the client's), retrying as configured."""
        body = _filter_body(filter)
        whole_number("page", page, 1)
        check_pull_arguments(model, page)
        asked = self.settings.page_size if page_size is None else check_page_size(page_size)
        sizer = self.session.sizer(asked)
        fetcher = self.session.fetcher(self.settings)
        decoder = page_decoder(model)
        path = self.settings.path

        async def read(size: int) -> CasesPage[Any]:
            result, _attempts = await fetcher.fetch(
                fetcher.request_body(body, page, size),
                page=page,
                stats=PullStats(),
                parse=lambda data: decode_page(data, decoder, page=page, path=path),
                interactive=True,
            )
            return result

        return await sizer.first(read, PullStats())

    def pages(
        self,
        filter: CaseFilter | None,
        model: Any,
        ordered: bool,
        start_page: int,
        dedupe: bool,
        max_items: int | None,
        window: WindowSize | None = None,
        start_window: TimeWindow | None = None,
    ) -> PageIterator[Any] | WindowedPages[Any]:
        """The pages of a pull: one paged run, or with ``window`` one per window."""
        body = _filter_body(filter)
        if window is None:
            if start_window is not None:
                raise ValueError("start_window= resumes a windowed pull: pass window= too")
            return self._page_iterator(body, model, ordered, start_page, dedupe, max_items)
        size = check_window(window)
        check_pull_arguments(model, start_page, max_items, ordered)
        if start_window is not None and not isinstance(start_window, TimeWindow):
            raise TypeError(
                f"start_window must be an error's resume_window (a TimeWindow), not "
                f"{start_window!r}"
            )
        if start_page != 1 and start_window is None:
            raise ValueError(
                "start_page= counts the pages of one window: to continue a windowed pull, "
                "pass the error's resume_window as start_window= with its resume_page"
            )
        window_order(body)  # a sort the windows cannot keep is refused now
        case_id = CaseKeys(model, required=False).case_id
        if case_id is None:
            raise ValueError(
                f"window= drops the cases two windows both return by their id, and {model!r} "
                "has none: add `id: str = msgspec.field(name='_id')` to it"
            )
        fetcher = self.session.fetcher(self.settings)
        sizer = self.session.sizer(self.settings.page_size)
        return WindowedPages(
            fetcher=fetcher,
            owner=self.session.tasks,
            body=body,
            open_window=lambda windowed, page, stats: self._page_iterator(
                windowed, model, ordered, page, dedupe, None, stats
            ),
            case_id=case_id,
            window=size,
            page_size=sizer.size,
            concurrency=self.settings.concurrency,
            start_window=start_window,
            start_page=start_page,
            max_items=max_items,
            dedupe=dedupe,
            created_ms=created_ms_reader(model),
        )

    def _page_iterator(
        self,
        body: dict[str, Any],
        model: Any,
        ordered: bool,
        start_page: int,
        dedupe: bool,
        max_items: int | None,
        stats: PullStats | None = None,
    ) -> PageIterator[Any]:
        return PageIterator(
            self.session.fetcher(self.settings),
            self.session.tasks,
            body,
            model=model,
            page_size=self.session.sizer(self.settings.page_size),
            window=self.settings.concurrency,
            start_page=start_page,
            ordered=ordered,
            dedupe=dedupe,
            max_items=max_items,
            stats=stats,
        )


def _filter_body(filter: CaseFilter | None) -> dict[str, Any]:
    """The request body of ``filter`` (``{}`` for none); anything else is a TypeError."""
    if filter is None:
        return {}
    if not isinstance(filter, CaseFilter):
        raise TypeError(
            f"filter must be a CaseFilter, e.g. CaseFilter(status=['open']), not "
            f"{type(filter).__name__}"
        )
    return filter.to_body()
