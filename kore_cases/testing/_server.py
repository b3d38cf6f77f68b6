"""The fake Kore endpoint: an aiohttp.web app with Kore's auth, paging, rate limits and faults."""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
import warnings
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, get_args

import msgspec
from aiohttp import web
from joserfc import jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import OctKey

from .._ratelimit import rate_window
from .._wire import GET_CASES_PATH
from ._admin import add_admin_routes
from ._data import Query, QueryError, parse_query
from ._mutations import CaseMutations, MutableCaseStore

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

Fault = Literal[
    "500", "502", "503", "504", "408", "429", "reset", "truncated", "nonjson", "badshape", "slow"
]
"""A fault the server can inject instead of (or before) a normal answer."""

FAULT_KINDS: tuple[Fault, ...] = get_args(Fault)
"""Every valid fault kind, in declaration order."""

RATE_LIMIT_MESSAGE = (
    "You've exceeded the per-minute rate limit. Please wait for sometime before retrying."
)
"""Kore's words for a request over the Case Management limit ("API Rate Limits")."""
KORE_RATE_LIMITS: tuple[tuple[int, float], ...] = ((60, 60.0),)
"""Kore's documented Case Management limit: 60 requests per rolling minute per account."""
_STATUS_FAULTS = {
    "500": "Internal Server Error",
    "502": "Bad Gateway",
    "503": "Service Unavailable",
    "504": "Gateway Timeout",
    "408": "Request Timeout",
    "429": RATE_LIMIT_MESSAGE,
}
_PROXY_HTML = (
    "<html><head><title>502 Bad Gateway</title></head><body>"
    "<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)
_DEFAULT_LIMIT = 50
_PAGE_CACHE_ENTRIES = 4096


@dataclass
class ServerStats:
    """Counters since the server started (or since ``reset_stats()``)."""

    requests: int = 0
    """Requests that reached the getCases route (any stream id, any outcome)."""
    in_flight: int = 0
    """Handlers running right now."""
    max_in_flight: int = 0
    """Peak of ``in_flight``."""
    attempts_per_page: Counter[int] = field(default_factory=Counter)
    """Requests per page number (from the body's page/skip; 0 when unreadable), any outcome."""
    statuses: Counter[int] = field(default_factory=Counter)
    """Responses per HTTP status (a ``reset`` fault sends none and is not counted)."""
    rate_limited: int = 0
    """429 responses sent, from the rate windows or a ``429`` fault."""
    faults_injected: int = 0
    """Scheduled or random faults applied."""
    cancelled: int = 0
    """Handlers cancelled because the client went away (not counting ``close()``)."""


@dataclass
class RequestRecord:
    """One request as the server saw it (``FakeKoreServer.request_log``)."""

    page: int
    """The page served or asked for (computed from ``skip`` in skip style); 0 if unreadable."""
    limit: int
    """The ``limit`` the client asked for (50 when absent, 0 when not a positive int)."""
    skip: int | None
    """The body's ``skip`` when it is an int."""
    body: dict[str, Any]
    """The JSON body (``{}`` when it was not a JSON object)."""
    started: float
    """``time.monotonic()`` at arrival."""
    status: int = 0
    """HTTP status sent; 0 while running, when cancelled, or for a ``reset`` fault."""
    fault: str | None = None
    """The fault injected into this request, if any."""
    jti: str | None = None
    """The ``jti`` claim of a correctly signed token."""
    finished: float | None = None
    """``time.monotonic()`` when the handler returned; ``None`` if it was cancelled."""


class _SlidingWindows:
    """Several "at most N requests per T seconds" windows, counted at arrival."""

    def __init__(self, limits: Sequence[tuple[int, float]]) -> None:
        self._windows = [(n, s, deque[float]()) for n, s in map(rate_window, limits)]

    def admit(self, now: float) -> int | None:
        """Take a slot in every window, or return the Retry-After seconds (nothing taken)."""
        wait = 0.0
        for max_requests, seconds, arrivals in self._windows:
            while arrivals and arrivals[0] <= now - seconds:
                arrivals.popleft()
            if len(arrivals) >= max_requests:
                wait = max(wait, arrivals[0] + seconds - now)
        if wait > 0:
            return max(1, math.ceil(wait))
        for _, _, arrivals in self._windows:
            arrivals.append(now)
        return None


def _kore_error(status: int, message: str) -> bytes:
    return msgspec.json.encode({"errors": [{"msg": message, "code": status}]})


def _json_object(raw: bytes) -> dict[str, Any] | None:
    """The body as a JSON object; an empty body counts as ``{}`` (as Express parses it)."""
    if not raw.strip():
        return {}
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None


def _int(body: Mapping[str, Any], key: str, default: int | None, minimum: int) -> int | None:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise QueryError(f"{key} must be an integer >= {minimum}")
    return value


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
        if paging not in ("page", "skip", "both"):
            raise ValueError("paging must be 'page', 'skip' or 'both'")
        if max_page_size < 1:
            raise ValueError("max_page_size must be >= 1")
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be within [0, 1]")
        if fault_rate and not fault_kinds:
            raise ValueError("fault_rate needs at least one fault kind")
        self.client_id = client_id
        self.client_secret = client_secret
        self.stream_id = stream_id
        self.account_id = account_id
        self.stats: ServerStats = ServerStats()
        self.request_log: list[RequestRecord] = []
        self._host, self._port = host, port
        self._latency, self._jitter = latency, latency_jitter
        self._max_page_size = max_page_size
        self._paging = paging
        self._rate_limits = tuple(self.default_rate_limits if rate_limits is None else rate_limits)
        _SlidingWindows(self._rate_limits)  # refuse a bad window now, not at a request
        self._limiters: dict[str, _SlidingWindows] = {}
        self._retry_after = retry_after
        self._fault_rate = fault_rate
        self._fault_kinds = [_check_fault(kind) for kind in fault_kinds]
        self._slow_seconds = slow_seconds
        self._enforce_unique_jti = enforce_unique_jti
        self._cache_pages = cache_pages
        # Separate generators, so turning on jitter does not change which requests fault.
        self._latency_rng = random.Random(f"latency:{seed}")
        self._fault_rng = random.Random(f"faults:{seed}")
        with warnings.catch_warnings():
            # A fake must accept whatever secret the user's client signs with, however short.
            warnings.simplefilter("ignore", SecurityWarning)
            self._key = OctKey.import_key(client_secret)
        self._store = MutableCaseStore(cases, seed=seed, stream_id=stream_id, account_id=account_id)
        self._page_cache: dict[tuple[Query, int, int, int], bytes] = {}
        self._scheduled: dict[int, deque[Fault]] = {}
        self._growth: list[tuple[int, int]] = []  # (arrival number, cases to add)
        self._arrivals = 0
        self._seen_jti: set[str] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._closing = False

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
        app.router.add_post(GET_CASES_PATH, self._handle)
        add_admin_routes(app, self)
        # handler_cancellation: a client that hangs up cancels its handler, so abandoned work
        # stops and stats.cancelled can count it.
        runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._closing = False

    async def close(self) -> None:
        """Stop the server, cancelling handlers still running (e.g. ``slow`` faults).

        Idempotent; in-flight clients see their connection closed.
        """
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._closing = True
        for site in list(runner.sites):
            await site.stop()  # no new requests from here on
        # Cancel running handlers: aiohttp's cleanup would wait for them to finish.
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        if handlers:
            await asyncio.wait(handlers, timeout=1.0)
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
        kinds = [_check_fault(kind) for kind in faults]
        self._scheduled.setdefault(page, deque()).extend(kinds)

    def add_cases(self, count: int) -> None:
        """Add ``count`` cases newer than all others: they lead the default newest-first order."""
        self._store.add(count)
        self._page_cache.clear()

    def add_cases_after(self, requests: int, count: int) -> None:
        """Add ``count`` cases when the ``requests``-th request from now arrives (1-based).

        Every request to the route counts. The cases are added on arrival, before that request
        (or any other still in flight) is answered.
        """
        if requests < 1:
            raise ValueError("requests must be >= 1")
        self._growth.append((self._arrivals + requests, count))

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
        now = int(time.time())
        payload = {"appId": self.client_id, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode({"alg": "HS256", "typ": "JWT"}, payload, self._key)

    # -- request handling --------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        stats = self.stats
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        self._arrivals += 1
        self._grow()
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        record = RequestRecord(page=0, limit=0, skip=None, body={}, started=arrived)
        try:
            body = _json_object(await request.read())
            self._describe(record, body)
            self.request_log.append(record)
            stats.attempts_per_page[record.page] += 1
            response = await self._respond(request, record, body, arrived)
        except asyncio.CancelledError:
            if not self._closing:
                stats.cancelled += 1
            raise
        finally:
            stats.in_flight -= 1
            self._handlers.discard(task)
        record.finished = time.monotonic()
        if record.status:
            stats.statuses[record.status] += 1
        if record.status == 429:
            stats.rate_limited += 1
        return response

    def _grow(self) -> None:
        due = [count for at, count in self._growth if at <= self._arrivals]
        if due:
            self._growth = [(at, count) for at, count in self._growth if at > self._arrivals]
            self.add_cases(sum(due))

    def _describe(self, record: RequestRecord, body: dict[str, Any] | None) -> None:
        """Fill the record's paging fields, leniently: bad values must not stop the logging."""
        if body is None:
            return
        record.body = body
        limit = body.get("limit", _DEFAULT_LIMIT)
        valid = isinstance(limit, int) and not isinstance(limit, bool) and limit > 0
        record.limit = limit if valid else 0
        skip = body.get("skip")
        record.skip = skip if isinstance(skip, int) and not isinstance(skip, bool) else None
        try:
            start, size = self._window(body)
        except QueryError:
            return
        record.page = start // size + 1

    def _window(self, body: Mapping[str, Any]) -> tuple[int, int]:
        """``(start index, clamped limit)`` from the paging keys this server honours."""
        limit = _int(body, "limit", _DEFAULT_LIMIT, 1) or _DEFAULT_LIMIT
        limit = min(limit, self._max_page_size)
        skip = _int(body, "skip", None, 0) if self._paging != "page" else None
        if self._paging == "skip" or skip is not None:
            return skip or 0, limit
        page = _int(body, "page", 1, 1) or 1
        return (page - 1) * limit, limit

    async def _respond(
        self,
        request: web.Request,
        record: RequestRecord,
        body: dict[str, Any] | None,
        arrived: float,
    ) -> web.StreamResponse:
        if request.match_info["stream_id"] != self.stream_id:
            return self._error(record, 404, "Stream not found")
        account = request.headers.get("accountId", "")
        limiter = self._limiters.get(account)
        if limiter is None:
            limiter = self._limiters[account] = _SlidingWindows(self._rate_limits)
        retry_after = limiter.admit(arrived)
        if retry_after is not None:
            header = retry_after if self._retry_after else None
            return self._error(record, 429, RATE_LIMIT_MESSAGE, header)
        problem = self._auth_problem(request.headers.get("auth"), record)
        if problem is not None:
            return self._error(record, 401, problem)
        account_id = request.headers.get("accountId")  # aiohttp's headers ignore case
        if not account_id:
            return self._error(record, 400, "accountId header is required")
        if account_id != self.account_id:
            return self._error(record, 400, "Invalid accountId")
        fault = self._next_fault(record.page)
        if fault is not None:
            record.fault = fault
            self.stats.faults_injected += 1
        if fault == "slow":
            await asyncio.sleep(self._slow_seconds)
        delay = self._latency + (self._latency_rng.uniform(0, self._jitter) if self._jitter else 0)
        if delay > 0:
            await asyncio.sleep(delay)
        if fault is None or fault == "slow":
            status, payload = self._answer(body)
            return self._send(record, status, payload)
        return await self._inject(request, record, fault, body)

    def _auth_problem(self, token: str | None, record: RequestRecord) -> str | None:
        if not token:
            return "auth token is required"
        try:
            claims = jwt.decode(token, self._key, algorithms=["HS256"]).claims
        except (JoseError, ValueError):
            return "Invalid token: signature verification failed"
        jti = claims.get("jti")
        record.jti = jti if isinstance(jti, str) else None
        if claims.get("appId") != self.client_id:
            return "Invalid token: appId does not match"
        expires = claims.get("exp")
        if expires is not None and (not isinstance(expires, (int, float)) or expires < time.time()):
            return "Invalid token: token expired"
        if self._enforce_unique_jti:
            if record.jti is None:
                return "Invalid token: jti claim is required"
            if record.jti in self._seen_jti:
                return "Invalid token: jti already used"
            self._seen_jti.add(record.jti)
        return None

    def _next_fault(self, page: int) -> Fault | None:
        queue = self._scheduled.get(page)
        if queue:
            return queue.popleft()
        if self._fault_rate and self._fault_rng.random() < self._fault_rate:
            return self._fault_rng.choice(self._fault_kinds)
        return None

    def _answer(self, body: Mapping[str, Any] | None) -> tuple[int, bytes]:
        """``(status, JSON bytes)`` of the normal answer to ``body``."""
        try:
            if body is None:
                raise QueryError("Request body must be a JSON object")
            query = parse_query(body)
            start, limit = self._window(body)
        except QueryError as exc:
            return 400, _kore_error(400, str(exc))
        key = (query, self._store.version, start, limit)
        payload = self._page_cache.get(key) if self._cache_pages else None
        if payload is None:
            payload = self._encode_page(query, start, limit)
            if self._cache_pages:
                if len(self._page_cache) >= _PAGE_CACHE_ENTRIES:
                    self._page_cache.clear()  # crude bound; benchmarks re-fill it in one pass
                self._page_cache[key] = payload
        return 200, payload

    def _encode_page(self, query: Query, start: int, limit: int) -> bytes:
        selection = self._store.select(query)
        total = len(selection)
        total_pages = -(-total // limit)
        page = start // limit + 1
        return msgspec.json.encode(
            {
                "results": [self._store.case(i) for i in selection[start : start + limit]],
                "page": page,
                "limit": limit,
                "hasMore": page < total_pages,
                "totalPages": total_pages,
                "totalResults": total,
            }
        )

    async def _inject(
        self,
        request: web.Request,
        record: RequestRecord,
        fault: str,
        body: dict[str, Any] | None,
    ) -> web.StreamResponse:
        if fault in _STATUS_FAULTS:
            return self._error(
                record, int(fault), _STATUS_FAULTS[fault], 1 if fault == "429" else None
            )
        if fault == "nonjson":
            record.status = 200
            return web.Response(text=_PROXY_HTML, content_type="text/html")
        if fault == "badshape":
            wrong = {"results": {"cases": []}, "page": 1, "limit": 50, "hasMore": False}
            return self._send(record, 200, msgspec.json.encode(wrong))
        transport = request.transport
        if fault == "reset":
            # Drop the connection with nothing sent; returning a response then fails quietly
            # inside aiohttp (it treats the closed transport as a client disconnect).
            if transport is not None:
                transport.abort()
            return web.Response()
        # "truncated": promise the whole page, send half of it, hang up.
        _, payload = self._answer(body)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(payload)
        await response.prepare(request)
        await response.write(payload[: len(payload) // 2])
        record.status = 200
        if transport is not None:
            transport.close()  # close, not abort: the half already written must go out first
        return response

    def _error(
        self, record: RequestRecord, status: int, message: str, retry_after: int | None = None
    ) -> web.Response:
        response = self._send(record, status, _kore_error(status, message))
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @staticmethod
    def _send(record: RequestRecord, status: int, payload: bytes) -> web.Response:
        record.status = status
        return web.Response(status=status, body=payload, content_type="application/json")


def _check_fault(kind: str) -> Fault:
    """``kind`` as a :data:`Fault`; callers without a type checker may pass any string."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; valid kinds: {', '.join(FAULT_KINDS)}")
    return kind
