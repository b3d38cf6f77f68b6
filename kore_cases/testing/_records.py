"""What the fake server records of each request, and the one way it sends an answer.

:class:`ServerStats` and :class:`RequestRecord` are public (``server.stats``,
``server.request_log``); :func:`send` and :func:`send_error` set the record's status as
they build the response, so that every path through the server counts it the same way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

__all__ = ["RequestRecord", "ServerStats", "kore_error", "send", "send_error"]


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


def kore_error(status: int, message: str) -> bytes:
    """A Kore-shaped error body: ``{"errors": [{"msg": message, "code": status}]}``."""
    return msgspec.json.encode({"errors": [{"msg": message, "code": status}]})


def send(record: RequestRecord, status: int, payload: bytes) -> web.Response:
    """A JSON response of ``payload``, its status noted in ``record``."""
    record.status = status
    return web.Response(status=status, body=payload, content_type="application/json")


def send_error(
    record: RequestRecord, status: int, message: str, retry_after: int | None = None
) -> web.Response:
    """A Kore-shaped error response, with ``Retry-After`` when ``retry_after`` is given."""
    response = send(record, status, kore_error(status, message))
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response
