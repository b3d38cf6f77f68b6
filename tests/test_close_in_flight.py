"""Closing the client ends every call still waiting for an answer, with ClientClosedError."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from helpers import serve, until

from kore_cases import CasesClient, ClientClosedError

# The server never answers within a test run: only closing can end the call.
_HANG = 60.0
# How long a closed call may take to end: generous for a loaded machine, far below _HANG.
_ENDS_WITHIN = 10.0


def _page(page: int) -> dict[str, Any]:
    return {
        "results": [{"_id": f"c-{page}"}],
        "page": page,
        "limit": 1,
        "hasMore": True,
        "totalPages": 5,
        "totalResults": 5,
    }


async def _pull(client: CasesClient) -> Any:
    return [case.id async for case in client.iter_cases()]


CALLS: dict[str, tuple[Callable[[CasesClient], Awaitable[Any]], int]] = {
    "get_page": (lambda c: c.get_page(page=2), 2),
    "count": (lambda c: c.count(), 1),
    "pull-page-1": (_pull, 1),
    "pull-prefetch": (_pull, 2),  # page 1 answers, the pages fetched ahead hang
}


@pytest.mark.parametrize("name", list(CALLS))
async def test_aclose_ends_a_call_in_flight_with_client_closed_error(name: str) -> None:
    call, hanging_page = CALLS[name]
    arrived: list[int] = []
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        page = (await request.json())["page"]
        arrived.append(page)
        if page >= hanging_page:
            await asyncio.wait_for(release.wait(), _HANG)
        return web.json_response(_page(page))

    async with serve(handler) as url:
        # A retry would wait as long as the server hangs: only closing ends the call.
        client = CasesClient(
            url, "st-1", "acc", "tok", rate_limit=None, concurrency=2, backoff_base=_HANG
        )
        await client.open()
        try:
            task = asyncio.create_task(call(client))
            await until(lambda: hanging_page in arrived, timeout=_ENDS_WITHIN)
            await asyncio.wait_for(client.aclose(), _ENDS_WITHIN)
            with pytest.raises(ClientClosedError) as caught:
                await asyncio.wait_for(task, _ENDS_WITHIN)
            assert caught.value.page == hanging_page
            with pytest.raises(ClientClosedError, match="closed"):
                await client.get_page()
        finally:
            release.set()  # let the server's handlers end before it stops
