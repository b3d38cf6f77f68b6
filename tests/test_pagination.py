"""Concurrent pagination against the fake server, over real sockets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest
from helpers import client_for, pull_ids, until

from kore_cases import (
    CaseFilter,
    CasesClient,
    ClientClosedError,
    PaginationError,
    RateLimit,
    ServerError,
)
from kore_cases.testing import FakeKoreServer

ClientFactory = Callable[..., CasesClient]


@pytest.fixture
async def server() -> AsyncIterator[FakeKoreServer]:
    async with FakeKoreServer(cases=1000, seed=7) as srv:
        yield srv


@pytest.mark.parametrize("total", [0, 1, 50, 51, 3001])
async def test_every_id_exactly_once_in_server_order(total: int) -> None:
    async with (
        FakeKoreServer(cases=total, seed=1, max_page_size=100, rate_limits=()) as srv,
        client_for(srv, page_size=50, concurrency=4) as client,
    ):
        ids = await pull_ids(client)
        assert ids == srv.case_ids()
        unordered = await pull_ids(client, ordered=False)
        assert sorted(unordered) == sorted(ids)
        assert len(set(unordered)) == total


async def test_filter_is_sent_and_honoured(server: FakeKoreServer) -> None:
    flt = CaseFilter(status=["open"], priority=["high", "critical"])
    async with client_for(server, page_size=20) as client:
        ids = await pull_ids(client, filter=flt)
    expected = server.case_ids(flt.to_body())
    assert ids == expected
    assert 0 < len(ids) < server.total_cases
    assert all(r.body.get("status") == ["open"] for r in server.request_log)


async def test_iter_pages_yields_pages_in_order(server: FakeKoreServer) -> None:
    async with client_for(server, page_size=100, concurrency=3) as client:
        pages = [page async for page in client.iter_pages()]
    assert [p.page for p in pages] == list(range(1, 11))
    assert all(p.total_results == 1000 and p.limit == 100 for p in pages)
    assert [c.id for p in pages for c in p.results] == server.case_ids()


async def test_never_more_than_concurrency_requests_in_flight() -> None:
    async with (
        FakeKoreServer(cases=2000, latency=0.02) as srv,
        client_for(srv, page_size=50, concurrency=5) as client,
    ):
        ids = await pull_ids(client)
        assert len(ids) == 2000
        assert srv.stats.max_in_flight == 5
        assert srv.stats.requests == 40


async def test_concurrency_is_shared_by_simultaneous_pulls() -> None:
    async with (
        FakeKoreServer(cases=1000, latency=0.02) as srv,
        client_for(srv, page_size=50, concurrency=3) as client,
    ):
        first, second = await asyncio.gather(pull_ids(client), pull_ids(client))
        assert first == second == srv.case_ids()
        assert srv.stats.max_in_flight == 3


async def test_slow_consumer_pauses_fetching() -> None:
    concurrency = 4
    async with (
        FakeKoreServer(cases=5000, latency=0.001) as srv,
        client_for(srv, page_size=50, concurrency=concurrency) as client,
    ):
        pages_taken = 0
        async with client.iter_pages() as pages:
            async for _page in pages:
                pages_taken += 1
                await asyncio.sleep(0.02)  # a slow consumer gives the fetchers time to run ahead
                asked = max(r.page for r in srv.request_log)
                assert asked <= pages_taken + concurrency
                if pages_taken == 10:
                    break
        assert srv.stats.requests <= 10 + concurrency


async def test_clamped_limit_loses_nothing() -> None:
    async with (
        FakeKoreServer(cases=1234, max_page_size=100) as srv,
        client_for(srv, page_size=500) as client,
    ):
        pages = client.iter_pages()
        ids = [case.id async for page in pages for case in page.results]
        assert ids == srv.case_ids()
        assert {r.limit for r in srv.request_log[1:]} == {100}
        assert pages.stats.pages == 13


async def test_new_cases_during_the_pull_neither_lost_nor_repeated(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with (
        FakeKoreServer(cases=2000, latency=0.01, latency_jitter=0.02, seed=3) as srv,
        client_for(srv, page_size=50, concurrency=6) as client,
    ):
        original = set(srv.case_ids())
        # The 4th request arrives while others are in flight: later pages see a new head.
        srv.add_cases_after(requests=4, count=37)
        with caplog.at_level(logging.WARNING, logger="kore_cases"):
            cases = client.iter_cases()
            ids = [case.id async for case in cases]
        assert len(ids) == len(set(ids)), "a case was yielded twice"
        assert original <= set(ids), "a case that existed for the whole pull was missed"
        assert cases.stats.pages_reread > 0
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("2000" in w and "2037" in w for w in warnings), warnings


async def test_cases_added_while_the_consumer_is_midway() -> None:
    async with (
        FakeKoreServer(cases=600, latency=0.005, seed=4) as srv,
        client_for(srv, page_size=50, concurrency=3) as client,
    ):
        before = srv.case_ids()
        seen: list[str] = []
        async for case in client.iter_cases():
            seen.append(case.id)
            if len(seen) == 120:
                # Prefetched pages hold the old order; the pages still to come, the new.
                srv.add_cases(75)
        assert set(before) <= set(seen)
        assert len(seen) == len(set(seen))


async def test_break_cancels_in_flight_requests_and_sends_no_more() -> None:
    async with (
        FakeKoreServer(cases=5000, latency=1.0) as srv,
        client_for(srv, page_size=50, concurrency=4) as client,
    ):
        async for _case in client.iter_cases():
            # The next pages are now in flight (1 s each).
            await until(lambda: srv.stats.in_flight == 4)
            break
        await until(lambda: srv.stats.in_flight == 0)
        await assert_stopped(srv)
        assert srv.stats.cancelled >= 1


async def test_aclose_and_async_with_cancel_in_flight_requests() -> None:
    async with (
        FakeKoreServer(cases=5000, latency=0.2) as srv,
        client_for(srv, page_size=50, concurrency=4) as client,
    ):
        cases = client.iter_cases()
        await cases.__anext__()
        await cases.aclose()
        assert _other_tasks() == []
        async with client.iter_pages() as pages:
            await pages.__anext__()
        await assert_stopped(srv)
        with pytest.raises(StopAsyncIteration):
            await cases.__anext__()


async def test_exception_in_consumer_cancels_fetches() -> None:
    async with (
        FakeKoreServer(cases=5000, latency=0.2) as srv,
        client_for(srv, page_size=50, concurrency=4) as client,
    ):
        with pytest.raises(RuntimeError, match="consumer failed"):
            async for _case in client.iter_cases():
                raise RuntimeError("consumer failed")
        await asyncio.sleep(0)
        await assert_stopped(srv)


async def test_cancelling_the_consumer_task_cancels_fetches() -> None:
    async with (
        FakeKoreServer(cases=5000, latency=0.2) as srv,
        client_for(srv, page_size=50, concurrency=4) as client,
    ):
        started = asyncio.Event()

        async def consume() -> None:
            async for _case in client.iter_cases():
                started.set()

        task = asyncio.create_task(consume())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)
        await assert_stopped(srv)


async def test_closing_the_client_cancels_a_running_pull() -> None:
    async with FakeKoreServer(cases=5000, latency=0.2) as srv:
        client = await client_for(srv, page_size=50, concurrency=4).open()
        cases = client.iter_cases()
        await cases.__anext__()
        await client.aclose()
        await assert_stopped(srv)


async def test_max_items_stops_early_and_fetches_only_what_it_needs() -> None:
    async with (
        FakeKoreServer(cases=5000, latency=0.01) as srv,
        client_for(srv, page_size=50, concurrency=8) as client,
    ):
        ids = await pull_ids(client, max_items=120)
        assert ids == srv.case_ids()[:120]
        assert srv.stats.requests == 3
        assert _other_tasks() == []


async def test_failed_page_raises_with_resume_page_and_resume_completes_the_set() -> None:
    async with (
        FakeKoreServer(cases=1000, seed=5) as srv,
        client_for(srv, page_size=50, concurrency=4, max_retries=2) as client,
    ):
        srv.schedule_faults(7, "500", "503", "502")
        first: list[str] = []
        cases = client.iter_cases()
        with pytest.raises(ServerError) as caught:
            async for case in cases:
                first.append(case.id)
        error = caught.value
        assert error.page == 7
        assert error.resume_page == 7 == cases.resume_page
        assert "start_page=7" in str(error)
        assert srv.stats.attempts_per_page[7] == 3
        # Nothing after the failed page was yielded.
        assert first == srv.case_ids()[: 6 * 50]
        rest = await pull_ids(client, start_page=error.resume_page)
        assert first + rest == srv.case_ids()


async def test_unordered_failure_resume_yields_the_whole_set() -> None:
    async with (
        FakeKoreServer(cases=1000, seed=5) as srv,
        client_for(srv, page_size=50, concurrency=4, max_retries=1) as client,
    ):
        srv.schedule_faults(4, "500", "500")
        first: list[str] = []
        with pytest.raises(ServerError) as caught:
            async for case in client.iter_cases(ordered=False):
                first.append(case.id)
        assert caught.value.resume_page is not None
        assert caught.value.resume_page <= 4
        rest = await pull_ids(client, start_page=caught.value.resume_page, ordered=False)
        assert set(first) | set(rest) == set(srv.case_ids())


class CaseRow(msgspec.Struct, rename="camel"):
    id: str = msgspec.field(name="_id")
    ref_id: str | None = None


async def test_projection_model_and_dict(server: FakeKoreServer) -> None:
    async with client_for(server, page_size=100) as client:
        rows = [row async for row in client.iter_cases(model=CaseRow)]
        dicts = [d async for d in client.iter_cases(model=dict)]
    assert all(type(r) is CaseRow for r in rows)
    assert [r.id for r in rows] == [d["_id"] for d in dicts] == server.case_ids()
    assert all(r.ref_id and r.ref_id == d["refId"] for r, d in zip(rows, dicts, strict=True))


async def test_bad_arguments_fail_before_any_request(server: FakeKoreServer) -> None:
    class NoId(msgspec.Struct):
        name: str | None = None

    async with client_for(server) as client:
        with pytest.raises(ValueError, match="dedupe"):
            client.iter_cases(model=NoId)
        with pytest.raises(ValueError, match="start_page"):
            client.iter_cases(start_page=0)
        with pytest.raises(ValueError, match="max_items"):
            client.iter_cases(max_items=0)
        with pytest.raises(TypeError, match="filter"):
            client.iter_cases({"status": ["open"]})  # type: ignore[call-overload]
        rows = [row async for row in client.iter_cases(model=NoId, dedupe=False)]
    assert len(rows) == 1000
    assert server.stats.requests == 20


async def test_server_ignoring_page_is_a_pagination_error_naming_skip() -> None:
    async with (
        FakeKoreServer(cases=300, paging="skip") as srv,
        client_for(srv, page_size=50) as client,
    ):
        with pytest.raises(PaginationError, match="paging='skip'"):
            await pull_ids(client)
    async with (
        FakeKoreServer(cases=300, paging="skip") as srv,
        client_for(srv, page_size=50, paging="skip") as client,
    ):
        assert await pull_ids(client) == srv.case_ids()
        assert {r.skip for r in srv.request_log} == {0, 50, 100, 150, 200, 250}


async def test_stats_count_what_happened() -> None:
    async with (
        FakeKoreServer(cases=500) as srv,
        # A rate limit with room to spare, unpaced: no request should count as having waited.
        client_for(
            srv, page_size=50, concurrency=2, rate_limit=RateLimit((1000, 60.0), burst=None)
        ) as client,
    ):
        srv.schedule_faults(3, "503")
        cases = client.iter_cases()
        assert cases.total_results is None
        ids = [case.id async for case in cases]
        assert cases.total_results == 500
        assert cases.stats.rate_limit_waits == 0
        assert len(ids) == 500
        stats = cases.stats
        assert (stats.pages, stats.cases, stats.requests, stats.retries) == (10, 500, 11, 1)
        assert stats.elapsed > 0
        assert stats.cases_per_second > 0
        assert cases.resume_page == 11


async def test_iterator_before_open_and_after_close_explains() -> None:
    async with FakeKoreServer(cases=10) as srv:
        client = client_for(srv)
        with pytest.raises(RuntimeError, match="async with"):
            client.iter_cases()
        async with client:
            pass
        with pytest.raises(ClientClosedError, match="closed"):
            client.iter_cases()


async def assert_stopped(server: FakeKoreServer) -> None:
    """No page fetch is left running, and the server gets no request from now on."""
    assert _other_tasks() == []
    await asyncio.sleep(0.05)  # requests already on the wire may still arrive
    requests = server.stats.requests
    await asyncio.sleep(0.3)
    assert server.stats.requests == requests


def _other_tasks() -> list[asyncio.Task[Any]]:
    """The page fetches still running (the server's own tasks are not ours to judge)."""
    return [
        t
        for t in asyncio.all_tasks()
        if not t.done() and getattr(t.get_coro(), "__qualname__", "") == "prefetch"
    ]


async def test_a_rate_slot_stays_taken_until_a_window_after_the_response() -> None:
    # Responses (0.25 s) take longer
    # than the window (0.15 s); a limiter that freed slots one window after the *send*
    # would let the next burst arrive inside the server's window and earn 429s.
    async with (
        FakeKoreServer(cases=300, rate_limits=[(3, 0.15)], latency=0.25, seed=1) as srv,
        client_for(srv, page_size=50, concurrency=6, rate_limit=RateLimit((3, 0.15))) as client,
    ):
        ids = await pull_ids(client)
        assert ids == srv.case_ids()
        assert srv.stats.rate_limited == 0
