"""``page_size="max"``: ask big once, keep what the server accepts for the client's life.

Two kinds of server: the fake one clamping ``limit`` at a size the test chooses (the
answer's ``limit`` is the truth), and a hostile one, started here, that refuses large
limits with 400 (the size is found by halving, each refusal counted as a probe).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from aiohttp import web
from helpers import client_for, pull_ids, serve

from kore_cases import BadRequestError, CasesClient, StaticToken
from kore_cases._page_size import MIN_PROBE_SIZE, next_probe_size
from kore_cases.testing import FakeKoreServer


class RefusingServer:
    """Serves ``cases`` ids newest first; answers 400 to a ``limit`` above ``accepts``."""

    def __init__(self, cases: int, accepts: int, message: str = "Bad request") -> None:
        self.ids = [f"c-{i:05d}" for i in range(cases)]
        self.accepts = accepts
        self.message = message
        self.limits: list[int] = []

    async def handler(self, request: web.Request) -> web.Response:
        body = await request.json()
        page, limit = body.get("page", 1), body.get("limit", 50)
        self.limits.append(limit)
        if limit > self.accepts:
            error = {"errors": [{"msg": self.message, "code": 400}]}
            return web.json_response(error, status=400)
        chunk = self.ids[(page - 1) * limit : page * limit]
        total_pages = math.ceil(len(self.ids) / limit)
        return web.json_response(
            {
                "results": [{"_id": case_id} for case_id in chunk],
                "page": page,
                "limit": limit,
                "hasMore": page < total_pages,
                "totalPages": total_pages,
                "totalResults": len(self.ids),
            }
        )


def client_of(url: str, **options: Any) -> CasesClient:
    return CasesClient(
        url, "st-1", "acct", StaticToken("a-static-test-token"), rate_limit=None, **options
    )


async def test_a_clamped_limit_is_taken_from_the_answer_and_kept() -> None:
    server = FakeKoreServer(cases=1000, max_page_size=137)
    async with server, client_for(server, page_size="max", concurrency=4) as client:
        cases = client.iter_cases()
        ids = [case.id async for case in cases]
        assert ids == server.case_ids()
        # 1000 asked once; the clamp (137) for every other page: no request wasted.
        limits = [record.limit for record in server.request_log]
        assert sorted(limits, reverse=True) == [1000] + [137] * 7
        assert cases.stats.requests == math.ceil(1000 / 137)
        assert cases.stats.page_size_probes == 0
        server.reset_stats()
        # Remembered for the client's life: the next pull asks 137 from the start.
        assert await pull_ids(client) == ids
        assert {record.limit for record in server.request_log} == {137}


async def test_a_server_refusing_large_limits_is_probed_by_halving() -> None:
    hostile = RefusingServer(cases=600, accepts=300)
    async with serve(hostile.handler) as url, client_of(url, page_size="max") as client:
        cases = client.iter_cases()
        ids = [case.id async for case in cases]
        assert ids == hostile.ids
        assert hostile.limits == [1000, 500, 250, 250, 250]
        assert cases.stats.page_size_probes == 2
        assert cases.stats.requests == 5
        hostile.limits.clear()
        assert await pull_ids(client) == hostile.ids
        assert hostile.limits == [250, 250, 250]


async def test_a_size_named_in_the_refusal_is_tried_before_halving() -> None:
    hostile = RefusingServer(cases=450, accepts=200, message="limit must be at most 200")
    async with serve(hostile.handler) as url, client_of(url, page_size="max") as client:
        cases = client.iter_cases()
        assert [case.id async for case in cases] == hostile.ids
        assert hostile.limits == [1000, 200, 200, 200]
        assert cases.stats.page_size_probes == 1


async def test_max_page_size_sets_the_first_size_asked() -> None:
    hostile = RefusingServer(cases=100, accepts=1000)
    async with serve(hostile.handler) as url:
        client = client_of(url, page_size="max", max_page_size=40)
        async with client:
            assert len(await pull_ids(client)) == 100
    assert hostile.limits == [40, 40, 40]


async def test_a_400_at_every_size_is_raised_after_a_bounded_probe() -> None:
    hostile = RefusingServer(cases=10, accepts=0, message="Invalid filter")
    async with serve(hostile.handler) as url, client_of(url, page_size="max") as client:
        with pytest.raises(BadRequestError, match="Invalid filter"):
            await pull_ids(client)
    assert hostile.limits == [1000, 500, 250, 125, 62, 31, 15]


async def test_get_page_probes_and_shares_what_it_learns_with_pulls() -> None:
    hostile = RefusingServer(cases=300, accepts=150)
    async with serve(hostile.handler) as url, client_of(url, page_size="max") as client:
        page = await client.get_page()
        assert (page.limit, len(page.results)) == (125, 125)
        assert len(await pull_ids(client)) == 300
    assert hostile.limits == [1000, 500, 250, 125, 125, 125, 125]


async def test_get_page_can_ask_max_on_a_client_of_fixed_size() -> None:
    server = FakeKoreServer(cases=300, max_page_size=120)
    async with server, client_for(server, page_size=10) as client:
        page = await client.get_page(page_size="max")
        assert page.limit == 120
        assert (await client.get_page()).limit == 10


async def test_a_fixed_page_size_is_never_probed() -> None:
    hostile = RefusingServer(cases=10, accepts=5)
    async with serve(hostile.handler) as url, client_of(url, page_size=50) as client:
        with pytest.raises(BadRequestError):
            await pull_ids(client)
    assert hostile.limits == [50]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"page_size": "big"}, "page_size must be a whole number >= 1 or 'max'"),
        ({"page_size": 0}, "page_size must be a whole number >= 1 or 'max'"),
        ({"page_size": True}, "page_size must be a whole number >= 1 or 'max'"),
        ({"max_page_size": 0}, "max_page_size must be a whole number >= 1"),
    ],
)
def test_bad_sizes_are_refused_before_any_request(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        client_of("http://127.0.0.1:1", **options)


def test_next_probe_size() -> None:
    assert next_probe_size(1000, None) == 500
    assert next_probe_size(1000, "limit must be <= 100") == 100
    # A number in a message that is not about the limit is not trusted.
    assert next_probe_size(1000, "Invalid accountId 42") == 500
    # A named size that is no smaller, or too small, is ignored.
    assert next_probe_size(100, "limit must be <= 100") == 50
    assert next_probe_size(2 * MIN_PROBE_SIZE, None) == MIN_PROBE_SIZE
    assert next_probe_size(2 * MIN_PROBE_SIZE - 1, None) is None
