"""The one check of a rate window, shared by RateLimit, the fake server and the command line."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from kore_cases import RateLimit
from kore_cases._ratelimit import parse_rate_window, rate_window
from kore_cases.testing import FakeKoreServer

NOT_A_PAIR = "a rate window must be a (max_requests, seconds) tuple such as (60, 60.0), not "
BAD_COUNT = "a rate window's max_requests must be a whole number >= 1, not "
BAD_LENGTH = "a rate window's length must be a finite number of seconds > 0, not "
NOT_WRITTEN_AS_A_WINDOW = "a rate window must be REQUESTS/SECONDS such as 600/60, not "


@pytest.mark.parametrize(
    ("window", "expected"),
    [((60, 60.0), (60, 60.0)), ((1, 1), (1, 1.0)), ((18000, 3600), (18000, 3600.0))],
)
def test_a_good_window_comes_back_with_float_seconds(
    window: tuple[int, float], expected: tuple[int, float]
) -> None:
    checked = rate_window(window)
    assert checked == expected
    assert isinstance(checked[1], float)


@pytest.mark.parametrize(
    ("window", "error", "message"),
    [
        ([60, 60.0], TypeError, NOT_A_PAIR + "[60, 60.0]"),
        ((60,), TypeError, NOT_A_PAIR + "(60,)"),
        ((60, 60.0, 1), TypeError, NOT_A_PAIR + "(60, 60.0, 1)"),
        (600, TypeError, NOT_A_PAIR + "600"),
        ((0, 60.0), ValueError, BAD_COUNT + "0"),
        ((-1, 60.0), ValueError, BAD_COUNT + "-1"),
        ((1.5, 60.0), ValueError, BAD_COUNT + "1.5"),
        ((True, 60.0), ValueError, BAD_COUNT + "True"),
        (("60", 60.0), ValueError, BAD_COUNT + "'60'"),
        ((60, 0), ValueError, BAD_LENGTH + "0"),
        ((60, -1.0), ValueError, BAD_LENGTH + "-1.0"),
        ((60, math.inf), ValueError, BAD_LENGTH + "inf"),
        ((60, math.nan), ValueError, BAD_LENGTH + "nan"),
        ((60, "60"), ValueError, BAD_LENGTH + "'60'"),
        ((60, True), ValueError, BAD_LENGTH + "True"),
    ],
)
def test_each_bad_window_is_refused_with_what_to_fix(
    window: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        rate_window(window)
    assert str(raised.value) == message
    # The library's RateLimit and the fake server refuse it in the same words.
    with pytest.raises(error) as by_limit:
        RateLimit(window)
    assert str(by_limit.value) == message
    with pytest.raises(error) as by_server:
        FakeKoreServer(cases=1, rate_limits=[window])
    assert str(by_server.value) == message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("600/60", (600, 60.0)), (" 60/0.5 ", (60, 0.5)), ("1/3600", (1, 3600.0))],
)
def test_a_written_window_is_parsed(text: str, expected: tuple[int, float]) -> None:
    assert parse_rate_window(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("600", NOT_WRITTEN_AS_A_WINDOW + "'600'"),
        ("", NOT_WRITTEN_AS_A_WINDOW + "''"),
        ("a/60", NOT_WRITTEN_AS_A_WINDOW + "'a/60'"),
        ("60/b", NOT_WRITTEN_AS_A_WINDOW + "'60/b'"),
        ("1.5/60", NOT_WRITTEN_AS_A_WINDOW + "'1.5/60'"),
        ("0/60", BAD_COUNT + "0"),
        ("60/0", BAD_LENGTH + "0.0"),
        ("60/inf", BAD_LENGTH + "inf"),
        ("60/nan", BAD_LENGTH + "nan"),
    ],
)
def test_a_badly_written_window_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_rate_window(text)
