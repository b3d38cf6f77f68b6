"""A getCases server for pagination tests that the test scripts answer by answer.

It shares none of the fake server's assumptions: the test decides which cases exist
(newest first, as Kore lists them), what changes before which answer, which answer
waits for which, which page fails, and may rewrite any answer to lie.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from helpers import serve

from kore_cases import CasesClient, StaticToken

Answer = dict[str, Any]


@dataclass
class Case:
    """One case of the list: its id and whether it is resolved."""

    id: str
    resolved: bool = False


@dataclass
class PagingServer:
    """Answers POST getCases from :attr:`cases`; every knob is keyed by page number.

    - ``before[page]`` runs once, just before the first answer to ``page`` is computed:
      it may change :attr:`cases` (create, delete, resolve).
    - ``after[page]`` holds the first answer to ``page`` until ``after[page]`` has been
      answered: the order in which pages are *served* is the test's, whatever order the
      requests arrive in.
    - ``faults[page]`` lists what the next requests for ``page`` get, in turn: an HTTP
      status, or ``None`` for the answer (``[None, 500]``: the second read fails).
    - ``rewrite(answer, body)`` may change any answer before it is sent.
    - ``delay(n)`` is how long the n-th request (1-based) waits before anything else;
      ``on_request(n)`` runs after that wait, before the answer is computed.

    A pull that runs away gets ``400 runaway`` after ``max_requests`` requests, so that
    a test fails instead of hanging.
    """

    cases: list[Case]
    before: dict[int, Callable[[list[Case]], None]] = field(default_factory=dict)
    after: dict[int, int] = field(default_factory=dict)
    faults: dict[int, list[int | None]] = field(default_factory=dict)
    rewrite: Callable[[Answer, dict[str, Any]], Answer] | None = None
    on_request: Callable[[int], None] | None = None
    delay: Callable[[int], float] | None = None
    max_requests: int = 200
    bodies: list[dict[str, Any]] = field(default_factory=list)
    _answered: dict[int, asyncio.Event] = field(default_factory=dict)

    @classmethod
    def of(cls, count: int, **options: Any) -> PagingServer:
        """A server over ``count`` cases ``c000``, ``c001``, ... (``c000`` the newest)."""
        return cls([Case(f"c{i:03d}") for i in range(count)], **options)

    def ids(self, unresolved: bool = False) -> list[str]:
        """The ids a pull would see now."""
        return [c.id for c in self.cases if not (unresolved and c.resolved)]

    @property
    def pages_asked(self) -> list[int]:
        """The page of every request, in the order they arrived."""
        return [b.get("page", 0) for b in self.bodies]

    def answered(self, page: int) -> asyncio.Event:
        return self._answered.setdefault(page, asyncio.Event())

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        number = len(self.bodies)
        if self.delay is not None:
            await asyncio.sleep(self.delay(number))
        if self.on_request is not None:
            self.on_request(number)
        if len(self.bodies) > self.max_requests:
            return web.json_response({"errors": [{"msg": "runaway"}]}, status=400)
        page, limit = body.get("page", 1), body["limit"]
        if page in self.after:
            await self.answered(self.after.pop(page)).wait()
        faults = self.faults.get(page)
        status = faults.pop(0) if faults else None
        if status is not None:
            self.answered(page).set()
            return web.json_response({"errors": [{"msg": "boom"}]}, status=status)
        hook = self.before.pop(page, None)
        if hook is not None:
            hook(self.cases)
        answer = self.answer(page, limit, unresolved=bool(body.get("unresolved")))
        if self.rewrite is not None:
            answer = self.rewrite(answer, body)
        self.answered(page).set()
        return web.json_response(answer)

    def answer(self, page: int, limit: int, *, unresolved: bool) -> Answer:
        ids = self.ids(unresolved)
        pages = math.ceil(len(ids) / limit)
        return {
            "results": [{"_id": i} for i in ids[(page - 1) * limit : page * limit]],
            "page": page,
            "limit": limit,
            "hasMore": page < pages,
            "totalPages": pages,
            "totalResults": len(ids),
        }

    def running(self) -> serve:
        """Serve on 127.0.0.1, port 0: ``async with server.running() as url``."""
        return serve(self.handle)


def client(url: str, **options: Any) -> CasesClient:
    """A client of a :class:`PagingServer`: no rate limit, no backoff unless asked."""
    options.setdefault("rate_limit", None)
    options.setdefault("backoff_base", 0.0)
    return CasesClient(url, "st-1", "acc", StaticToken("t"), **options)


def created(case_id: str) -> Callable[[list[Case]], None]:
    """A change: a case is created (it comes first: newest first)."""
    return lambda cases: cases.insert(0, Case(case_id))


def deleted(*case_ids: str) -> Callable[[list[Case]], None]:
    """A change: cases are deleted."""

    def change(cases: list[Case]) -> None:
        cases[:] = [c for c in cases if c.id not in case_ids]

    return change


def both(*changes: Callable[[list[Case]], None]) -> Callable[[list[Case]], None]:
    """Several changes at once."""

    def change(cases: list[Case]) -> None:
        for one in changes:
            one(cases)

    return change
