"""The account's budget shared by clients: sharing, priority, bounded waits, logging, stats."""

from __future__ import annotations

import asyncio
import logging
import math
import threading

import anyio
import pytest
from aiohttp import web
from helpers import FakeClock, client_for, pull_ids, serve, until

from kore_cases import (
    CaseFilter,
    CasesClient,
    JwtAuth,
    RateLimit,
    RateLimiter,
    RateLimitError,
    StaticToken,
    blocking,
)
from kore_cases._limiter import LOG_WAIT_AFTER, Answer, BudgetWaitTooLong, shared_limiter
from kore_cases.testing import FakeKoreServer

HOURLY = "You've exceeded the hourly rate limit. Please wait for sometime before retrying."


# -- sharing --------------------------------------------------------------------------


async def test_clients_of_one_account_share_one_limiter() -> None:
    limit = RateLimit((60, 60.0))
    one = shared_limiter("https://kore.example", "acc-1", limit)
    assert shared_limiter("https://kore.example", "acc-1", limit) is one
    assert shared_limiter("https://kore.example", "acc-2", limit) is not one
    assert shared_limiter("https://other.example", "acc-1", limit) is not one


async def test_one_host_spelled_two_ways_is_one_budget() -> None:
    limit = RateLimit((60, 60.0))
    one = shared_limiter("https://kore.example", "acc-spelling", limit)
    assert shared_limiter("https://KORE.example", "acc-spelling", limit) is one
    assert shared_limiter("https://kore.example:443", "acc-spelling", limit) is one
    assert shared_limiter("http://kore.example", "acc-spelling", limit) is not one
    assert shared_limiter("https://kore.example:8443", "acc-spelling", limit) is not one


async def test_two_clients_of_one_account_pulling_at_once_draw_no_429() -> None:
    window = (6, 0.5)  # Kore's shape, shrunk: 6 requests per rolling half second
    async with (
        FakeKoreServer(cases=600, rate_limits=[window], latency=0.002) as srv,
        client_for(srv, page_size=50, rate_limit=RateLimit(window)) as one,
        client_for(srv, page_size=50, rate_limit=RateLimit(window)) as two,
    ):
        results: list[list[str]] = []

        async def pull(client: object) -> None:
            results.append(await pull_ids(client))  # type: ignore[arg-type]

        async with anyio.create_task_group() as tg:
            tg.start_soon(pull, one)
            tg.start_soon(pull, two)
        assert results == [srv.case_ids(), srv.case_ids()]
        assert srv.stats.rate_limited == 0


async def test_a_blocking_client_beside_an_async_one_draws_no_429() -> None:
    # The blocking client runs its own event loop in a thread: same account, one budget.
    window = (6, 0.5)
    async with (
        FakeKoreServer(cases=300, rate_limits=[window], latency=0.002) as srv,
        client_for(srv, page_size=25, rate_limit=RateLimit(window)) as async_client,
    ):
        auth = JwtAuth(srv.client_id, srv.client_secret)
        options = {"page_size": 25, "rate_limit": RateLimit(window), "backoff_base": 0.0}

        def blocking_pull() -> list[str]:
            with blocking.CasesClient(
                srv.url, srv.stream_id, srv.account_id, auth, **options
            ) as client:
                return [case.id for case in client.iter_cases()]

        pulled: list[list[str]] = []

        async def in_a_thread() -> None:
            pulled.append(await anyio.to_thread.run_sync(blocking_pull))

        async with anyio.create_task_group() as tg:
            tg.start_soon(in_a_thread)
            pulled.append(await pull_ids(async_client))
        assert sorted(map(sorted, pulled)) == [sorted(srv.case_ids())] * 2
        assert srv.stats.rate_limited == 0


async def test_a_429_pauses_every_request_of_the_budget() -> None:
    budget = RateLimiter(None)
    slot = await budget.acquire()
    began = await budget.release(slot, Answer(counted=False, rate_limited=True, retry_after=0.3))
    assert began
    with pytest.raises(BudgetWaitTooLong) as caught:
        await budget.acquire(max_wait=0.05)
    assert 0.1 < caught.value.needed <= 0.3
    with anyio.fail_after(2.0):
        assert (await budget.acquire()).waited > 0.1


# -- priority -------------------------------------------------------------------------


async def test_one_page_calls_go_before_queued_prefetches() -> None:
    clock = FakeClock()
    budget = RateLimiter(RateLimit((1, 10.0), burst=None), clock=clock)

    first = await budget.acquire()
    await budget.release(first, Answer())
    order: list[str] = []

    async def request(name: str, interactive: bool) -> None:
        await budget.acquire(interactive=interactive)
        order.append(name)

    async with anyio.create_task_group() as tg:
        for n in range(3):
            tg.start_soon(request, f"prefetch {n}", False)
        await until(lambda: len(budget._bulk) == 3)  # the prefetches queue first
        tg.start_soon(request, "count", True)
        await until(lambda: len(budget._interactive) == 1)
        clock.now = 10.0  # the slot frees; only one request fits at a time
        budget._notify()
        await until(lambda: bool(order))
        await anyio.sleep(0.05)  # and no other goes after it
        assert order == ["count"]
        tg.cancel_scope.cancel()


async def test_count_during_a_saturating_pull_waits_at_most_one_request() -> None:
    window = (10, 1.0)  # one slot every 0.1 s once the burst is spent
    async with (
        FakeKoreServer(cases=2000, rate_limits=[window], latency=0.002) as srv,
        client_for(srv, page_size=20, rate_limit=RateLimit(window, burst=1)) as client,
    ):
        async with client.iter_cases() as cases:
            async for _ in cases:
                if cases.stats.pages == 12:  # the budget is the bottleneck by now
                    break_at = len(srv.request_log)
                    total = await client.count(CaseFilter())
                    break
        assert total == 2000
        log = srv.request_log[break_at:]
        asked = [i for i, r in enumerate(log) if r.limit == 1]
        assert len(asked) == 1
        # Requests of the pull that went between the count's call and its request: at
        # most the one already admitted when count() came.
        assert asked[0] <= 1
        assert srv.stats.rate_limited == 0


# -- bounded waits --------------------------------------------------------------------


async def test_max_rate_wait_fails_a_blocked_call_saying_what_it_needed() -> None:
    async with (
        FakeKoreServer(cases=10) as srv,
        client_for(srv, rate_limit=RateLimit((1, 60.0)), max_rate_wait=0.3) as client,
    ):
        await client.get_page()
        with anyio.fail_after(5.0), pytest.raises(RateLimitError) as caught:
            await client.get_page()
    message = str(caught.value)
    assert "max_rate_wait=0.3 s" in message
    assert "needed about 5" in message  # ~60 s: the first slot frees a window after its answer
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 50
    assert srv.stats.requests == 1  # nothing was sent past the budget


async def test_an_hourly_429_beyond_the_429_time_budget_fails_at_once() -> None:
    # Kore's other message: an hour's pause. Nothing shortens a pause, so waiting out
    # max_rate_limit_wait first would only delay the same RateLimitError.
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"errors": [{"msg": HOURLY, "code": 429}]}, status=429)

    async with serve(handler) as url:
        client = CasesClient(
            url, "st-1", "acc-hourly", StaticToken("tok"), max_rate_limit_wait=60.0
        )
        async with client:
            with anyio.fail_after(30.0), pytest.raises(RateLimitError) as caught:
                await client.get_page()
    assert caught.value.page == 1
    assert "max_rate_limit_wait=60 s" in str(caught.value)
    assert "needed about 3" in str(caught.value)  # ~3600 s


async def test_429s_saying_retry_after_0_neither_spin_nor_outlast_the_time_budget() -> None:
    # A hostile server: 429 with Retry-After: 0 forever. The pause trusts the header, so
    # only the retry backoff stands between the client and a tight loop, and the 429
    # time budget must end it even when nothing ever has to wait for the budget.
    sent = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal sent
        sent += 1
        body = {"errors": [{"msg": "slow down", "code": 429}]}
        return web.json_response(body, status=429, headers={"Retry-After": "0"})

    async with serve(handler) as url:
        client = CasesClient(
            url, "st-1", "acc-spin", StaticToken("tok"), rate_limit=None, max_rate_limit_wait=1.0
        )
        async with client:
            with anyio.fail_after(30.0), pytest.raises(RateLimitError) as caught:
                await client.get_page()
    assert caught.value.page == 1
    assert "max_rate_limit_wait=1 s" in str(caught.value)
    assert sent < 10  # backed off between the 429s, not hundreds a second


def test_max_rate_wait_is_checked() -> None:
    args = ("https://kore.example", "st-1", "acc", "token")
    with pytest.raises(ValueError, match="max_rate_wait"):
        CasesClient(*args, max_rate_wait=-1)
    with pytest.raises(ValueError, match="max_rate_limit_wait"):
        CasesClient(*args, max_rate_limit_wait=math.nan)


async def test_a_long_wait_is_logged_once_per_pause(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    budget = RateLimiter(RateLimit((1, 100.0), burst=None), clock=clock)

    await budget.release(await budget.acquire(), Answer())

    async def waiter() -> None:
        await budget.acquire()

    with caplog.at_level(logging.INFO, logger="kore_cases"):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            tg.start_soon(waiter)
            await until(lambda: len(budget._bulk) == 2)
            clock.now = LOG_WAIT_AFTER + 1
            budget._notify()
            await until(lambda: any("waited" in r.getMessage() for r in caplog.records))
            await anyio.sleep(0.05)  # and no second line for the same pause
            tg.cancel_scope.cancel()
    logged = [r.getMessage() for r in caplog.records if "waited" in r.getMessage()]
    assert len(logged) == 1
    assert "RateLimit((1, 100.0), burst=None)" in logged[0]
    assert "2 queued" in logged[0]


# -- stats ----------------------------------------------------------------------------


async def test_throttled_seconds_is_wall_time_not_a_sum_over_waiters() -> None:
    window = (4, 0.4)
    async with (
        FakeKoreServer(cases=600, rate_limits=[window]) as srv,
        client_for(srv, page_size=50, concurrency=8, rate_limit=RateLimit(window)) as client,
    ):
        cases = client.iter_cases()
        assert len([c async for c in cases]) == 600
    stats = cases.stats
    assert stats.requests == 12
    assert stats.rate_limit_waits > 0
    assert 0 < stats.throttled_seconds <= stats.elapsed


# -- event loops ------------------------------------------------------------------------


def test_an_accounts_budget_outlives_an_event_loop() -> None:
    # Two asyncio.run calls of one script (or pytest-asyncio's loop per test) are one
    # process: the second must still count the first one's requests of the window.
    limit = RateLimit((2, 60.0), burst=None)

    async def request() -> None:
        limiter = shared_limiter("https://kore.example", "acc-loops", limit)
        slot = await limiter.acquire(max_wait=0.2)
        await limiter.release(slot, Answer())

    asyncio.run(request())
    asyncio.run(request())
    with pytest.raises(BudgetWaitTooLong):
        asyncio.run(request())


def test_clients_in_two_threads_loops_share_one_budget_and_wake_each_other() -> None:
    # The blocking client runs its own loop in a thread, beside an async app's loop.
    limit = RateLimit((1, 0.3), burst=None)
    held = threading.Event()
    got: list[float] = []

    async def first() -> None:
        limiter = shared_limiter("https://kore.example", "acc-threads", limit)
        slot = await limiter.acquire()
        held.set()
        await asyncio.sleep(0.3)
        await limiter.release(slot, Answer())

    async def second() -> None:
        held.wait(10.0)
        limiter = shared_limiter("https://kore.example", "acc-threads", limit)
        slot = await limiter.acquire(max_wait=10.0)  # after the first's answer + a window
        got.append(slot.waited)
        await limiter.release(slot, Answer())

    thread = threading.Thread(target=asyncio.run, args=(first(),))
    thread.start()
    asyncio.run(second())
    thread.join(10.0)
    assert len(got) == 1
    assert got[0] >= 0.3 * 0.9  # it waited for the other loop's request
