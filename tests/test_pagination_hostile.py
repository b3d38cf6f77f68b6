"""Pulls against servers whose paging metadata lies or contradicts itself.

A runaway pull spends the account's whole budget (60 requests a minute, shared with
its other services) and blocks its consumer forever; a pull that ends quietly short
loses cases. Each server here is a :class:`PagingServer` with its answers rewritten.
"""

from __future__ import annotations

import gzip
import logging
from typing import Any

import msgspec
import pytest
from aiohttp import web
from helpers import client_for, pull_ids, serve
from paging_server import Answer, PagingServer, client

from kore_cases import (
    APIConnectionError,
    CasesClient,
    KoreCasesError,
    PaginationError,
    ResponseTooLargeError,
)
from kore_cases.testing import FakeKoreServer


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def lying(**fields: Any) -> Any:
    """Rewrite every answer's metadata with ``fields``."""

    def rewrite(answer: Answer, body: dict[str, Any]) -> Answer:
        return {**answer, **fields}

    return rewrite


def same_page(answer: Answer, body: dict[str, Any]) -> Answer:
    """A server that ignores ``page``: page 1's cases, whatever page is asked."""
    return {**answer, "results": [{"_id": f"c{i:03d}"} for i in range(answer["limit"])]}


def same_page_forever(answer: Answer, body: dict[str, Any]) -> Answer:
    """Page 1's cases whatever page is asked, and always ``hasMore``."""
    return {**same_page(answer, body), "hasMore": True}


class TestRunawayMetadata:
    async def test_total_pages_of_a_billion_is_bounded_by_total_results(self) -> None:
        server = PagingServer.of(25, rewrite=lying(totalPages=10**9, hasMore=True))
        async with server.running() as url, client(url, page_size=10, concurrency=4) as c:
            ids = [case.id async for case in c.iter_cases()]
        assert ids == server.ids()
        assert sorted(server.pages_asked) == [1, 2, 3]

    @pytest.mark.parametrize("ordered", [True, False])
    async def test_empty_pages_end_the_pull_whatever_the_totals_say(
        self, ordered: bool, caplog: pytest.LogCaptureFixture
    ) -> None:
        """totalPages 1e9 and totalResults 1e10; pages after page 2 are empty."""

        def rewrite(answer: Answer, body: dict[str, Any]) -> Answer:
            results = answer["results"] if body["page"] <= 2 else []
            return {**answer, "results": results, "totalPages": 10**9, "totalResults": 10**10}

        server = PagingServer.of(100, rewrite=rewrite)
        with caplog.at_level(logging.WARNING, logger="kore_cases"):
            async with server.running() as url, client(url, page_size=10, concurrency=4) as c:
                cases = c.iter_cases(ordered=ordered)
                ids = [case.id async for case in cases]
        assert ids == server.ids()[:20]
        assert len(server.bodies) <= 3 + 4, "a runaway costs at most a window of requests"
        assert cases.stats.shortfall == 10**10 - 20
        assert any("20" in w and str(10**10) in w for w in warnings_of(caplog))

    async def test_a_short_page_ends_the_pull(self) -> None:
        def rewrite(answer: Answer, body: dict[str, Any]) -> Answer:
            results = answer["results"][:3] if body["page"] == 2 else answer["results"]
            return {**answer, "results": results, "totalPages": 10**9, "totalResults": 10**10}

        server = PagingServer.of(100, rewrite=rewrite)
        async with server.running() as url, client(url, page_size=10, concurrency=2) as c:
            ids = [case.id async for case in c.iter_cases()]
        assert ids == server.ids()[:13]
        assert len(server.bodies) <= 2 + 2

    @pytest.mark.parametrize("page_size", [1, 10])
    async def test_has_more_forever_with_the_same_page_stops_within_a_request(
        self, page_size: int
    ) -> None:
        server = PagingServer.of(page_size, rewrite=same_page_forever)
        async with server.running() as url, client(url, page_size=page_size) as c:
            ids: list[str] = []
            try:
                async for case in c.iter_cases():
                    ids.append(case.id)
            except PaginationError as exc:
                error: PaginationError | None = exc
            else:
                error = None
        assert len(server.bodies) <= 2
        # A whole repeated page is a server ignoring `page`; a single case, a move.
        assert ids == server.ids()
        assert (error is not None) == (page_size > 1)
        assert error is None or "paging='skip'" in str(error)


class TestEndOfPullCheck:
    @pytest.mark.parametrize("dedupe", [True, False])
    async def test_a_server_ignoring_page_does_not_end_silently(self, dedupe: bool) -> None:
        """The same 10 cases for every page, with totalResults 100: dedupe would drop
        90 of them and the pull would end with 10 cases, no error, no warning."""
        server = PagingServer.of(100, rewrite=same_page)
        async with server.running() as url, client(url, page_size=10, concurrency=4) as c:
            with pytest.raises(PaginationError, match=r"page 2 holds the same 10 cases") as e:
                async for _case in c.iter_cases(dedupe=dedupe):
                    pass
        assert e.value.page == 2
        assert e.value.resume_page == 2

    async def test_a_pull_that_yields_less_than_announced_says_so(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """totalResults says 100, yet page 3 is short: the pull ends with 23 cases."""

        def rewrite(answer: Answer, body: dict[str, Any]) -> Answer:
            results = answer["results"][:3] if body["page"] == 3 else answer["results"]
            return {**answer, "results": results}

        server = PagingServer.of(100, rewrite=rewrite)
        with caplog.at_level(logging.WARNING, logger="kore_cases"):
            async with server.running() as url, client(url, page_size=10) as c:
                pages = c.iter_pages()
                ids = [case.id async for page in pages for case in page.results]
        assert len(ids) == 23
        assert pages.stats.shortfall == 77
        warning = " ".join(warnings_of(caplog))
        assert "handed out 23 cases" in warning
        assert "announced 100" in warning

    async def test_a_whole_pull_says_nothing(self, caplog: pytest.LogCaptureFixture) -> None:
        server = PagingServer.of(95)
        with caplog.at_level(logging.WARNING, logger="kore_cases"):
            async with server.running() as url, client(url, page_size=10, concurrency=3) as c:
                cases = c.iter_cases()
                assert [case.id async for case in cases] == server.ids()
        assert cases.stats.shortfall == 0
        assert warnings_of(caplog) == []


class TestAnswerLimits:
    @pytest.mark.parametrize(("paging", "start_page"), [("page", 1), ("skip", 3)])
    async def test_a_limit_below_one_is_never_sent_back(self, paging: str, start_page: int) -> None:
        def rewrite(answer: Answer, body: dict[str, Any]) -> Answer:
            page = body.get("page", body.get("skip", 0) // body["limit"] + 1)
            return {**answer, "limit": -5, "page": page}

        server = PagingServer.of(100, rewrite=rewrite)
        async with (
            server.running() as url,
            client(url, page_size=10, paging=paging) as c,
        ):
            with pytest.raises(PaginationError, match="limit -5") as caught:
                await c.iter_pages(start_page=start_page).__anext__()
        assert caught.value.page == start_page
        assert all(body["limit"] >= 1 for body in server.bodies), server.bodies


class TestBodies:
    async def test_a_malformed_page_is_never_tried_more_than_one_plus_max_retries_times(
        self,
    ) -> None:
        """Page 2 answers 503, 503, then a 200 whose body looks like JSON but is not.

        The consumer's re-fetch of the malformed page must inherit the attempts spent by
        the prefetch (3 with max_retries=2), not start a fresh budget."""
        hits: dict[int, int] = {}

        async def handler(request: web.Request) -> web.Response:
            page = (await request.json())["page"]
            hits[page] = hits.get(page, 0) + 1
            if page == 2:
                if hits[page] <= 2:
                    return web.json_response({"errors": [{"msg": "busy"}]}, status=503)
                return web.Response(body=b'{"results": [}', content_type="application/json")
            return web.json_response(
                {
                    "results": [{"_id": "ci-1"}],
                    "page": 1,
                    "limit": 1,
                    "hasMore": True,
                    "totalPages": 2,
                    "totalResults": 2,
                }
            )

        async with (
            serve(handler) as url,
            CasesClient(
                url,
                "st-1",
                "acc",
                "tok",
                rate_limit=None,
                max_retries=2,
                backoff_base=0.0,
                page_size=1,
            ) as client,
        ):
            with pytest.raises(APIConnectionError):
                await pull_ids(client)
        assert hits[2] <= 1 + 2, f"page 2 was requested {hits[2]} times with max_retries=2"

    async def test_max_response_bytes_holds_for_a_gzip_encoded_answer(self) -> None:
        """aiohttp asks for gzip and inflates transparently: the limit applies to the
        inflated bytes, not to the compressed Content-Length (a 5 MB page, 1 MB limit)."""
        results = [{"_id": f"ci-{i}", "description": "x" * 5000} for i in range(1000)]
        payload = msgspec.json.encode(
            {
                "results": results,
                "page": 1,
                "limit": 1000,
                "hasMore": False,
                "totalPages": 1,
                "totalResults": 1000,
            }
        )
        compressed = gzip.compress(payload)
        assert len(compressed) < 100_000 < 1_000_000 < len(payload)

        async def handler(request: web.Request) -> web.Response:
            return web.Response(
                body=compressed,
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )

        async with (
            serve(handler) as url,
            CasesClient(
                url, "st-1", "acc", "tok", rate_limit=None, max_response_bytes=1_000_000
            ) as client,
        ):
            with pytest.raises(ResponseTooLargeError):
                await client.get_page(page_size=1000)


class RowWithoutIdRename(msgspec.Struct, rename="camel"):
    # A projection that forgot `msgspec.field(name="_id")`: "id" is not in the JSON.
    id: str | None = None
    ref_id: str | None = None


class TestCaseIds:
    async def test_dedupe_does_not_collapse_cases_whose_id_is_none(self) -> None:
        """A projection whose ``id`` decodes to None for every case: hashing None would make
        them all one id and drop 200 of 300 cases silently; such cases are kept."""
        async with (
            FakeKoreServer(cases=300, seed=1) as srv,
            client_for(srv, page_size=100) as client,
        ):
            try:
                rows = [row async for row in client.iter_cases(model=RowWithoutIdRename)]
            except (ValueError, TypeError, KoreCasesError):
                return  # refusing the model up front would be fine too
            assert len(rows) == 300, f"{len(rows)} of 300 cases yielded"
