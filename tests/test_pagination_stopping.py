"""Stopping a pull, and what its counters and ``resume_page`` say at any point.

Leaving a pull early must stop its requests: each one spends the account's budget of
60 a minute, shared with its other services.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpers import client_for, pull_ids, until
from paging_server import PagingServer, client

from kore_cases import RateLimit, ServerError
from kore_cases.testing import FakeKoreServer


def prefetch_tasks() -> list[asyncio.Task[Any]]:
    """The page fetches of kore_cases still running."""
    return [
        t
        for t in asyncio.all_tasks()
        if not t.done()
        and getattr(t.get_coro(), "__qualname__", "") == "prefetch"
        and "kore_cases" in getattr(getattr(t.get_coro(), "cr_code", None), "co_filename", "")
    ]


class TestLeavingALoop:
    @pytest.mark.parametrize("kind", ["cases", "pages"])
    async def test_break_out_of_a_named_iterator_sends_no_more_requests(self, kind: str) -> None:
        """Two requests a second: page 3 waits for the budget when the loop is left.

        The named iterator outlives the loop, so nothing collects it; its prefetch of
        page 3 went out a second later all the same."""
        server = PagingServer.of(30)
        async with (
            server.running() as url,
            client(url, page_size=10, concurrency=2, rate_limit=RateLimit((2, 1.0))) as c,
        ):
            pulled: Any = c.iter_cases() if kind == "cases" else c.iter_pages()
            async for item in pulled:
                first = [item]
                break
            await asyncio.sleep(1.5)
            assert len(server.bodies) <= 2, server.pages_asked
            # The iterator is not closed: iterating again carries on where it was.
            got = first + [item async for item in pulled]
        if kind == "pages":
            got = [case for page in got for case in page.results]
        assert [case.id for case in got] == server.ids()

    async def test_cancelling_the_consumer_during_a_reread_cancels_the_reread_fetches(self) -> None:
        async with (
            FakeKoreServer(cases=1000, latency=0.3, seed=2) as srv,
            client_for(srv, page_size=50, concurrency=4) as client,
        ):
            srv.add_cases_after(requests=2, count=10)  # page 2 onward see 1010: re-read 1-2
            consumer = asyncio.create_task(pull_ids(client))
            # Requests 6 and 7 are the re-read of pages 1 and 2 (0.3 s each).
            await until(lambda: len(srv.request_log) >= 7)
            await asyncio.sleep(0.05)
            consumer.cancel()
            with pytest.raises(asyncio.CancelledError):
                await consumer
            await asyncio.sleep(0.05)
            assert prefetch_tasks() == [], "re-read fetches still run after the pull was cancelled"
            assert srv.stats.in_flight == 0

    async def test_a_failed_reread_page_cancels_the_other_reread_fetches(self) -> None:
        async with (
            FakeKoreServer(cases=1000, latency=0.2, seed=2, slow_seconds=2.0) as srv,
            client_for(srv, page_size=50, concurrency=4, max_retries=0) as client,
        ):
            srv.add_cases_after(requests=2, count=10)  # page 2 onward see 1010: re-read 1-2
            consumer = asyncio.create_task(pull_ids(client))
            # Once pages 1-5 have arrived (and taken their faults: none), the next page 1
            # and page 2 requests are the re-read: page 1 fails, page 2 stalls.
            await until(lambda: len(srv.request_log) >= 5)
            srv.schedule_faults(1, "500")
            srv.schedule_faults(2, "slow")
            with pytest.raises(ServerError) as caught:
                await consumer
            assert caught.value.page == 1
            await asyncio.sleep(0.05)
            assert prefetch_tasks() == [], "the stalled re-read of page 2 was left running"
            assert srv.stats.in_flight == 0


class TestResumePage:
    async def test_mid_page_it_never_skips_an_earlier_page_not_yielded(self) -> None:
        """Page 2 is slow, pages 3-6 arrive first and are yielded (ordered=False).

        Mid-way through page 3, ``cases.resume_page`` answers 3 (the current page) although
        page 2 has not been yielded at all: a checkpoint taken there loses page 2.
        """
        async with (
            FakeKoreServer(cases=300, seed=5, slow_seconds=0.6) as srv,
            client_for(srv, page_size=50, concurrency=4) as client,
        ):
            srv.schedule_faults(2, "slow")
            got: list[str] = []
            cases = client.iter_cases(ordered=False)
            async for case in cases:
                got.append(case.id)
                if len(got) == 51:  # page 1, then the first case of a page after page 2
                    break
            resume = cases.resume_page
            page_of_last = srv.case_ids().index(got[-1]) // 50 + 1
            await cases.aclose()
            assert page_of_last > 2
            assert resume <= 2, f"resume_page={resume}, but page 2 was never yielded"
            rest = await pull_ids(client, start_page=resume, ordered=False)
            assert set(srv.case_ids()) <= set(got) | set(rest)

    async def test_skip_paging_counts_pages_of_the_clamped_limit(self) -> None:
        """resume_page counts pages of the server's (clamped) limit, but the first request
        of the resumed pull computes ``skip`` from ``page_size``."""
        async with (
            FakeKoreServer(cases=500, paging="skip", max_page_size=100, seed=1) as srv,
            client_for(srv, page_size=500, paging="skip", max_retries=0) as client,
        ):
            srv.schedule_faults(3, "500")
            got: list[str] = []
            with pytest.raises(ServerError) as caught:
                async for case in client.iter_cases():
                    got.append(case.id)
            assert caught.value.resume_page == 3
            assert got == srv.case_ids()[:200]
            rest = await pull_ids(client, start_page=caught.value.resume_page)
            assert got + rest == srv.case_ids()


class TestStats:
    async def test_cases_counts_the_cases_yielded_not_the_pages_taken(self) -> None:
        server = PagingServer.of(120)
        async with server.running() as url, client(url, page_size=50, concurrency=2) as c:
            cases = c.iter_cases()
            async for _case in cases:
                break
            assert cases.stats.cases == 1
            assert cases.stats.pages == 1
            await cases.__anext__()
            assert cases.stats.cases == 2
            await cases.aclose()
            capped = c.iter_cases(max_items=70)
            assert len([case async for case in capped]) == 70
            assert capped.stats.cases == 70
            whole = c.iter_cases()
            assert len([case async for case in whole]) == 120
            assert whole.stats.cases == 120
            pages = c.iter_pages()
            assert sum([len(page.results) async for page in pages]) == 120
            assert pages.stats.cases == 120
