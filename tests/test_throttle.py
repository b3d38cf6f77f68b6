"""Throttle: the budget first, then the concurrency cap, AIMD on 429 pauses, and turns."""

from __future__ import annotations

import anyio
import pytest
from helpers import FakeClock, until

from kore_cases import RateLimit, RateLimiter
from kore_cases._throttle import Throttle, Turn


def throttle_of(concurrency: int, rate_limit: RateLimit | None = None) -> Throttle:
    clock = FakeClock()
    return Throttle(concurrency, RateLimiter(rate_limit, clock=clock))


_held: dict[Throttle, list[Turn]] = {}


async def take(throttle: Throttle, *, interactive: bool = False) -> float:
    """Enter a turn and keep it, as a request in flight does; return the seconds waited."""
    turn = throttle.turn(interactive=interactive)
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
    throttle = throttle_of(2)
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


async def test_many_tasks_never_exceed_the_cap() -> None:
    throttle = throttle_of(3)
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


async def test_a_one_page_call_goes_before_waiting_prefetches() -> None:
    throttle = throttle_of(1)
    await take(throttle)
    order: list[str] = []

    async def call(name: str, interactive: bool) -> None:
        async with throttle.turn(interactive=interactive):
            order.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(call, "prefetch", False)
        await until(lambda: throttle._freed is not None)  # the prefetch waits for a place
        tg.start_soon(call, "count", True)
        await until(lambda: throttle._interactive_waiting == 1)
        await give_back(throttle)
    assert order == ["count", "prefetch"]


async def test_a_slot_is_given_back_when_the_place_never_came() -> None:
    throttle = throttle_of(1, RateLimit((2, 60.0), burst=None))
    await take(throttle)
    assert not await acquired_now(throttle)  # cancelled waiting for the concurrency place
    await give_back(throttle)
    # One slot of two was held for a window by the answered request, none by the other.
    assert await acquired_now(throttle)


# -- AIMD -----------------------------------------------------------------------------


def test_rate_limited_halves_down_to_one() -> None:
    throttle = throttle_of(8)
    for expected in (4.0, 2.0, 1.0, 1.0):
        throttle.on_rate_limited()
        assert throttle.allowed_concurrency == expected


def test_success_adds_one_over_limit_up_to_max() -> None:
    throttle = throttle_of(4)
    throttle.on_rate_limited()
    throttle.on_rate_limited()
    assert throttle.allowed_concurrency == 1.0
    throttle.on_success()
    assert throttle.allowed_concurrency == 2.0
    throttle.on_success()
    assert throttle.allowed_concurrency == 2.5
    throttle.on_success()
    assert throttle.allowed_concurrency == pytest.approx(2.9)
    for _ in range(100):
        throttle.on_success()
    assert throttle.allowed_concurrency == 4.0


async def test_halved_limit_caps_concurrency() -> None:
    throttle = throttle_of(4)
    throttle.on_rate_limited()
    assert await acquired_now(throttle)
    assert await acquired_now(throttle)
    assert not await acquired_now(throttle)
    for _ in range(2):
        throttle.on_success()  # 2 -> 2.5 -> 2.9: still 2 turns
    assert not await acquired_now(throttle)
    throttle.on_success()  # -> ~3.24
    assert await acquired_now(throttle)


# -- turns ----------------------------------------------------------------------------


async def test_a_turn_is_given_back_when_its_body_raises() -> None:
    throttle = throttle_of(1)
    with pytest.raises(RuntimeError):
        async with throttle.turn():
            assert throttle.active == 1
            raise RuntimeError("the request failed")
    assert throttle.active == 0
    assert await acquired_now(throttle)


async def test_a_429_turn_pauses_the_account_and_halves_once_per_pause() -> None:
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock)
    throttle = Throttle(4, limiter)
    await take(throttle)
    await take(throttle)
    for turn in _held[throttle]:  # two requests in flight, answered 429
        turn.rate_limited(5.0)
    await give_back(throttle)
    assert throttle.allowed_concurrency == 2.0
    await give_back(throttle)
    assert throttle.allowed_concurrency == 2.0  # the same pause: halved once
    assert limiter.budget.pause_until == 5.0
    assert not await acquired_now(throttle)
    clock.now = 10.0
    async with throttle.turn() as turn:
        turn.succeeded()
    assert throttle.allowed_concurrency == 2.5
