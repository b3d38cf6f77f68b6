"""Backoff, jitter, Retry-After and which statuses are retried: pure functions."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

import pytest

from kore_cases._retry import RetryPolicy, is_retryable_status, parse_retry_after

NOW = datetime(2015, 10, 21, 7, 28, 0, tzinfo=timezone.utc)


# -- backoff ---------------------------------------------------------------------------


@pytest.mark.parametrize("retry", range(1, 9))
def test_backoff_bounds(retry: int) -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=8.0)
    ceiling = min(8.0, 0.5 * 2 ** (retry - 1))
    rng = random.Random(1234 + retry)
    waits = [policy.backoff(retry, rng=rng) for _ in range(500)]
    assert all(ceiling / 2 <= w <= ceiling for w in waits)
    # The jitter really spreads the waits over the band, not a fixed point.
    assert min(waits) < ceiling * 0.55
    assert max(waits) > ceiling * 0.95


class _Top(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


class _Bottom(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


def test_backoff_ceilings_with_defaults() -> None:
    policy = RetryPolicy()
    ceilings = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    for retry, ceiling in enumerate(ceilings, start=1):
        assert policy.backoff(retry, rng=_Top()) == pytest.approx(ceiling)
        assert policy.backoff(retry, rng=_Bottom()) == pytest.approx(ceiling / 2)


def test_backoff_is_reproducible_with_a_seed() -> None:
    policy = RetryPolicy()
    first = [policy.backoff(n, rng=random.Random(7)) for n in range(1, 6)]
    second = [policy.backoff(n, rng=random.Random(7)) for n in range(1, 6)]
    assert first == second


def test_backoff_zero_base_means_no_wait() -> None:
    policy = RetryPolicy(backoff_base=0)
    assert all(policy.backoff(n) == 0 for n in range(1, 9))


def test_backoff_max_caps_large_retries() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=3.0)
    rng = random.Random(0)
    assert all(policy.backoff(50, rng=rng) <= 3.0 for _ in range(100))


# -- delay -----------------------------------------------------------------------------


def test_delay_takes_a_longer_retry_after() -> None:
    policy = RetryPolicy(backoff_base=0.1, backoff_max=1.0)
    assert policy.delay(1, 5.0) == 5.0
    assert policy.delay(3, 30.0) == 30.0


def test_delay_keeps_the_backoff_when_retry_after_is_shorter() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=8.0)
    for _ in range(50):
        wait = policy.delay(2, 0.01)
        assert 1.0 <= wait <= 2.0


def test_delay_without_retry_after_is_the_backoff() -> None:
    policy = RetryPolicy(backoff_base=0.2, backoff_max=8.0)
    for _ in range(50):
        assert 0.1 <= policy.delay(1, None) <= 0.2


def test_delay_with_zero_backoff_and_retry_after() -> None:
    policy = RetryPolicy(backoff_base=0)
    assert policy.delay(1, None) == 0
    assert policy.delay(1, 0.25) == 0.25


# -- policy validation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"backoff_base": -0.1}, "backoff_base"),
        ({"backoff_max": -1}, "backoff_max"),
        ({"max_retry_after": -1}, "max_retry_after"),
    ],
)
def test_policy_validation(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        RetryPolicy(**kwargs)


def test_policy_defaults() -> None:
    policy = RetryPolicy()
    assert policy.max_retries == 5
    assert policy.backoff_base == 0.5
    assert policy.backoff_max == 8.0
    assert policy.max_retry_after == 60.0


# -- Retry-After -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (" 3 ", 3.0),
        ("0.25", 0.25),
    ],
)
def test_retry_after_seconds(value: str, expected: float) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_http_date_in_the_future() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:29:30 GMT", now=NOW) == 90.0


def test_retry_after_http_date_in_the_past_means_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now=NOW) == 0.0


def test_retry_after_http_date_now() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW) == 0.0


def test_retry_after_http_date_uses_the_real_clock_by_default() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    wait = parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT")
    assert wait is not None
    assert wait > 365 * 24 * 3600


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "soon", "-5", "-0.5", "nan", "NaN", "5 seconds", "Wed, 99 Foo 2015"],
)
def test_retry_after_unusable(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None


@pytest.mark.parametrize("value", ["inf", "Infinity", "-inf"])
def test_retry_after_infinite_is_unusable(value: str) -> None:
    # float() accepts "inf"; a wait of forever is not a usable Retry-After (NaN is
    # already refused for the same reason).
    assert parse_retry_after(value, now=NOW) is None


# -- retryable statuses -------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 501, 502, 503, 504, 520, 599])
def test_retryable_statuses(status: int) -> None:
    assert is_retryable_status(status) is True


@pytest.mark.parametrize("status", [200, 201, 204, 301, 302, 400, 401, 403, 404, 409, 422, 600])
def test_not_retryable_statuses(status: int) -> None:
    assert is_retryable_status(status) is False
