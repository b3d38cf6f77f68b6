"""RateLimit (configuration) and RateLimiter (sliding windows, driven by a fake clock).

The limiter reads time from the injected clock but sleeps with anyio's real clock, so
these tests either move the fake clock *before* asking for a slot (then the answer is
immediate or the probe times out at once), or use windows of a few hundredths of a
second where the limiter really has to sleep.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from kore_cases import RateLimit
from kore_cases._ratelimit import DEFAULT_RATE_LIMIT, RateLimiter


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def acquired_now(limiter: RateLimiter, within: float = 0.02) -> bool:
    """Try to take a slot; give up (and take nothing) after ``within`` real seconds."""
    with anyio.move_on_after(within):
        await limiter.acquire()
        return True
    return False


class Waiter:
    """A task blocked in ``acquire``; ``done`` and ``waited`` tell when it got through."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self.through = anyio.Event()
        self.waited: float | None = None

    @property
    def done(self) -> bool:
        return self.through.is_set()

    async def run(self) -> None:
        self.waited = await self.limiter.acquire()
        self.through.set()


# -- RateLimit --------------------------------------------------------------------------


def test_default_is_kores_documented_limit() -> None:
    assert RateLimit((600, 60.0), (18000, 3600.0)) == DEFAULT_RATE_LIMIT
    assert DEFAULT_RATE_LIMIT.windows == ((600, 60.0), (18000, 3600.0))


def test_windows_are_normalised() -> None:
    limit = RateLimit((10, 1))
    assert limit.windows == ((10, 1.0),)
    assert isinstance(limit.windows[0][1], float)


@pytest.mark.parametrize(
    ("windows", "error", "match"),
    [
        ((), ValueError, "at least one"),
        (((0, 1.0),), ValueError, "max_requests"),
        (((-1, 1.0),), ValueError, "max_requests"),
        (((1.5, 1.0),), ValueError, "max_requests"),
        (((True, 1.0),), ValueError, "max_requests"),
        ((("10", 1.0),), ValueError, "max_requests"),
        (((1, 0),), ValueError, "seconds"),
        (((1, -1.0),), ValueError, "seconds"),
        (((1, float("nan")),), ValueError, "seconds"),
        (((1, float("inf")),), ValueError, "seconds"),
        (((1, "60"),), ValueError, "seconds"),
        (((1, True),), ValueError, "seconds"),
        (([1, 1.0],), TypeError, "tuple"),
        (((1,),), TypeError, "tuple"),
        (((1, 1.0, 1),), TypeError, "tuple"),
        ((600,), TypeError, "tuple"),
    ],
)
def test_rate_limit_validation(
    windows: tuple[Any, ...], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        RateLimit(*windows)


def test_repr_round_trips() -> None:
    one = RateLimit((600, 60.0))
    two = RateLimit((600, 60.0), (18000, 3600.0))
    assert repr(one) == "RateLimit((600, 60.0))"
    assert repr(two) == "RateLimit((600, 60.0), (18000, 3600.0))"
    assert eval(repr(one), {"RateLimit": RateLimit}) == one
    assert eval(repr(two), {"RateLimit": RateLimit}) == two


def test_equality_and_hash() -> None:
    assert RateLimit((600, 60)) == RateLimit((600, 60.0))
    assert hash(RateLimit((600, 60))) == hash(RateLimit((600, 60.0)))
    assert RateLimit((600, 60.0)) != RateLimit((601, 60.0))
    assert RateLimit((600, 60.0)) != RateLimit((600, 60.0), (18000, 3600.0))
    assert RateLimit((600, 60.0)) != ((600, 60.0),)
    assert len({RateLimit((1, 1.0)), RateLimit((1, 1))}) == 1


# -- RateLimiter -------------------------------------------------------------------------


async def test_n_acquires_pass_immediately() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit((3, 60.0)), clock=clock)
    with anyio.fail_after(0.5):
        waits = [await limiter.acquire() for _ in range(3)]
    assert waits == [0.0, 0.0, 0.0]
    assert not await acquired_now(limiter)


async def test_extra_request_waits_for_a_release_while_all_are_in_flight() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit((2, 0.05)), clock=clock)
    await limiter.acquire()
    await limiter.acquire()
    waiter = Waiter(limiter)
    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter.run)
        await anyio.sleep(0.01)  # the waiter asks at t=0
        # Both requests are still in flight: no amount of time frees a slot.
        clock.advance(1000.0)
        await anyio.sleep(0.05)
        assert not waiter.done
        # A response came back at t=1000: its slot frees at t=1000.05, not before.
        limiter.release()
        await anyio.sleep(0.08)
        assert not waiter.done
        clock.advance(0.049)
        await anyio.sleep(0.08)
        assert not waiter.done
        clock.advance(0.001)
        with anyio.fail_after(0.5):
            await waiter.through.wait()
    assert waiter.waited == pytest.approx(1000.05)


async def test_waiter_is_woken_by_a_release() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit((1, 0.01)), clock=clock)
    await limiter.acquire()
    waiter = Waiter(limiter)
    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter.run)
        await anyio.sleep(0.02)
        assert not waiter.done
        clock.advance(5.0)
        limiter.release()
        clock.advance(0.01)
        with anyio.fail_after(0.5):
            await waiter.through.wait()


async def test_slot_stays_taken_for_a_window_after_its_release() -> None:
    # The server counts a request when it arrives, late in its flight: a slot must
    # stay taken for a whole window after the response, not after the send.
    clock = FakeClock()
    limiter = RateLimiter(RateLimit((1, 10.0)), clock=clock)
    await limiter.acquire()  # sent at t=0
    clock.advance(30.0)  # a slow request: three windows after its send
    limiter.release()  # answered at t=30
    assert not await acquired_now(limiter)
    clock.advance(9.99)
    assert not await acquired_now(limiter)
    clock.advance(0.01)  # t=40: one window after the answer
    assert await acquired_now(limiter)


async def test_released_slots_free_one_by_one() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit((3, 10.0)), clock=clock)
    for _ in range(3):
        await limiter.acquire()
    for _ in range(3):
        limiter.release()
        clock.advance(1.0)
    # Released at t=0, 1, 2: free again at t=10, 11, 12.
    clock.now = 9.5
    assert not await acquired_now(limiter)
    clock.now = 10.0
    assert await acquired_now(limiter)
    assert not await acquired_now(limiter)
    clock.now = 11.0
    assert await acquired_now(limiter)
    clock.now = 12.0
    assert await acquired_now(limiter)
    assert not await acquired_now(limiter)


async def test_two_windows_hold_at_once() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit((2, 1.0), (3, 10.0)), clock=clock)
    for _ in range(2):
        await limiter.acquire()
        limiter.release()
    # t=0: the 1 s window is full.
    assert not await acquired_now(limiter)
    clock.now = 1.0
    assert await acquired_now(limiter)
    limiter.release()
    # t=2: the 1 s window is empty but the 10 s window holds 3 (free at 10, 10, 11).
    clock.now = 2.0
    assert not await acquired_now(limiter)
    clock.now = 9.99
    assert not await acquired_now(limiter)
    clock.now = 10.0
    assert await acquired_now(limiter)
    assert await acquired_now(limiter)
    # Now 2 in flight: the 1 s window is full again although the 10 s one has room.
    assert not await acquired_now(limiter)


async def test_finite_wait_is_slept_out() -> None:
    # With a clock that runs with real time, the limiter must wake up by itself.
    started = anyio.current_time()
    limiter = RateLimiter(RateLimit((1, 0.05)), clock=anyio.current_time)
    await limiter.acquire()
    limiter.release()
    with anyio.fail_after(0.5):
        waited = await limiter.acquire()
    elapsed = anyio.current_time() - started
    assert 0.04 <= waited <= 0.3
    assert elapsed >= 0.045


async def test_cancelled_waiter_takes_no_slot() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit((1, 10.0)), clock=clock)
    await limiter.acquire()
    assert not await acquired_now(limiter)  # cancelled while waiting
    limiter.release()
    clock.advance(10.0)
    # Had the cancelled waiter kept a slot, this would block.
    assert await acquired_now(limiter)


async def test_waiters_are_served_first_come_first_served() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit((1, 0.01)), clock=clock)
    await limiter.acquire()
    send, receive = anyio.create_memory_object_stream[int](3)

    async def take(n: int) -> None:
        await limiter.acquire()
        await send.send(n)

    order: list[int] = []
    with anyio.fail_after(1.0), send, receive:
        async with anyio.create_task_group() as tg:
            for n in range(3):
                tg.start_soon(take, n)
                await anyio.sleep(0.005)  # they queue up in this order
            for _ in range(3):
                limiter.release()
                clock.advance(0.02)  # the released slot's window has passed
                order.append(await receive.receive())
    assert order == [0, 1, 2]
