"""Helpers shared by the tests: local servers, canned answers, ``until()`` and a fake clock."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

from aiohttp import web

from kore_cases import CasesClient, Request, Response
from kore_cases._wire import GET_CASES_PATH
from kore_cases.testing import FakeKoreServer, MockTransport

ENDPOINT = GET_CASES_PATH.format(stream_id="st-1")
"""The getCases path of a :class:`serve` server (its stream id is ``st-1``)."""


def client_for(server: FakeKoreServer, **options: Any) -> CasesClient:
    """A client of ``server`` with no rate limit and no backoff, unless ``options`` say."""
    options.setdefault("backoff_base", 0.0)
    return server.client(**options)


def listing(directory: Path) -> list[str]:
    """The names in ``directory``, sorted: what an export left behind."""
    return sorted(path.name for path in directory.iterdir())


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    """Wait for an effect that follows an event elsewhere (a server, a subprocess, a task).

    The tests' one way to wait for something: poll ``condition`` every 5 ms, and fail
    after ``timeout`` seconds.
    """
    for _ in range(int(timeout / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached in time")


class FakeClock:
    """A clock for the pure policies' ``clock=`` parameter: it reads ``now``, set by the test."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def pull_ids(client: CasesClient, **options: Any) -> list[str]:
    """The ids of a whole pull, in the order yielded."""
    return [case.id async for case in client.iter_cases(**options)]


class serve:
    """Run an aiohttp handler for POST ``ENDPOINT`` on 127.0.0.1, port 0; yields the base URL.

    For answers the fake server will not give (wrong shapes, lying totals, TLS).
    """

    def __init__(self, handler: Any, ssl_context: ssl.SSLContext | None = None) -> None:
        self._handler = handler
        self._ssl = ssl_context
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> str:
        app = web.Application()
        app.router.add_post(ENDPOINT, self._handler)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl).start()
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://127.0.0.1:{self._runner.addresses[0][1]}"

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


SAMPLE = json.loads((Path(__file__).parent / "data" / "sample_response.json").read_bytes())
"""Kore's documented sample answer (one case)."""


def page_payload(
    page: int = 1,
    limit: int = 50,
    results: list[Any] | None = None,
    total_results: int | None = None,
    total_pages: int = 1,
) -> dict[str, Any]:
    """A getCases answer: the sample's case unless ``results`` says otherwise."""
    cases = SAMPLE["results"] if results is None else results
    return {
        "results": cases,
        "page": page,
        "limit": limit,
        "hasMore": page < total_pages,
        "totalPages": total_pages,
        "totalResults": len(cases) if total_results is None else total_results,
    }


Answer = Union[Response, Exception, Callable[[Request], Response]]  # noqa: UP007 (3.10)


class Canned:
    """A :class:`MockTransport` handler giving ``answers`` in turn, the last one for good.

    An answer is a :class:`Response`, an exception to raise (``TransportError`` plays a
    failed connection) or a function of the request. ``requests`` keeps what was sent.
    """

    def __init__(self, *answers: Answer) -> None:
        self._answers = answers
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        answer = self._answers[min(len(self.requests), len(self._answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer if isinstance(answer, Response) else answer(request)

    @property
    def tokens(self) -> list[str]:
        """The ``auth`` header of every request, in order."""
        return [request.headers["auth"] for request in self.requests]

    def transport(self) -> MockTransport:
        """A transport answering with this."""
        return MockTransport(self)
