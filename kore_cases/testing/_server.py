"""The fake Kore endpoint: an aiohttp.web app with Kore's auth, paging, rate limits and faults.

:class:`FakeKoreServer` is the public face: its settings (``_config.ServerConfig``, checked
once), its lifecycle and the knobs tests turn. The work is done by small parts, each in
its own module: the request pipeline (``_handler``), pages and growth (``_pages``), rate
windows (``_limits``), tokens (``_tokens``), faults (``_faults``), what is recorded
(``_records``), case changes (``_mutations``) and the admin routes (``_admin``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from .._wire import GET_CASES_PATH
from ._admin import add_admin_routes
from ._config import ServerConfig
from ._data import parse_query
from ._faults import FAULT_KINDS, Fault, FaultPlan
from ._handler import RequestHandler
from ._limits import KORE_RATE_LIMITS, RATE_LIMIT_MESSAGE
from ._mutations import CaseMutations, MutableCaseStore
from ._pages import Pages
from ._records import RequestRecord, ServerStats

if TYPE_CHECKING:
    import sys

    from kore_cases import CasesClient, ClientOptions

    if sys.version_info >= (3, 11):
        from typing import Unpack
    else:
        from typing_extensions import Unpack

__all__ = [
    "FAULT_KINDS",
    "KORE_RATE_LIMITS",
    "RATE_LIMIT_MESSAGE",
    "FakeKoreServer",
    "Fault",
    "RequestRecord",
    "ServerStats",
]


class FakeKoreServer(CaseMutations):
    """A local Kore.ai getCases endpoint with deterministic data and injectable trouble.

    Use it as ``async with FakeKoreServer(cases=500) as server:`` and point a client at
    ``server.url`` with ``server.stream_id``, ``server.account_id`` and a JWT signed with
    ``server.client_secret`` (``server.make_token()`` makes one). Every request is checked in
    Kore's order: route/stream (404), rate windows (429), ``auth`` JWT (401), ``accountId``
    header (400), then a scheduled or random fault, then latency, then the answer (400 for a
    bad body). Everything random is seeded by ``seed``.

    Cases can change while it runs (see ``CaseMutations``): ``create_cases``, ``update_case``,
    ``resolve_case``, ``delete_case``, ``reveal_case`` and ``get_case``; the same over HTTP
    under ``/_admin`` (``kore_cases.testing._admin``). ``updatedAt`` moves on every change.

    By default it enforces Kore's documented limit, 60 requests per rolling minute per
    account (the ``accountId`` header, whatever the stream id), answering 429 with Kore's
    message and no ``Retry-After``. Tests that pull many pages pass a raised limit (or
    ``rate_limits=()``), or a shrunken window of the same shape such as ``[(60, 2.0)]``.

    Attributes:
        client_id: the ``appId`` a token must carry.
        client_secret: the HS256 secret tokens must be signed with.
        stream_id: the only stream id the route accepts.
        account_id: the ``accountId`` header value required.
        stats: live counters (see ``ServerStats``).
        request_log: one ``RequestRecord`` per request, in arrival order.
    """

    default_rate_limits: Sequence[tuple[int, float]] = KORE_RATE_LIMITS
    """The windows of a server made without ``rate_limits``: Kore's 60 a minute per account.

    A test suite whose tests pull hundreds of pages may raise it for every server at once
    (``monkeypatch.setattr(FakeKoreServer, "default_rate_limits", [(6000, 60.0)])``)."""

    def __init__(
        self,
        *,
        cases: int = 1000,
        seed: int = 0,
        client_id: str = "cs-fake-client",
        client_secret: str = "fake-secret-please-change-0123456789",
        stream_id: str = "st-fake-stream",
        account_id: str = "fake-account",
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        latency_jitter: float = 0.0,
        max_page_size: int = 100,
        paging: Literal["page", "skip", "both"] = "both",
        rate_limits: Sequence[tuple[int, float]] | None = None,
        retry_after: bool = False,
        fault_rate: float = 0.0,
        fault_kinds: Sequence[Fault] = ("500", "502", "503", "504", "429", "reset"),
        slow_seconds: float = 60.0,
        enforce_unique_jti: bool = False,
        cache_pages: bool = False,
    ) -> None:
        """Configure the server; nothing listens until ``start()`` or ``async with``.

        Args:
            cases: how many cases exist at start.
            seed: seeds the data, the latency jitter and the random faults.
            latency: seconds every request waits before it is answered...
            latency_jitter: ...plus a uniform random ``[0, latency_jitter)``.
            max_page_size: ``limit`` is clamped to this; responses report the clamped value.
            paging: body keys honoured: ``"page"`` ignores ``skip``; ``"skip"`` ignores
                ``page`` (serving from ``skip``, default 0); ``"both"`` uses ``skip`` when
                present, else ``page``.
            rate_limits: sliding windows ``(max_requests, seconds)`` per account, counted
                at arrival; over any one -> 429. ``()`` for none; ``None`` for
                :attr:`default_rate_limits` (Kore's 60 a minute).
            retry_after: send ``Retry-After`` with the window's 429s (Kore sends none).
            fault_rate: probability that a request gets a random fault from ``fault_kinds``.
            slow_seconds: how long a ``"slow"`` fault stalls before answering normally.
            enforce_unique_jti: reject (401) a token whose ``jti`` was seen before.
            cache_pages: keep encoded page bytes per (filter, window) so repeated requests
                cost almost nothing (for CPU-bound client benchmarks).
        """
        # The keywords above, each a field of the record (a test keeps the two the same).
        self._config = config = ServerConfig.of(locals(), self.default_rate_limits)
        self.client_id: str = client_id
        self.client_secret: str = client_secret
        self.stream_id: str = stream_id
        self.account_id: str = account_id
        self.stats: ServerStats = ServerStats()
        self.request_log: list[RequestRecord] = []
        self._store = MutableCaseStore(cases, seed=seed, stream_id=stream_id, account_id=account_id)
        self._pages = Pages(
            self._store, max_page_size=max_page_size, paging=paging, cache_pages=cache_pages
        )
        self._faults = FaultPlan(fault_rate, config.fault_kinds, seed)
        self._handler = RequestHandler(self, config, self._pages, self._faults)
        self._runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> FakeKoreServer:
        """Start the server and return it."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the server."""
        await self.close()

    async def start(self) -> None:
        """Start listening on ``host:port`` (port 0 picks a free one).

        Raises:
            RuntimeError: the server was already started.
        """
        if self._runner is not None:
            raise RuntimeError("FakeKoreServer already started")
        app = web.Application()
        app.router.add_post(GET_CASES_PATH, self._handler.handle)
        add_admin_routes(app, self)
        # handler_cancellation: a client that hangs up cancels its handler, so abandoned work
        # stops and stats.cancelled can count it.
        runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self._config.host, self._config.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._handler.closing = False

    async def close(self) -> None:
        """Stop the server, cancelling handlers still running (e.g. ``slow`` faults).

        Idempotent; in-flight clients see their connection closed.
        """
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._handler.closing = True
        for site in list(runner.sites):
            await site.stop()  # no new requests from here on
        # Cancel running handlers: aiohttp's cleanup would wait for them to finish.
        await self._handler.cancel_all()
        await runner.cleanup()

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("FakeKoreServer is not running")
        host, port = self._runner.addresses[0][:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def endpoint(self) -> str:
        """The full getCases URL for ``stream_id``."""
        return self.url + GET_CASES_PATH.format(stream_id=self.stream_id)

    def client(self, **options: Unpack[ClientOptions]) -> CasesClient:
        """A :class:`~kore_cases.CasesClient` of this running server, not yet opened.

        It has the server's URL, stream and account, and a :class:`~kore_cases.JwtAuth`
        with its credentials. ``options`` are the client's keyword options; unlike a
        client of Kore, ``rate_limit`` is ``None`` unless given, so that a test waits
        only on the windows it gave the server (``rate_limits=``)::

            async with FakeKoreServer(cases=120) as server, server.client(page_size=10) as c:
                ids = [case.id async for case in c.iter_cases()]
        """
        from kore_cases import CasesClient, JwtAuth

        options.setdefault("rate_limit", None)
        return CasesClient(
            self.url,
            self.stream_id,
            self.account_id,
            JwtAuth(self.client_id, self.client_secret),
            **options,
        )

    # -- knobs for tests ---------------------------------------------------------------------

    @property
    def total_cases(self) -> int:
        """How many cases are listed now (unfiltered; not deleted or hidden ones)."""
        return self._store.live

    def schedule_faults(self, page: int, *faults: Fault) -> None:
        """Give the next attempts at ``page`` these faults, in order, then normal answers.

        Attempts rejected earlier in the pipeline (404, 429 from the windows, 401, 400 for
        the accountId) do not consume a scheduled fault. Calls append to the queue.

        Raises:
            ValueError: a fault kind is not one of ``FAULT_KINDS``.
        """
        self._faults.schedule(page, faults)

    def add_cases(self, count: int) -> None:
        """Add ``count`` cases newer than all others: they lead the default newest-first order."""
        self._pages.add(count)

    def add_cases_after(self, requests: int, count: int) -> None:
        """Add ``count`` cases when the ``requests``-th request from now arrives (1-based).

        Every request to the route counts. The cases are added on arrival, before that request
        (or any other still in flight) is answered.
        """
        self._pages.add_after(requests, count)

    def reset_stats(self) -> None:
        """Zero the counters and clear ``request_log`` (handlers in flight stay counted)."""
        fresh = ServerStats(in_flight=self.stats.in_flight, max_in_flight=self.stats.in_flight)
        # Copied in place, so references to ``server.stats`` stay live.
        for stat in fields(ServerStats):
            setattr(self.stats, stat.name, getattr(fresh, stat.name))
        self.request_log.clear()

    def case_ids(self, body: Mapping[str, Any] | None = None) -> list[str]:
        """The ``_id`` of every case ``body``'s filters match, in server order (paging ignored).

        Raises:
            ValueError: the body would be rejected with 400.
        """
        selection = self._store.select(parse_query(body or {}))
        return [self._store.case_id(i) for i in selection]

    def make_token(self, **claims: Any) -> str:
        """A valid HS256 JWT for this server: ``appId``, ``iat``, ``exp`` = now + 300, ``jti``.

        Keyword claims override or add claims; a claim given as ``None`` is left out.
        """
        return self._handler.tokens.make(self.client_id, claims)
