"""The transport seam: ``CasesClient(transport=...)``, ``MockTransport``, Request and Response."""

from __future__ import annotations

import ssl
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from helpers import Canned, page_payload

from kore_cases import CasesClient, Request, Response, StaticToken
from kore_cases.testing import MockTransport

TOKEN = "static-token-0123456789"


def client_with(transport: Any, **options: Any) -> CasesClient:
    return CasesClient(
        "https://kore.example.com",
        "st-1",
        "acc-1",
        StaticToken(TOKEN),
        rate_limit=None,
        transport=transport,
        **options,
    )


def paged(total: int, limit: int) -> Canned:
    """Answers a page/limit request for ``total`` cases named c0, c1, ..."""

    def answer(request: Request) -> Response:
        asked = request.json()
        page, size = asked["page"], asked["limit"]
        ids = range((page - 1) * size, min(page * size, total))
        pages = -(-total // size)
        results = [{"_id": f"c{i}"} for i in ids]
        return Response(200, json=page_payload(page, size, results, total, pages))

    return Canned(answer)


async def test_a_pull_goes_through_the_transport_with_every_header() -> None:
    answers = paged(total=25, limit=10)
    async with client_with(answers.transport(), page_size=10, extra_headers={"X-Team": "a"}) as c:
        ids = [case.id async for case in c.iter_cases()]
    assert ids == [f"c{i}" for i in range(25)]
    assert sorted(r.json()["page"] for r in answers.requests) == [1, 2, 3]
    request = answers.requests[0]
    assert request.method == "POST"
    assert (
        request.url == "https://kore.example.com/caseManagement/api/public/analytics/st-1/getCases"
    )
    assert request.headers["auth"] == TOKEN
    assert request.headers["accountId"] == "acc-1"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Team"] == "a"
    assert request.headers["User-Agent"].startswith("kore-cases/")
    assert request.timeout == 30.0


async def test_an_async_handler_is_awaited() -> None:
    async def handler(request: Request) -> Response:
        return Response(200, json=page_payload(page=request.json()["page"]))

    async with client_with(MockTransport(handler)) as client:
        assert (await client.get_page()).total_results == 1


async def test_a_handler_returning_something_else_is_told_what_to_return() -> None:
    async with client_with(MockTransport(lambda request: {"results": []})) as client:
        with pytest.raises(TypeError, match=r"must return a kore_cases\.Response, not dict"):
            await client.get_page()


async def test_with_options_sends_its_timeout_through_the_transport() -> None:
    answers = Canned(Response(200, json=page_payload()))
    async with client_with(answers.transport()) as client:
        await client.with_options(timeout=2.5).get_page()
    assert answers.requests[0].timeout == 2.5


async def test_the_client_closes_the_transport_it_was_given() -> None:
    class Recording(MockTransport):
        closed = 0

        async def aclose(self) -> None:
            self.closed += 1

    transport = Recording(lambda request: Response(200, json=page_payload()))
    async with client_with(transport) as client:
        await client.get_page()
        assert transport.closed == 0
    assert transport.closed == 1


def test_something_that_is_not_a_transport_is_refused() -> None:
    with pytest.raises(TypeError, match=r"async def send\(request\).*object has no async send"):
        client_with(object())
    with pytest.raises(TypeError, match="handler must be a function"):
        MockTransport("not callable")  # type: ignore[arg-type]


def test_options_of_the_aiohttp_transport_are_refused_with_another() -> None:
    transport = MockTransport(lambda request: Response(200))
    with pytest.raises(ValueError, match="ssl configure the default aiohttp transport"):
        client_with(transport, ssl=ssl.create_default_context())


def test_response_and_request_basics() -> None:
    response = Response(429, json={"errors": []}, headers={"Retry-After": "3"})
    assert response.body == b'{"errors":[]}'
    assert response.headers["content-type"] == "application/json"
    assert response.headers["RETRY-AFTER"] == "3"
    assert (
        Response(200, headers={"Content-Type": "text/csv"}, json=[]).headers["content-type"]
        == "text/csv"
    )
    request = Request("https://h/p", headers={"auth": TOKEN}, body=b'{"page":2}', timeout=1.0)
    assert request.json() == {"page": 2}
    assert TOKEN not in repr(request)


def test_a_client_on_a_mock_transport_never_loads_the_aiohttp_transport() -> None:
    code = textwrap.dedent(
        """
        import asyncio, sys
        from kore_cases import CasesClient, Response
        from kore_cases.testing import MockTransport

        page = {"results": [{"_id": "c1"}], "page": 1, "limit": 50, "hasMore": False,
                "totalPages": 1, "totalResults": 1}

        async def main():
            transport = MockTransport(lambda request: Response(200, json=page))
            async with CasesClient("https://h.example", "st-1", "a", "t", rate_limit=None,
                                   transport=transport) as client:
                return [case.id async for case in client.iter_cases()]

        ids = asyncio.run(main())
        print(ids, "kore_cases._transport" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['c1'] False"
