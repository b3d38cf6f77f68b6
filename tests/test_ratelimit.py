"""RateLimit (configuration) and Budget (windows, pacing, 429 pauses, learning): pure, no clock.

Every Budget method takes the time, so these tests say "at t=…" and need no sleeping.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from kore_cases import RateLimit
from kore_cases._ratelimit import DEFAULT_RATE_LIMIT, Budget

# -- RateLimit --------------------------------------------------------------------------


def test_default_is_kores_documented_case_management_limit() -> None:
    # "Case Management - API Rate Limits": 60 requests per minute per account.
    assert RateLimit((60, 60.0)) == DEFAULT_RATE_LIMIT
    assert DEFAULT_RATE_LIMIT.windows == ((60, 60.0),)
    assert DEFAULT_RATE_LIMIT.burst is not None  # spread evenly after a short burst
    assert DEFAULT_RATE_LIMIT.interval == 1.0
    assert DEFAULT_RATE_LIMIT.store is None


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


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"burst": 0}, ValueError, "burst"),
        ({"burst": True}, ValueError, "burst"),
        ({"burst": 1.5}, ValueError, "burst"),
        ({"store": "http://cache:6379"}, ValueError, "Redis or Valkey URL"),
        ({"store": 6379}, TypeError, "store"),
    ],
)
def test_options_are_checked(options: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        RateLimit((60, 60.0), **options)


def test_a_store_password_never_shows() -> None:
    limit = RateLimit((60, 60.0), store="redis://user:s3cret@cache:6379/0")
    assert "s3cret" not in repr(limit)
    assert "redis://user:***@cache:6379/0" in repr(limit)
    with pytest.raises(ValueError, match="Redis") as caught:
        RateLimit((60, 60.0), store="http://:s3cret@cache:6379")
    assert "s3cret" not in str(caught.value)


def test_repr_round_trips() -> None:
    one = RateLimit((600, 60.0))
    two = RateLimit((600, 60.0), (18000, 3600.0))
    assert repr(one) == "RateLimit((600, 60.0))"
    assert repr(two) == "RateLimit((600, 60.0), (18000, 3600.0))"
    assert eval(repr(one), {"RateLimit": RateLimit}) == one
    assert eval(repr(two), {"RateLimit": RateLimit}) == two
    unpaced = RateLimit((60, 60.0), burst=None)
    assert repr(unpaced) == "RateLimit((60, 60.0), burst=None)"
    assert eval(repr(unpaced), {"RateLimit": RateLimit}) == unpaced


def test_equality_and_hash() -> None:
    assert RateLimit((600, 60)) == RateLimit((600, 60.0))
    assert hash(RateLimit((600, 60))) == hash(RateLimit((600, 60.0)))
    assert RateLimit((600, 60.0)) != RateLimit((601, 60.0))
    assert RateLimit((600, 60.0)) != RateLimit((600, 60.0), (18000, 3600.0))
    assert RateLimit((600, 60.0)) != ((600, 60.0),)
    assert len({RateLimit((1, 1.0)), RateLimit((1, 1))}) == 1
    assert RateLimit((60, 60.0)) != RateLimit((60, 60.0), burst=None)
    assert RateLimit((60, 60.0)) != RateLimit((60, 60.0), store="redis://localhost")


# -- Budget: windows ----------------------------------------------------------------------


def unpaced(*windows: tuple[int, float]) -> Budget:
    return Budget(RateLimit(*windows, burst=None))


def test_n_requests_go_at_once() -> None:
    budget = unpaced((3, 60.0))
    for _ in range(3):
        assert budget.wait(0.0) == 0.0
        budget.take(0.0)
    assert budget.wait(0.0) == math.inf  # only an answer can free a slot


def test_slot_stays_taken_for_a_window_after_its_answer() -> None:
    # Kore counts arrival, after the send: a slot freed one window after the *send*
    # would let the next burst land inside the server's window.
    budget = unpaced((1, 10.0))
    sent = budget.take(0.0)
    assert budget.wait(30.0) == math.inf  # still in flight
    budget.release(30.0, sent)
    assert budget.wait(30.0) == 10.0
    assert budget.wait(39.9) == pytest.approx(0.1)
    assert budget.wait(40.0) == 0.0


def test_answered_slots_free_one_by_one() -> None:
    budget = unpaced((3, 10.0))
    for t in (0.0, 1.0, 2.0):
        budget.release(t, budget.take(t))
    assert budget.wait(5.0) == 5.0
    assert budget.wait(10.0) == 0.0
    budget.take(10.0)
    assert budget.wait(10.0) == 1.0


def test_every_window_holds() -> None:
    budget = unpaced((2, 1.0), (3, 10.0))
    for _ in range(2):
        budget.release(0.0, budget.take(0.0))
    assert budget.wait(0.5) == 0.5  # the short window is full until t=1
    budget.release(1.0, budget.take(1.0))
    assert budget.wait(2.0) == 8.0  # the short window has room; the long one until t=10


def test_a_request_never_sent_frees_its_slot_at_once() -> None:
    budget = unpaced((1, 10.0))
    budget.take(0.0)
    budget.cancel()
    assert budget.wait(0.0) == 0.0


# -- Budget: pacing -----------------------------------------------------------------------


def test_a_short_burst_then_one_request_per_slot() -> None:
    budget = Budget(RateLimit((60, 60.0), burst=3))
    sends = []
    t = 0.0
    while len(sends) < 8:
        t += budget.wait(t)
        budget.take(t)
        sends.append(t)
    assert sends == [0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_pacing_follows_the_strictest_window() -> None:
    assert RateLimit((60, 60.0), (600, 3600.0)).interval == 6.0
    budget = Budget(RateLimit((60, 60.0), (600, 3600.0), burst=1))
    budget.take(0.0)
    assert budget.wait(0.0) == 6.0


def test_the_burst_comes_back_only_once_the_window_empties() -> None:
    budget = Budget(RateLimit((10, 10.0), burst=2))
    for t in (0.0, 0.0):
        budget.release(t, budget.take(t))
    assert budget.wait(0.0) == 1.0
    assert budget.wait(10.0) == 0.0  # both answered slots have left the window
    budget.take(10.0)
    assert budget.wait(10.0) == 0.0


# -- Budget: 429 --------------------------------------------------------------------------


def test_429_without_retry_after_waits_for_the_oldest_known_request() -> None:
    budget = unpaced((60, 60.0))
    for t in (10.0, 20.0):
        budget.release(t + 0.1, budget.take(t))
    sent = budget.take(30.0)
    budget.release(30.1, sent, answered=False)
    # The request sent at t=10 leaves the server's window at t=70 (its slot here at 70.1).
    assert budget.rate_limited(30.1, None) == pytest.approx(39.9)
    assert budget.wait(30.1) == pytest.approx(40.0)
    assert budget.learned_max_requests == 2


def test_429_with_nothing_known_waits_a_whole_window() -> None:
    assert unpaced((60, 60.0)).rate_limited(5.0, None) == 60.0
    # With no limit configured, Kore's documented 60 s window is the guess.
    assert Budget(None).rate_limited(5.0, None) == 60.0
    assert Budget(None, assumed_window=3.0).rate_limited(5.0, None) == 3.0


def test_retry_after_is_trusted_and_a_pause_never_shortens() -> None:
    budget = Budget(None)
    assert budget.rate_limited(0.0, 5.0) == 5.0
    assert budget.rate_limited(1.0, 0.5) == 4.0
    assert budget.wait(1.0) == 4.0
    assert budget.wait(5.0) == 0.0


def test_hourly_limit_pauses_for_an_hour() -> None:
    assert Budget(None).rate_limited(0.0, None, hourly=True) == 3600.0


def test_429_teaches_the_room_the_window_had() -> None:
    # Someone unseen spends half the account: 5 of our requests fit in the window.
    budget = Budget(None, assumed_window=10.0)
    for t in range(5):
        budget.release(t + 0.1, budget.take(float(t)))
    budget.release(5.1, budget.take(5.0), answered=False)
    assert budget.rate_limited(5.1, None) == pytest.approx(4.9)
    assert budget.learned_max_requests == 5
    assert budget.interval == 2.0  # paced evenly over the window
    # More 429s of the same burst teach nothing new.
    budget.rate_limited(5.2, None)
    assert budget.learned_max_requests == 5
    # A later burst: one fewer.
    assert budget.wait(20.0) == 0.0
    budget.release(20.1, budget.take(20.0), answered=False)
    budget.rate_limited(20.1, None)
    assert budget.learned_max_requests == 1  # only 1 answered request in the window: at most that


def test_learned_max_requests_grows_back_one_a_window_to_the_configured_one() -> None:
    budget = Budget(RateLimit((3, 10.0), burst=None))
    budget.release(0.1, budget.take(0.0))
    budget.release(0.3, budget.take(0.2), answered=False)
    budget.rate_limited(0.3, None)
    assert budget.learned_max_requests == 1
    budget.wait(10.3)
    assert budget.learned_max_requests == 2
    budget.wait(20.3)
    assert budget.learned_max_requests is None  # back to the configured 3
