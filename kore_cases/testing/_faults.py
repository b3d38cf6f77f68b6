"""Trouble the fake server injects: which fault a request gets, and how each one is sent.

:class:`FaultPlan` decides (faults scheduled per page first, then a seeded random draw);
:func:`inject` answers with the fault: an HTTP error, HTML from a proxy, a body of the
wrong shape, a reset connection, or a page cut off halfway.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from typing import Literal, get_args

import msgspec
from aiohttp import web

from ._limits import RATE_LIMIT_MESSAGE
from ._records import RequestRecord, send, send_error

__all__ = ["FAULT_KINDS", "Fault", "FaultPlan", "check_fault", "inject"]

Fault = Literal[
    "500", "502", "503", "504", "408", "429", "reset", "truncated", "nonjson", "badshape", "slow"
]
"""A fault the server can inject instead of (or before) a normal answer."""

FAULT_KINDS: tuple[Fault, ...] = get_args(Fault)
"""Every valid fault kind, in declaration order."""

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


def check_fault(kind: str) -> Fault:
    """``kind`` as a :data:`Fault`; callers without a type checker may pass any string."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; valid kinds: {', '.join(FAULT_KINDS)}")
    return kind


class FaultPlan:
    """Which fault the next request at a page gets: scheduled ones, else a random one."""

    def __init__(self, rate: float, kinds: Sequence[Fault], seed: int) -> None:
        self._rate = rate
        self._kinds = list(kinds)
        self._scheduled: dict[int, deque[Fault]] = {}
        # Its own generator, so turning on latency jitter does not change which requests fault.
        self._rng = random.Random(f"faults:{seed}")

    def schedule(self, page: int, faults: Sequence[str]) -> None:
        """Queue ``faults`` for the next attempts at ``page``, after those already queued."""
        kinds = [check_fault(kind) for kind in faults]
        self._scheduled.setdefault(page, deque()).extend(kinds)

    def next(self, page: int) -> Fault | None:
        """The fault for a request at ``page`` that passed the checks before faults."""
        queue = self._scheduled.get(page)
        if queue:
            return queue.popleft()
        if self._rate and self._rng.random() < self._rate:
            return self._rng.choice(self._kinds)
        return None


async def inject(
    request: web.Request,
    record: RequestRecord,
    fault: Fault,
    page: Callable[[], bytes],
) -> web.StreamResponse:
    """Answer with ``fault`` (not ``"slow"``, which only delays); ``page`` is the normal body."""
    if fault in _STATUS_FAULTS:
        retry_after = 1 if fault == "429" else None
        return send_error(record, int(fault), _STATUS_FAULTS[fault], retry_after)
    if fault == "nonjson":
        record.status = 200
        return web.Response(text=_PROXY_HTML, content_type="text/html")
    if fault == "badshape":
        wrong = {"results": {"cases": []}, "page": 1, "limit": 50, "hasMore": False}
        return send(record, 200, msgspec.json.encode(wrong))
    transport = request.transport
    if fault == "reset":
        # Drop the connection with nothing sent; returning a response then fails quietly
        # inside aiohttp (it treats the closed transport as a client disconnect).
        if transport is not None:
            transport.abort()
        return web.Response()
    # "truncated": promise the whole page, send half of it, hang up.
    payload = page()
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(payload)
    await response.prepare(request)
    await response.write(payload[: len(payload) // 2])
    record.status = 200
    if transport is not None:
        transport.close()  # close, not abort: the half already written must go out first
    return response
