"""Throttle: the concurrency cap, AIMD on 429s, the shared pause, and the rate windows."""

from __future__ import annotations

import anyio
import pytest

from kore_cases import RateLimit
from kore_cases._throttle import Throttle, Turn


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


_held: dict[Throttle, list[Turn]] = {}


async def take(throttle: Throttle) -> float:
    """Enter a turn and keep it, as a request in flight does; return the seconds waited."""
    turn = throttle.turn()
    await turn.__aenter__()
    _held.setdefault(throttle, []).append(turn)
    return turn.waited


async def give_back(throttle: Throttle) -> None:
    """End the oldest turn kept by :func:`take`, as the answer to its request does."""
    await _held[throttle].pop(0).__aexit__(None, None, None)


async def acquired_now(throttle: Throttle, within: float = 0.02) -> bool:
    """Try to take a turn; give up (taking nothing) after ``within`` real seconds."""
    with anyio.move_on_after(within):
        await take(throttle)
        return True
    return False


# -- concurrency cap ------------------------------------------------------------------


async def test_concurrency_cap() -> None:
    throttle = Throttle(2, None, clock=FakeClock())
    with anyio.fail_after(0.5):
        assert await take(throttle) == 0.0
        assert await take(throttle) == 0.0
    assert throttle.active == 2
    assert not await acquired_now(throttle)
    assert throttle.active == 2  # the cancelled attempt took nothing
    await give_back(throttle)
    assert throttle.active == 1
    assert await acquired_now(throttle)
    assert throttle.active == 2


async def test_waiter_is_admitted_when_a_turn_ends() -> None:
    throttle = Throttle(1, None, clock=FakeClock())
    await take(throttle)
    admitted = anyio.Event()

    async def second() -> None:
        await take(throttle)
        admitted.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(second)
        await anyio.sleep(0.02)
        assert not admitted.is_set()
        await give_back(throttle)
        with anyio.fail_after(0.5):
            await admitted.wait()
    assert throttle.active == 1


async def test_many_tasks_never_exceed_the_cap() -> None:
    throttle = Throttle(3, None, clock=FakeClock())
    peak = 0

    async def work() -> None:
        nonlocal peak
        async with throttle.turn():
            peak = max(peak, throttle.active)
            await anyio.sleep(0.005)

    with anyio.fail_after(2.0):
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(work)
    assert peak == 3
    assert throttle.active == 0


# -- AIMD -----------------------------------------------------------------------------


def test_rate_limited_halves_once_per_burst() -> None:
    clock = FakeClock()
    throttle = Throttle(8, None, clock=clock)
    throttle.on_rate_limited(2.0)
    assert throttle.limit == 4.0
    # More 429s of the same burst (before the pause ends) do not halve again.
    clock.now = 0.5
    throttle.on_rate_limited(2.0)
    clock.now = 1.9
    throttle.on_rate_limited(None)
    assert throttle.limit == 4.0
    # The pause has passed: a new 429 is a new burst.
    clock.now = 10.0
    throttle.on_rate_limited(1.0)
    assert throttle.limit == 2.0


def test_rate_limited_floor_is_one() -> None:
    clock = FakeClock()
    throttle = Throttle(3, None, clock=clock)
    for n in range(6):
        clock.now = n * 100.0
        throttle.on_rate_limited(1.0)
    assert throttle.limit == 1.0


def test_success_adds_one_over_limit_up_to_max() -> None:
    clock = FakeClock()
    throttle = Throttle(4, None, clock=clock)
    throttle.on_rate_limited(1.0)
    clock.now = 10.0
    throttle.on_rate_limited(1.0)
    assert throttle.limit == 1.0
    throttle.on_success()
    assert throttle.limit == 2.0
    throttle.on_success()
    assert throttle.limit == 2.5
    throttle.on_success()
    assert throttle.limit == pytest.approx(2.9)
    for _ in range(100):
        throttle.on_success()
    assert throttle.limit == 4.0


def test_success_at_full_concurrency_changes_nothing() -> None:
    throttle = Throttle(5, None, clock=FakeClock())
    throttle.on_success()
    assert throttle.limit == 5.0


async def test_halved_limit_caps_concurrency() -> None:
    clock = FakeClock()
    throttle = Throttle(4, None, clock=clock)
    throttle.on_rate_limited(1.0)
    clock.now = 5.0  # the pause is over; the lower limit stays
    assert await acquired_now(throttle)
    assert await acquired_now(throttle)
    assert not await acquired_now(throttle)
    for _ in range(2):
        throttle.on_success()  # 2 -> 2.5 -> 2.9: still 2 turns
    assert not await acquired_now(throttle)
    throttle.on_success()  # -> ~3.24
    assert await acquired_now(throttle)


# -- pause ----------------------------------------------------------------------------


def test_pause_lasts_retry_after_or_a_default() -> None:
    clock = FakeClock(100.0)
    throttle = Throttle(4, None, clock=clock)
    throttle.on_rate_limited(None)
    assert throttle._pause_until == 101.0
    throttle.on_rate_limited(5.0)
    assert throttle._pause_until == 105.0
    throttle.on_rate_limited(0.5)  # a shorter wait never shortens the pause
    assert throttle._pause_until == 105.0


async def test_pause_delays_acquire() -> None:
    clock = FakeClock()
    throttle = Throttle(4, None, clock=clock)
    throttle.on_rate_limited(0.05)
    started = anyio.current_time()
    with anyio.fail_after(0.5):
        waited = await take(throttle)
    assert anyio.current_time() - started >= 0.045
    assert waited == pytest.approx(0.05)
    await give_back(throttle)


async def test_no_pause_once_it_has_passed() -> None:
    clock = FakeClock()
    throttle = Throttle(4, None, clock=clock)
    throttle.on_rate_limited(60.0)
    assert not await acquired_now(throttle)
    clock.now = 60.0
    with anyio.fail_after(0.1):
        assert await take(throttle) == 0.0


async def test_cancelled_during_pause_gives_the_turn_back() -> None:
    clock = FakeClock()
    throttle = Throttle(1, None, clock=clock)
    throttle.on_rate_limited(60.0)
    assert not await acquired_now(throttle)
    assert throttle.active == 0
    clock.now = 61.0
    assert await acquired_now(throttle)


# -- rate windows ---------------------------------------------------------------------


async def test_rate_windows_apply() -> None:
    clock = FakeClock()
    throttle = Throttle(10, RateLimit((2, 60.0)), clock=clock)
    assert await acquired_now(throttle)
    assert await acquired_now(throttle)
    assert not await acquired_now(throttle)
    assert throttle.active == 2  # the cancelled attempt gave its turn back
    await give_back(throttle)
    await give_back(throttle)
    clock.now = 59.0
    assert not await acquired_now(throttle)
    clock.now = 60.0
    assert await acquired_now(throttle)


async def test_rate_wait_is_reported() -> None:
    throttle = Throttle(10, RateLimit((1, 0.05)), clock=anyio.current_time)
    await take(throttle)
    await give_back(throttle)
    with anyio.fail_after(0.5):
        waited = await take(throttle)
    assert 0.04 <= waited <= 0.3


async def test_retry_after_zero_means_no_pause() -> None:
    # "Retry-After: 0" (or an HTTP date already past) names a wait of zero; the
    # 1 s default pause is for a 429 that names no Retry-After at all.
    clock = FakeClock()
    throttle = Throttle(4, None, clock=clock)
    throttle.on_rate_limited(0.0)
    assert throttle.limit == 2.0
    assert await acquired_now(throttle)


# -- turns ----------------------------------------------------------------------------


async def test_a_turn_is_given_back_when_its_body_raises() -> None:
    throttle = Throttle(1, None, clock=FakeClock())
    with pytest.raises(RuntimeError):
        async with throttle.turn():
            assert throttle.active == 1
            raise RuntimeError("the request failed")
    assert throttle.active == 0
    assert await acquired_now(throttle)


async def test_a_turn_reports_its_outcome_when_it_ends() -> None:
    clock = FakeClock()
    throttle = Throttle(4, None, clock=clock)
    async with throttle.turn() as turn:
        turn.rate_limited(5.0)
        assert throttle.limit == 4.0  # nothing changes while the turn is running
    assert throttle.limit == 2.0
    assert throttle._pause_until == 5.0
    clock.now = 10.0
    async with throttle.turn() as turn:
        turn.succeeded()
    assert throttle.limit == 2.5
