"""``CasesClient``: the facade. Its constructor checks the options once, and it opens
and closes the session it shares with its ``with_options()`` views.

What it does is split by responsibility over small bases, each in its own module:
:class:`~kore_cases._client_config.ClientConfig` (the read-only configuration),
:class:`~kore_cases._client_pulls.PullMethods` (``get_page``, ``count``, ``iter_pages``,
``iter_cases``), :class:`~kore_cases._client_tables.TableMethods` (``to_arrow``,
``iter_record_batches``) and :class:`~kore_cases._client_watch.WatchMethods` (``watch``,
``sync``). They need only ``_settings`` (a frozen :class:`~kore_cases._settings.Settings`)
and ``_pulls`` (a :class:`~kore_cases._pull_factory.PullFactory` over the shared
:class:`~kore_cases._session.Session`), which this module sets.
"""

from __future__ import annotations

import os
import ssl as ssl_module
import sys
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from ._checks import seconds, whole_number
from ._client_tables import TableMethods
from ._client_watch import WatchMethods
from ._env import client_arguments, configure_logging
from ._http import AsyncTransport, check_transport
from ._limiter import RateLimiter
from ._page_size import DEFAULT_MAX_PAGE_SIZE, PageSize, check_page_size
from ._pull_factory import PullFactory
from ._ratelimit import DEFAULT_RATE_LIMIT, RateLimit
from ._retry import Retry
from ._session import Session
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
from .auth import Auth
from .hooks import Hooks

if TYPE_CHECKING:
    import aiohttp

    if sys.version_info >= (3, 11):
        from typing import Unpack
    else:
        from typing_extensions import Unpack

__all__ = ["CasesClient"]

_MIB = 1024 * 1024


class CasesClient(WatchMethods, TableMethods):
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
            also the number of pages a pull fetches ahead of its consumer, unless its
            pages are so large that fewer hold 12 MiB (never fewer than two): pages of
            1,000 cases are ~3 MB of JSON each.
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
        self._assemble(settings, Session(settings), owns_session=True)

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

    def _assemble(self, settings: Settings, session: Session, *, owns_session: bool) -> None:
        self._settings = settings
        self._session = session
        self._pulls = PullFactory(settings, session)
        self._owns_session = owns_session

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
        view._assemble(
            with_call_options(self._settings, options), self._session, owns_session=False
        )
        return view

    # -- lifecycle ------------------------------------------------------------------

    async def open(self) -> CasesClient:
        """Open the HTTP session; ``async with`` does this for you. Returns the client."""
        await self._session.open()
        return self

    async def aclose(self) -> None:
        """End every call in flight and close the HTTP session. Safe to call more than once.

        Calls still waiting for an answer (``get_page()``, ``count()``, a pull's next
        page) end promptly with :class:`ClientClosedError`; so do calls made afterwards.
        On a view made by :meth:`with_options` this does nothing: the session belongs
        to the client the view was made from.
        """
        if self._owns_session:
            await self._session.close()

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
