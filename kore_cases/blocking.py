"""A blocking client for scripts and notebooks: the async client on a private event loop.

::

    from kore_cases import CaseFilter
    from kore_cases.blocking import CasesClient

    with CasesClient.from_env() as client:
        print(client.count(CaseFilter(unresolved=True)))
        for case in client.iter_cases(CaseFilter(priority=["high"])):
            print(case.ref_id)

It takes the same constructor as :class:`kore_cases.CasesClient` and runs one: opening
it starts an event loop in a background thread (one per client, for the client's
life), and every call runs there while the calling thread waits. So it works where a
loop is already running in the calling thread, as in Jupyter, and a pull keeps its
concurrency, prefetch window, budget and resume. Leaving a ``for`` loop early
(``break``, an exception) cancels the pull's fetches, as leaving ``async for`` does;
Ctrl-C while a call waits cancels that call. Closing the client cancels what still
runs, closes the session and ends the thread.

Do not call it from its own loop's thread (from an event hook, say): that would wait
for itself; it raises :class:`RuntimeError` instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

import anyio
from anyio.from_thread import BlockingPortal

from ._client import CasesClient as AsyncCasesClient
from ._page_size import PageSize
from ._stats import PullStats
from ._sync import SyncProgress, SyncSummary
from ._windows import TimeWindow, WindowSize
from .auth import Auth
from .filters import CaseFilter
from .models import Case, CasesPage

if TYPE_CHECKING:
    from ._settings import CallOptions, ClientOptions, EnvOptions

    if sys.version_info >= (3, 11):
        from typing import Unpack
    else:
        from typing_extensions import Unpack

__all__ = ["CasesClient", "PullIterator"]

T = TypeVar("T")
R = TypeVar("R")
Item = TypeVar("Item", covariant=True)


class _Pull(Protocol[Item]):
    """What the async page and case iterators have in common."""

    @property
    def stats(self) -> PullStats: ...

    @property
    def resume_page(self) -> int: ...

    @property
    def total_results(self) -> int | None: ...

    def __anext__(self) -> Awaitable[Item]: ...

    async def aclose(self) -> None:
        """Stop the pull and cancel the fetches still running."""
        ...


class _Loop:
    """The background event loop of one blocking client (and its views).

    A daemon thread, so that a client never closed cannot keep the interpreter from
    exiting (anyio's own portal thread is not one in every supported version).
    """

    def __init__(self) -> None:
        self.portal: BlockingPortal | None = None
        self._thread: threading.Thread | None = None
        self.closed = False

    def start(self) -> BlockingPortal:
        if self.closed:
            raise RuntimeError("this CasesClient is closed; create a new one")
        if self.portal is None:
            ready: Future[BlockingPortal] = Future()

            async def serve() -> None:
                async with BlockingPortal() as portal:
                    ready.set_result(portal)
                    await portal.sleep_until_stopped()

            def run() -> None:
                try:
                    anyio.run(serve)
                except BaseException as exc:  # pragma: no cover - the loop failed to start
                    if not ready.done():
                        ready.set_exception(exc)

            self._thread = threading.Thread(target=run, name="kore-cases-loop", daemon=True)
            self._thread.start()
            self.portal = ready.result()
        return self.portal

    def stop(self) -> None:
        self.closed = True
        portal, self.portal = self.portal, None
        thread, self._thread = self._thread, None
        if portal is not None:
            with contextlib.suppress(RuntimeError):  # already stopped
                portal.call(portal.stop, True)
        if thread is not None:
            thread.join()


class CasesClient:
    """Blocking client of the Get Cases API; see the module documentation.

    Takes the same arguments as :class:`kore_cases.CasesClient` (:class:`ClientOptions`)
    and checks them at once. Use it as ``with CasesClient(...) as client:`` (or
    :meth:`open` and :meth:`close`). :attr:`async_client` is the client it drives, whose
    read-only properties tell its configuration.
    """

    def __init__(
        self,
        host: str,
        stream_id: str,
        account_id: str,
        auth: Auth | str,
        **options: Unpack[ClientOptions],
    ) -> None:
        self._client = AsyncCasesClient(host, stream_id, account_id, auth, **options)
        self._loop = _Loop()
        self._owns_loop = True

    @classmethod
    def from_env(cls, **options: Unpack[EnvOptions]) -> CasesClient:
        """Build a client from ``KORE_*`` variables, as :meth:`kore_cases.CasesClient.from_env`."""
        return cls._around(AsyncCasesClient.from_env(**options), _Loop(), owns_loop=True)

    @classmethod
    def _around(cls, client: AsyncCasesClient, loop: _Loop, *, owns_loop: bool) -> CasesClient:
        blocking = object.__new__(cls)
        blocking._client, blocking._loop, blocking._owns_loop = client, loop, owns_loop
        return blocking

    @property
    def async_client(self) -> AsyncCasesClient:
        """The async client this one runs (``host``, ``timeout``, ``retry``... read-only)."""
        return self._client

    def with_options(self, **options: Unpack[CallOptions]) -> CasesClient:
        """A view with other per-call options sharing the session, budget and loop.

        See :meth:`kore_cases.CasesClient.with_options`; closing a view does nothing.
        """
        return self._around(self._client.with_options(**options), self._loop, owns_loop=False)

    # -- lifecycle ------------------------------------------------------------------

    def open(self) -> CasesClient:
        """Start the background loop and open the HTTP session; ``with`` does this."""
        self._loop.start().call(self._client.open)
        return self

    def close(self) -> None:
        """Cancel running pulls, close the session and end the loop's thread.

        Safe to call more than once; on a view made by :meth:`with_options` it does
        nothing (the session and loop belong to the client the view was made from).
        """
        if not self._owns_loop or self._loop.closed:
            return
        portal = self._loop.portal
        try:
            if portal is not None:
                portal.call(self._client.aclose)
        finally:
            self._loop.stop()

    def __enter__(self) -> CasesClient:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"blocking.{self._client!r}"

    # -- requests -------------------------------------------------------------------

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

        async def get() -> CasesPage[Any]:
            return await self._client.get_page(filter, page=page, page_size=page_size, model=model)

        return self._call(get)

    def count(self, filter: CaseFilter | None = None) -> int:
        """How many cases match ``filter``; see :meth:`kore_cases.CasesClient.count`."""

        async def count() -> int:
            return await self._client.count(filter)

        return self._call(count)

    def sync(
        self,
        directory: str | os.PathLike[str],
        filter: CaseFilter | None = None,
        *,
        refresh_days: float = 30,
        full_refresh: bool = False,
        on_progress: Callable[[SyncProgress], None] | None = None,
    ) -> SyncSummary:
        """Bring a local Parquet dataset up to date; see :meth:`kore_cases.CasesClient.sync`.

        ``on_progress`` is called on the client's own thread.
        """

        async def sync() -> SyncSummary:
            return await self._client.sync(
                directory,
                filter,
                refresh_days=refresh_days,
                full_refresh=full_refresh,
                on_progress=on_progress,
            )

        return self._call(sync)

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

    def iter_record_batches(
        self,
        filter: CaseFilter | None = None,
        *,
        max_items: int | None = None,
        start_page: int = 1,
        dedupe: bool = True,
        field_columns: Sequence[str] = (),
        raw: bool = False,
        window: WindowSize | None = None,
        start_window: TimeWindow | None = None,
    ) -> PullIterator[Any]:
        """``pyarrow.RecordBatch``es, one per page; see
        :meth:`kore_cases.CasesClient.iter_record_batches`."""
        return self._pull(
            lambda: self._client.iter_record_batches(
                filter,
                max_items=max_items,
                start_page=start_page,
                dedupe=dedupe,
                field_columns=field_columns,
                raw=raw,
                window=window,
                start_window=start_window,
            )
        )

    def to_arrow(
        self,
        filter: CaseFilter | None = None,
        *,
        max_items: int | None = None,
        dedupe: bool = True,
        field_columns: Sequence[str] = (),
        raw: bool = False,
        window: WindowSize | None = None,
    ) -> Any:
        """Every matching case as a ``pyarrow.Table``; see
        :meth:`kore_cases.CasesClient.to_arrow`."""

        async def table() -> Any:
            return await self._client.to_arrow(
                filter,
                max_items=max_items,
                dedupe=dedupe,
                field_columns=field_columns,
                raw=raw,
                window=window,
            )

        return self._call(table)

    # -- running on the loop --------------------------------------------------------

    def _portal(self) -> BlockingPortal:
        portal = self._loop.portal
        if portal is None:
            if self._loop.closed:
                raise RuntimeError("this CasesClient is closed; create a new one")
            raise RuntimeError(
                "this CasesClient is not open: use `with CasesClient(...) as client:` "
                "or `client.open()` first"
            )
        return portal

    def _call(self, function: Callable[[], Awaitable[R]]) -> R:
        return _wait(self._portal(), function)

    def _pull(self, make: Callable[[], _Pull[R]]) -> PullIterator[R]:
        portal = self._portal()
        # Made on the loop's thread: the iterator and its tasks live there.
        return PullIterator(portal, portal.call(make))


class PullIterator(Generic[Item]):
    """A pull as a plain iterator: ``for case in client.iter_cases(...)``.

    Leaving the ``for`` loop early (``break``, an exception) cancels the fetches still
    running once the iterator is dropped, and :meth:`close` (or ``with``) does it at
    once. :attr:`stats`, :attr:`resume_page` and :attr:`total_results` are those of
    the async pull.
    """

    def __init__(self, portal: BlockingPortal, pull: _Pull[Item]) -> None:
        self._portal: BlockingPortal | None = portal
        self._pull = pull

    @property
    def stats(self) -> PullStats:
        """Counters of the pull (pages, cases, requests, retries, waits, elapsed)."""
        return self._pull.stats

    @property
    def resume_page(self) -> int:
        """The page to pass as ``start_page=`` to continue: all before it were yielded."""
        return self._pull.resume_page

    @property
    def total_results(self) -> int | None:
        """``totalResults`` as the pages read so far agree on it; ``None`` before page 1."""
        return self._pull.total_results

    def __iter__(self) -> Iterator[Item]:
        return self

    def __next__(self) -> Item:
        portal = self._portal
        if portal is None:
            raise StopIteration
        try:
            return _wait(portal, self._next)
        except StopAsyncIteration:
            self._portal = None  # the async pull has ended and cleaned up
            raise StopIteration from None

    async def _next(self) -> Item:
        return await self._pull.__anext__()

    def close(self) -> None:
        """Stop the pull: cancel the fetches still running and wait for them to end."""
        portal, self._portal = self._portal, None
        if portal is not None:
            _wait(portal, self._pull.aclose)

    def __enter__(self) -> PullIterator[Item]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # `break` drops the iterator without close(): end the pull on its own loop
        # (never from this thread), unless the client closed that loop already.
        portal = getattr(self, "_portal", None)
        if portal is not None:
            # RuntimeError: the loop has stopped, and closing the client ended the pull.
            with contextlib.suppress(RuntimeError):
                portal.start_task_soon(self._pull.aclose)


def _wait(portal: BlockingPortal, function: Callable[[], Awaitable[R]]) -> R:
    """Run ``function()`` on the loop and wait; an interrupt (Ctrl-C) cancels it there."""
    future = portal.start_task_soon(function)
    try:
        return future.result()
    except BaseException:
        future.cancel()
        raise
