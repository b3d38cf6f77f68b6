"""``CasesClient``: configuration checks, lifecycle, and the wiring of the parts."""

from __future__ import annotations

import os
import platform
import ssl as ssl_module
import sys
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

import msgspec

from ._arrow import RecordBatchIterator, collect_table
from ._case_ids import CaseKeys
from ._checks import seconds, whole_number
from ._closing import Closer
from ._env import client_arguments, configure_logging
from ._fetch import PageFetcher, decode_page
from ._http import AsyncTransport, check_transport
from ._limiter import AccountLimiter, RateLimiter, release_shared, shared_limiter
from ._observe import Observer
from ._page_size import DEFAULT_MAX_PAGE_SIZE, PageSize, PageSizer, check_page_size
from ._pagination import (
    CaseIterator,
    PageIterator,
    TaskOwner,
    check_pull_arguments,
)
from ._ratelimit import DEFAULT_RATE_LIMIT, RateLimit
from ._retry import Retry
from ._settings import (
    CallOptions,
    EnvOptions,
    Paging,
    Settings,
    check_account_id,
    check_auth,
    check_extra_headers,
    check_hooks,
    check_host,
    check_paging,
    check_rate_limit,
    check_ssl,
    check_stream_id,
    merge_retry,
    unknown,
    wait_bound,
    with_call_options,
)
from ._stats import PullStats
from ._sync import SyncProgress, SyncSummary, run_sync
from ._throttle import Throttle
from ._version import __version__
from ._watch import CaseWatch, WatchCursor, WatchMode
from ._windows import TimeWindow, WindowedPages, WindowSize, check_window, window_order
from .auth import Auth
from .errors import ClientClosedError
from .filters import CaseFilter, DateLike
from .hooks import Hooks
from .models import Case, CasesPage, page_decoder

if TYPE_CHECKING:
    import aiohttp

    if sys.version_info >= (3, 11):
        from typing import Unpack
    else:
        from typing_extensions import Unpack

__all__ = ["CasesClient"]

T = TypeVar("T")

_MIB = 1024 * 1024


class _Shared:
    """What a client shares with its ``with_options()`` views: session, budget, pulls."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings  # the creating client's: they shape the session
        self.transport: AsyncTransport | None = None
        self.headers: dict[str, str] = {}  # every request's, but its `auth` token
        self.throttle: Throttle | None = None
        self.limiter: AccountLimiter | None = None  # from the registry: released on close
        self.tasks = TaskOwner()
        self.closer = Closer()  # ends every call in flight when the client closes
        self.closed = False
        # What page_size="max" learns serves every pull, get_page() and view.
        self.max_sizer = PageSizer("max", settings.max_page_size)
        self.observer = Observer(settings.hooks, url=settings.url)

    async def open(self) -> None:
        if self.closed:
            raise ClientClosedError("this CasesClient is closed; create a new one")
        if self.transport is not None:
            return
        s = self.settings
        self.headers = {
            "accountId": s.account_id,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"kore-cases/{__version__} python/{platform.python_version()}",
            **s.extra_headers,
        }
        self.transport = _aiohttp_transport(s) if s.transport is None else s.transport
        if isinstance(s.rate_limit, RateLimiter):
            limiter: AccountLimiter = s.rate_limit
        else:
            limiter = self.limiter = shared_limiter(s.host, s.account_id, s.rate_limit)
        self.throttle = Throttle(s.concurrency, limiter)

    async def close(self) -> None:
        self.closed = True
        self.throttle = None
        self.closer.close()
        await self.tasks.cancel_all()
        transport, self.transport = self.transport, None
        if transport is not None:
            await transport.aclose()
        limiter, self.limiter = self.limiter, None
        if limiter is not None:
            await release_shared(limiter)


class CasesClient:
    """Async client of the Kore.ai Case Management Get Cases API.

    Open it with ``async with`` (or ``await client.open()`` and later
    ``await client.aclose()``); one aiohttp session serves every request::

        async with CasesClient(
            host="https://platform.kore.ai",
            stream_id="st-…",
            account_id="…",
            auth=JwtAuth(client_id="cs-…", client_secret="…"),
        ) as client:
            async for case in client.iter_cases(CaseFilter(status=["open"])):
                print(case.ref_id, case.status.name if case.status else None)

    The configuration is read-only after construction (``client.timeout``,
    ``client.retry``...); :meth:`with_options` gives a view with other per-call options.

    Parameters:
        host: the environment URL with its scheme, e.g. ``"https://platform.kore.ai"``.
            ``http://`` is refused for anything but a loopback host unless
            ``allow_insecure_http=True``: the token would cross the network in clear.
        stream_id: the bot's stream id (``st-…``); letters, digits, ``-`` and ``_``.
        account_id: the account id, sent as the ``accountId`` header.
        auth: :class:`JwtAuth`, :class:`StaticToken`, anything with a ``token()``
            method, or a plain ``str`` (a static token).
        page_size: cases asked per page (the server may clamp it; its answer rules), or
            ``"max"``: ask ``max_page_size`` on the first request and keep what the server
            accepts (its clamped ``limit``, or the largest size it did not refuse with a
            400, found by halving) for the client's life.
        max_page_size: the first size ``page_size="max"`` asks for (1000).
        concurrency: requests in flight at once, shared by everything this client does;
            also the number of pages a pull fetches ahead of its consumer.
        timeout: seconds for one whole request, connection to last byte.
        retry: how failed requests are retried, a :class:`Retry`
            (``Retry(max_retries=5, backoff_base=0.5, backoff_max=8.0,
            max_retry_after=60.0)`` by default).
        max_retries, backoff_base, backoff_max, max_retry_after: the fields of
            :class:`Retry` as flat keywords; each one given replaces that field of
            ``retry``.
        rate_limit: the account's request budget. The default is Kore's documented
            Case Management limit, ``RateLimit((60, 60.0))``: 60 requests a minute per
            account, rolling window, spread evenly. Every client of the same host and
            account in this process shares one budget (and one pause after a 429);
            ``RateLimit(..., store="redis://…")`` shares it across processes and
            machines; a :class:`RateLimiter` shares or separates budgets on purpose;
            ``None`` sends unpaced, pausing only after 429s.
        max_rate_wait: seconds a request may wait for the budget before failing with
            :class:`RateLimitError` (``None``: as long as it takes).
        max_rate_limit_wait: seconds of waiting out 429s one request may spend before
            :class:`RateLimitError` is raised (429s do not spend ``max_retries``).
        paging: ``"page"`` sends ``page``/``limit``; ``"skip"`` sends ``skip``/``limit``
            (the getTasks style), for servers that ignore ``page``.
        extra_headers: more headers to send with every request.
        allow_insecure_http: allow ``http://`` to a non-loopback host.
        ssl: an :class:`ssl.SSLContext` to verify the server with (a corporate CA);
            ``None`` verifies against the system's certificates.
        max_response_bytes: answers larger than this are refused unread (64 MiB).
        trace_configs: aiohttp ``TraceConfig`` objects, for metrics on every request.
        hooks: functions to call on each request, response, retry, wait for the budget
            and page handed out, a :class:`kore_cases.hooks.Hooks`.
        transport: what sends the requests, instead of the default aiohttp session:
            anything with ``async send(request) -> Response`` and ``async aclose()``
            (:class:`AsyncTransport`), such as :class:`kore_cases.testing.MockTransport`
            for tests. The client closes it when it closes.
    """

    def __init__(
        self,
        host: str,
        stream_id: str,
        account_id: str,
        auth: Auth | str,
        *,
        page_size: PageSize = 50,
        max_page_size: int = DEFAULT_MAX_PAGE_SIZE,
        concurrency: int = 8,
        timeout: float = 30.0,
        retry: Retry | None = None,
        max_retries: int | None = None,
        rate_limit: RateLimit | RateLimiter | None = DEFAULT_RATE_LIMIT,
        max_rate_wait: float | None = None,
        max_rate_limit_wait: float = 300.0,
        paging: Paging = "page",
        extra_headers: Mapping[str, str] | None = None,
        allow_insecure_http: bool = False,
        ssl: ssl_module.SSLContext | None = None,
        backoff_base: float | None = None,
        backoff_max: float | None = None,
        max_retry_after: float | None = None,
        max_response_bytes: int = 64 * _MIB,
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
        hooks: Hooks | None = None,
        transport: AsyncTransport | None = None,
    ) -> None:
        check_transport(transport, ssl=ssl, trace_configs=trace_configs)
        settings = Settings(
            host=check_host(host, allow_insecure_http),
            stream_id=check_stream_id(stream_id),
            account_id=check_account_id(account_id),
            auth=check_auth(auth),
            page_size=check_page_size(page_size),
            max_page_size=whole_number("max_page_size", max_page_size, 1),
            concurrency=whole_number("concurrency", concurrency, 1),
            timeout=seconds("timeout", timeout),
            retry=merge_retry(
                retry,
                max_retries=max_retries,
                backoff_base=backoff_base,
                backoff_max=backoff_max,
                max_retry_after=max_retry_after,
            ),
            rate_limit=check_rate_limit(rate_limit),
            paging=check_paging(paging),
            extra_headers=check_extra_headers(extra_headers),
            ssl=check_ssl(ssl),
            max_response_bytes=whole_number("max_response_bytes", max_response_bytes, 1),
            trace_configs=tuple(trace_configs or ()),
            hooks=check_hooks(hooks),
            transport=transport,
            max_rate_wait=wait_bound(max_rate_wait),
            max_rate_limit_wait=seconds("max_rate_limit_wait", max_rate_limit_wait, zero=True),
        )
        self._settings = settings
        self._shared = _Shared(settings)
        self._owns_session = True

    @classmethod
    def from_env(cls, **options: Unpack[EnvOptions]) -> CasesClient:
        """Build a client from ``KORE_*`` environment variables.

        Reads ``KORE_HOST``, ``KORE_STREAM_ID``, ``KORE_ACCOUNT_ID`` and either
        ``KORE_CLIENT_ID`` + ``KORE_CLIENT_SECRET`` (a :class:`JwtAuth`) or ``KORE_JWT``
        (a :class:`StaticToken`); then ``KORE_MAX_RETRIES``, ``KORE_TIMEOUT`` and
        ``KORE_RATE_LIMIT`` (``60/60``, windows separated by commas, or ``none``) if
        set. ``KORE_LOG=debug`` (or ``info``) sends the ``kore_cases`` log to stderr.

        Keyword ``options`` (:class:`ClientOptions`, and ``host``, ``stream_id``,
        ``account_id``, ``auth``) win over the variables; a name the constructor does
        not take raises :class:`TypeError`.

        Raises:
            ValueError: naming every required variable that is missing, or a variable
                set to something unusable.
        """
        unknown(options, EnvOptions, "CasesClient.from_env()")
        configure_logging(os.environ)
        return cls(**client_arguments(os.environ, options))

    # -- configuration (read-only) ------------------------------------------------------

    @property
    def host(self) -> str:
        """The environment URL, without a trailing ``/``."""
        return self._settings.host

    @property
    def stream_id(self) -> str:
        """The bot's stream id."""
        return self._settings.stream_id

    @property
    def account_id(self) -> str:
        """The account id sent as the ``accountId`` header."""
        return self._settings.account_id

    @property
    def auth(self) -> Auth:
        """What mints the ``auth`` header of each request."""
        return self._settings.auth

    @property
    def page_size(self) -> PageSize:
        """Cases asked per page, or ``"max"``."""
        return self._settings.page_size

    @property
    def max_page_size(self) -> int:
        """What ``page_size="max"`` asks for first."""
        return self._settings.max_page_size

    @property
    def concurrency(self) -> int:
        """Requests in flight at once (and pages fetched ahead of a pull's consumer)."""
        return self._settings.concurrency

    @property
    def timeout(self) -> float:
        """Seconds for one whole request."""
        return self._settings.timeout

    @property
    def retry(self) -> Retry:
        """How failed requests are retried."""
        return self._settings.retry

    @property
    def max_retries(self) -> int:
        """Retries of a request after a retryable failure (``retry.max_retries``)."""
        return self._settings.retry.max_retries

    @property
    def rate_limit(self) -> RateLimit | None:
        """The request-rate windows this client keeps to (``None``: only 429 pauses)."""
        limit = self._settings.rate_limit
        return limit.rate_limit if isinstance(limit, RateLimiter) else limit

    @property
    def paging(self) -> Paging:
        """``"page"`` (``page``/``limit`` in the body) or ``"skip"`` (``skip``/``limit``)."""
        return self._settings.paging

    @property
    def path(self) -> str:
        """The getCases endpoint path of this stream."""
        return self._settings.path

    @property
    def url(self) -> str:
        """The full getCases URL."""
        return self._settings.url

    def with_options(self, **options: Unpack[CallOptions]) -> CasesClient:
        """A view of this client with other per-call options, sharing its session.

        The view uses the same HTTP session, budget (concurrency, rate windows, 429
        pauses) and auth; only the options given change, for the calls made through
        it. It costs nothing to make, so make one per call::

            page = await client.with_options(timeout=5.0, max_retries=0).get_page(f)

        Options (:class:`CallOptions`):
            timeout: seconds for one whole request.
            max_retries: retries of a failed request (the rest of :attr:`retry` stays).
            max_rate_wait: seconds a request may wait for the account's budget before
                :class:`RateLimitError` (``None``: as long as it takes).
            priority: where the view's requests queue for the budget: ``"interactive"``
                puts all of them (a pull's pages too) before the pulls of other callers,
                as a web handler wants; ``"bulk"`` puts them all behind other callers'
                one-page calls, as a background job should; ``None`` (the default):
                ``get_page``/``count`` go first, a pull's pages after them.

        The view does not own the session: its :meth:`aclose` does nothing, and it
        works while the client it was made from is open.
        """
        view = object.__new__(CasesClient)
        view._settings = with_call_options(self._settings, options)
        view._shared = self._shared
        view._owns_session = False
        return view

    # -- lifecycle ------------------------------------------------------------------

    async def open(self) -> CasesClient:
        """Open the HTTP session; ``async with`` does this for you. Returns the client."""
        await self._shared.open()
        return self

    async def aclose(self) -> None:
        """End every call in flight and close the HTTP session. Safe to call more than once.

        Calls still waiting for an answer (``get_page()``, ``count()``, a pull's next
        page) end promptly with :class:`ClientClosedError`; so do calls made afterwards.
        On a view made by :meth:`with_options` this does nothing: the session belongs
        to the client the view was made from.
        """
        if self._owns_session:
            await self._shared.close()

    async def __aenter__(self) -> CasesClient:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"CasesClient(host={self.host!r}, stream_id={self.stream_id!r}, "
            f"account_id={self.account_id!r}, auth={self.auth!r}, page_size={self.page_size!r}, "
            f"concurrency={self.concurrency})"
        )

    # -- requests -------------------------------------------------------------------

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
        body = _filter_body(filter)
        whole_number("page", page, 1)
        check_pull_arguments(model, page)
        sizer = self._sizer(self.page_size if page_size is None else check_page_size(page_size))
        fetcher = self._fetcher()
        decoder = page_decoder(model)

        async def fetch(size: int) -> CasesPage[Any]:
            result, _attempts = await fetcher.fetch(
                fetcher.request_body(body, page, size),
                page=page,
                stats=PullStats(),
                parse=lambda data: decode_page(data, decoder, page=page, path=self.path),
                interactive=True,
            )
            return result

        return await sizer.first(fetch, PullStats())

    async def count(self, filter: CaseFilter | None = None) -> int:
        """Return how many cases match ``filter`` (``totalResults``), with one small request."""
        first = await self.get_page(filter, page=1, page_size=1, model=msgspec.Raw)
        return first.total_results

    def watch(
        self,
        filter: CaseFilter | None = None,
        *,
        every: float = 30.0,
        cursor: WatchCursor | None = None,
        since: DateLike | None = None,
        mode: WatchMode = "new",
        state_file: str | os.PathLike[str] | None = None,
        overlap: float = 10.0,
        jitter: float = 0.1,
    ) -> CaseWatch:
        """Watch the cases matching ``filter``: an async iterator of events, for bots.

        ::

            async with client.watch(CaseFilter(unassigned=True), state_file="bot.json") as events:
                async for event in events:          # CaseAdded / CaseChanged / CaseRemoved
                    await handle(event)

        Modes:
            ``"new"`` (default): :class:`CaseAdded` for each case created after the
            cursor. An idle poll is one request; N new cases cost about
            ``ceil(N / page_size)``. ``"set"``: reads the whole filtered set each poll
            and reports :class:`CaseAdded`, :class:`CaseChanged` (``updatedAt`` moved) and
            :class:`CaseRemoved` (resolved out of the filter, or deleted); each poll costs
            ``ceil(set size / page_size)`` requests, and a watch that cannot fit the
            account's budget at ``every`` is refused with the arithmetic.

        Options:
            every: seconds between polls (each spread by ``jitter``, a fraction).
            cursor: resume from ``events.cursor`` of an earlier run
                (:meth:`WatchCursor.from_json`); ``None`` starts at the newest case
                that exists now: nothing older is reported.
            since: start earlier: report the cases created at or after this moment.
            state_file: a JSON file holding the cursor: read at start if it exists,
                rewritten atomically as events are handled.
            overlap: seconds before the newest case seen that each ``"new"`` poll
                reads again, for cases the server lists late; ids already reported
                there are not reported again.

        Delivery is exactly once within a process and at least once across a crash
        (only events taken after the last persisted cursor come again). Polls share
        the client's rate limiter; a 429 or an outage delays the next poll (logged at
        WARNING, a bounded number of times) and never ends the watch; 400, 401, 403
        and 404 do. Nothing is sent before the first ``async for`` step.
        """
        return CaseWatch(
            self,
            filter,
            every=every,
            cursor=cursor,
            since=since,
            mode=mode,
            state_file=state_file,
            overlap=overlap,
            jitter=jitter,
        )

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
        return self._pages(filter, model, ordered, start_page, dedupe, None, window, start_window)

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
                the pull. It keeps a hash of each id yielded: about 100 bytes per case
                (100 MB for a million); pass ``dedupe=False`` to keep memory flat.
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
        pages = self._pages(
            filter, model, ordered, start_page, dedupe, max_items, window, start_window
        )
        return CaseIterator(pages, max_items=max_items)

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
    ) -> RecordBatchIterator:
        """Iterate over the pull as ``pyarrow.RecordBatch``es, one per page.

        Each batch holds the page's cases as flat rows with the columns and Arrow types
        of :mod:`kore_cases.tables` (the CLI's CSV/Parquet columns): timestamps in UTC,
        lists for ``channel``/``queues``/``tags``, one ``field:<name>`` column per case
        field. Only one page of Python objects exists at a time, so memory is the Arrow
        data plus the pull's prefetch window. Needs pyarrow
        (``pip install 'kore-cases[parquet]'``).

        Options are those of :meth:`iter_cases`, and:
            field_columns: ``field:`` columns every batch has, even when empty (others
                are added as they appear, so a later batch may have more columns).
            raw: add a last column ``raw``, each case's JSON.
        """
        # Cases stay JSON bytes until their row is made: a page never exists as dicts.
        pages = self._pages(
            filter, msgspec.Raw, True, start_page, dedupe, max_items, window, start_window
        )
        return RecordBatchIterator(pages, field_columns=field_columns, raw=raw, max_items=max_items)

    async def to_arrow(
        self,
        filter: CaseFilter | None = None,
        *,
        max_items: int | None = None,
        dedupe: bool = True,
        field_columns: Sequence[str] = (),
        raw: bool = False,
        window: WindowSize | None = None,
    ) -> Any:
        """Every case matching ``filter`` as one ``pyarrow.Table``.

        The schema is that of :meth:`iter_record_batches` at the end of the pull: the
        fixed columns, every ``field:`` column any case had (null where a case has no
        such field), then ``raw`` if asked. Hand the table to ``polars.from_arrow()``
        or ``.to_pandas()``. Needs pyarrow (``pip install 'kore-cases[parquet]'``).
        """
        batches = self.iter_record_batches(
            filter,
            max_items=max_items,
            dedupe=dedupe,
            field_columns=field_columns,
            raw=raw,
            window=window,
        )
        return await collect_table(batches)

    async def sync(
        self,
        directory: str | os.PathLike[str],
        filter: CaseFilter | None = None,
        *,
        refresh_days: float = 30,
        full_refresh: bool = False,
        on_progress: Callable[[SyncProgress], None] | None = None,
    ) -> SyncSummary:
        """Keep a local Parquet dataset of the cases matching ``filter`` up to date.

        ``directory`` holds one Parquet file per creation month, hive style
        (``created_month=2025-05/part-0.parquet``), with the flat export columns plus
        ``raw`` (each case's JSON as the API sent it), and a small state file
        ``_sync_state.json``. Read it with DuckDB
        (``read_parquet('DIR/**/*.parquet', hive_partitioning=true)``), Polars,
        pyarrow.dataset or Spark. Needs pyarrow (``pip install 'kore-cases[parquet]'``).

        The first run reads every case, newest first, and writes each month's file as
        soon as the month is complete; a run that stops (even killed) continues where it
        stopped when run again. Later runs read only the cases created since the newest
        one seen, those created in the ``refresh_days`` before it, the unresolved cases
        of any age, and, through a creation-time window of a few milliseconds, each
        case that was unresolved at the last run and is not any more. Cases are merged
        by id; the newest ``updatedAt`` wins.

        This assumes that **a resolved case older than the refresh window does not
        change**. Raise ``refresh_days`` to widen the window, or pass
        ``full_refresh=True`` (a rebuild, at the cost of a first run) to drop the
        assumption.

        ``on_progress`` is called with a :class:`SyncProgress` after every page.
        Returns a :class:`SyncSummary` (new, changed, unchanged and removed cases, and
        the requests used against those of a full pull).

        Raises:
            ValueError: the directory holds a sync of another filter (use the same
                filters, or ``full_refresh=True``), or ``filter`` sets ``sort_by``.
            SyncStateError: the state file is damaged (``full_refresh=True`` rebuilds).
        """
        return await run_sync(
            self,
            os.fspath(directory),
            filter,
            refresh_days=refresh_days,
            full_refresh=full_refresh,
            on_progress=on_progress,
        )

    def _pages(
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
        window_order(body)  # a sort the windows cannot keep is refused now
        case_id = CaseKeys(model, required=False).case_id
        if case_id is None:
            raise ValueError(
                f"window= drops the cases two windows both return by their id, and {model!r} "
                "has none: add `id: str = msgspec.field(name='_id')` to it"
            )
        fetcher = self._fetcher()
        sizer = self._sizer(self.page_size)
        return WindowedPages(
            fetcher=fetcher,
            owner=self._shared.tasks,
            body=body,
            open_window=lambda windowed, page, stats: self._page_iterator(
                windowed, model, ordered, page, dedupe, None, stats
            ),
            case_id=case_id,
            window=size,
            page_size=sizer.size,
            concurrency=self.concurrency,
            start_window=start_window,
            start_page=start_page,
            max_items=max_items,
            dedupe=dedupe,
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
            self._fetcher(),
            self._shared.tasks,
            body,
            model=model,
            page_size=self._sizer(self.page_size),
            window=self.concurrency,
            start_page=start_page,
            ordered=ordered,
            dedupe=dedupe,
            max_items=max_items,
            stats=stats,
        )

    def _sizer(self, page_size: PageSize) -> PageSizer:
        """The client's shared sizer for ``"max"``, a fixed one for a number."""
        return self._shared.max_sizer if page_size == "max" else PageSizer(page_size)

    def _fetcher(self) -> PageFetcher:
        """A fetcher with this client's (or view's) options over the shared session."""
        shared = self._shared
        if shared.transport is None or shared.throttle is None:
            if shared.closed:
                raise ClientClosedError("this CasesClient is closed; create a new one")
            raise RuntimeError(
                "this CasesClient is not open: use `async with CasesClient(...) as client:` "
                "or `await client.open()` first"
            )
        s = self._settings
        return PageFetcher(
            transport=shared.transport,
            throttle=shared.throttle,
            auth=s.auth,
            url=s.url,
            path=s.path,
            paging=s.paging,
            policy=s.retry,
            timeout=s.timeout,
            max_rate_wait=s.max_rate_wait,
            max_rate_limit_wait=s.max_rate_limit_wait,
            priority=s.priority,
            observer=shared.observer,
            closer=shared.closer,
            headers=shared.headers,
        )


def _aiohttp_transport(s: Settings) -> AsyncTransport:
    # Imported here, not at the top: `import kore_cases` (and every pytest run that
    # loads our plugin) does not pay for aiohttp until a client opens.
    from ._transport import AiohttpTransport

    return AiohttpTransport(
        connections=s.concurrency,
        ssl=s.ssl,
        max_response_bytes=s.max_response_bytes,
        trace_configs=s.trace_configs,
    )


def _filter_body(filter: CaseFilter | None) -> dict[str, Any]:
    if filter is None:
        return {}
    if not isinstance(filter, CaseFilter):
        raise TypeError(
            f"filter must be a CaseFilter, e.g. CaseFilter(status=['open']), not "
            f"{type(filter).__name__}"
        )
    return filter.to_body()
