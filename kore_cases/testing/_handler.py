"""The fake server's getCases route: each request through Kore's checks, in Kore's order.

Route and stream (404), the account's rate windows (429), the ``auth`` JWT (401), the
``accountId`` header (400), then a scheduled or random fault, then latency, then the
answer from :class:`~kore_cases.testing._pages.Pages`. Every request is counted in the
server's ``stats`` and ``request_log`` whatever its outcome.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any, Protocol

from aiohttp import web

from ._config import ServerConfig
from ._faults import FaultPlan, inject
from ._limits import RATE_LIMIT_MESSAGE, AccountWindows
from ._pages import Pages, json_object
from ._records import RequestRecord, ServerStats, send, send_error
from ._tokens import Tokens

__all__ = ["RequestHandler"]


class _Served(Protocol):
    """What the handler reads from its server at each request (users may change them)."""

    client_id: str
    stream_id: str
    account_id: str
    stats: ServerStats
    request_log: list[RequestRecord]


class RequestHandler:
    """Answers getCases requests for ``server`` (see the module docs for the order)."""

    def __init__(
        self, server: _Served, config: ServerConfig, pages: Pages, faults: FaultPlan
    ) -> None:
        self._server = server
        self._config = config
        self._pages = pages
        self._faults = faults
        self._windows = AccountWindows(config.rate_limits)
        self.tokens = Tokens(config.client_secret, unique_jti=config.enforce_unique_jti)
        # Its own generator, so turning on jitter does not change which requests fault.
        self._latency_rng = random.Random(f"latency:{config.seed}")
        self._running: set[asyncio.Task[Any]] = set()
        self.closing = False
        """Set by ``close()``: a handler cancelled from here on is not a client gone away."""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The route's handler: count the request, answer it, note how it ended."""
        arrived = time.monotonic()
        stats = self._server.stats
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        self._pages.arrived()
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        record = RequestRecord(page=0, limit=0, skip=None, body={}, started=arrived)
        try:
            body = json_object(await request.read())
            self._pages.describe(record, body)
            self._server.request_log.append(record)
            stats.attempts_per_page[record.page] += 1
            response = await self._respond(request, record, body, arrived)
        except asyncio.CancelledError:
            if not self.closing:
                stats.cancelled += 1
            raise
        finally:
            stats.in_flight -= 1
            self._running.discard(task)
        record.finished = time.monotonic()
        if record.status:
            stats.statuses[record.status] += 1
        if record.status == 429:
            stats.rate_limited += 1
        return response

    async def cancel_all(self) -> None:
        """Cancel the handlers still running and wait (a second at most) for them to end."""
        running = list(self._running)
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=1.0)

    async def _respond(
        self,
        request: web.Request,
        record: RequestRecord,
        body: dict[str, Any] | None,
        arrived: float,
    ) -> web.StreamResponse:
        problem = self._refusal(request, record, arrived)
        if problem is not None:
            return problem
        fault = self._faults.next(record.page)
        if fault is not None:
            record.fault = fault
            self._server.stats.faults_injected += 1
        if fault == "slow":
            await asyncio.sleep(self._config.slow_seconds)
        jitter = self._config.latency_jitter
        delay = self._config.latency + (self._latency_rng.uniform(0, jitter) if jitter else 0)
        if delay > 0:
            await asyncio.sleep(delay)
        if fault is None or fault == "slow":
            status, payload = self._pages.answer(body)
            return send(record, status, payload)
        return await inject(request, record, fault, lambda: self._pages.answer(body)[1])

    def _refusal(
        self, request: web.Request, record: RequestRecord, arrived: float
    ) -> web.Response | None:
        """The 404, 429, 401 or 400 the request gets before any fault, if it gets one."""
        server = self._server
        if request.match_info["stream_id"] != server.stream_id:
            return send_error(record, 404, "Stream not found")
        retry_after = self._windows.admit(request.headers.get("accountId", ""), arrived)
        if retry_after is not None:
            header = retry_after if self._config.retry_after else None
            return send_error(record, 429, RATE_LIMIT_MESSAGE, header)
        problem = self.tokens.problem(request.headers.get("auth"), server.client_id, record)
        if problem is not None:
            return send_error(record, 401, problem)
        account_id = request.headers.get("accountId")  # aiohttp's headers ignore case
        if not account_id:
            return send_error(record, 400, "accountId header is required")
        if account_id != server.account_id:
            return send_error(record, 400, "Invalid accountId")
        return None
