"""Client configuration: read-only settings, the ``Retry`` value, ``with_options`` views."""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError
from typing import Any

import anyio
import pytest
from helpers import client_for

from kore_cases import (
    APITimeoutError,
    CasesClient,
    ClientClosedError,
    RateLimit,
    Retry,
    ServerError,
)
from kore_cases._throttle import Throttle
from kore_cases.testing import FakeKoreServer

ARGS = ("https://kore.example.com", "st-1", "acct-1", "eyJ.static.token")


# -- read-only settings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("timeout", 1.0),
        ("concurrency", 2),
        ("rate_limit", None),
        ("max_retries", 0),
        ("page_size", 10),
        ("retry", Retry()),
        ("host", "https://other.example.com"),
    ],
)
def test_settings_cannot_be_changed_after_construction(name: str, value: Any) -> None:
    client = CasesClient(*ARGS)
    before = getattr(client, name)
    with pytest.raises(AttributeError):
        setattr(client, name, value)
    assert getattr(client, name) == before


# -- Retry ---------------------------------------------------------------------------------


def test_retry_is_a_frozen_value() -> None:
    retry = Retry(max_retries=2, backoff_max=4)
    assert retry == Retry(max_retries=2, backoff_max=4.0)
    assert isinstance(retry.backoff_max, float)
    with pytest.raises(FrozenInstanceError):
        retry.max_retries = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"max_retries": True}, "max_retries"),
        ({"max_retries": -1}, "max_retries"),
        ({"backoff_base": math.nan}, "backoff_base"),
        ({"backoff_max": math.inf}, "backoff_max"),
        ({"max_retry_after": math.nan}, "max_retry_after"),
        ({"max_retry_after": "60"}, "max_retry_after"),
    ],
)
def test_retry_refuses_bad_values_naming_them(options: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Retry(**options)


def test_retry_after_may_be_unbounded() -> None:
    assert Retry(max_retry_after=math.inf).max_retry_after == math.inf


def test_client_takes_a_retry_value() -> None:
    retry = Retry(max_retries=1, backoff_base=0.1, backoff_max=1.0, max_retry_after=5.0)
    client = CasesClient(*ARGS, retry=retry)
    assert client.retry == retry
    assert client.max_retries == 1


def test_flat_retry_keywords_replace_fields_of_retry() -> None:
    client = CasesClient(*ARGS, retry=Retry(max_retries=1, backoff_max=2.0), max_retries=3)
    assert client.retry == Retry(max_retries=3, backoff_max=2.0)
    assert CasesClient(*ARGS, backoff_base=0.0).retry == Retry(backoff_base=0.0)
    assert CasesClient(*ARGS).retry == Retry()


def test_client_refuses_a_retry_of_another_type() -> None:
    with pytest.raises(TypeError, match=r"retry must be a kore_cases\.Retry"):
        CasesClient(*ARGS, retry=3)  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [math.nan, math.inf, 0, -1, True, "30"])
def test_timeout_must_be_a_finite_positive_number(timeout: Any) -> None:
    with pytest.raises(ValueError, match="timeout must be a finite number of seconds > 0"):
        CasesClient(*ARGS, timeout=timeout)


async def test_retry_max_retries_bounds_the_attempts() -> None:
    async with FakeKoreServer(cases=5) as server:
        server.schedule_faults(1, "500", "500", "500")
        async with client_for(server, retry=Retry(max_retries=1, backoff_base=0.0)) as client:
            with pytest.raises(ServerError):
                await client.get_page()
        assert server.stats.requests == 2


# -- with_options --------------------------------------------------------------------------


def test_with_options_changes_only_the_view() -> None:
    client = CasesClient(*ARGS, timeout=30.0, max_retries=4, backoff_max=3.0)
    view = client.with_options(timeout=2.5, max_retries=0)
    assert (view.timeout, view.max_retries, view.retry.backoff_max) == (2.5, 0, 3.0)
    assert (client.timeout, client.max_retries) == (30.0, 4)
    assert client.with_options().retry == client.retry


def test_with_options_checks_its_values_before_any_request() -> None:
    client = CasesClient(*ARGS)
    with pytest.raises(ValueError, match="timeout"):
        client.with_options(timeout=math.nan)
    with pytest.raises(ValueError, match="max_retries"):
        client.with_options(max_retries=-1)


async def test_view_max_retries_applies_to_its_calls_only() -> None:
    async with FakeKoreServer(cases=5) as server, client_for(server, max_retries=3) as client:
        server.schedule_faults(1, "503", "503")
        with pytest.raises(ServerError):
            await client.with_options(max_retries=0).get_page()
        assert server.stats.requests == 1
        page = await client.get_page()  # the client itself still retries: one 503 left
        assert page.page == 1
        assert server.stats.requests == 3


async def test_view_timeout_applies_to_its_calls_only() -> None:
    async with FakeKoreServer(cases=5, slow_seconds=1.0) as server, client_for(server) as client:
        server.schedule_faults(1, "slow")
        with pytest.raises(APITimeoutError, match=r"0\.2 s timeout"):
            await client.with_options(timeout=0.2, max_retries=0).get_page()
        server.schedule_faults(1, "slow")
        page = await client.get_page()  # 30 s timeout: waits out the slow answer
        assert page.page == 1


async def test_view_shares_the_clients_rate_budget() -> None:
    async with (
        FakeKoreServer(cases=5) as server,
        client_for(server, rate_limit=RateLimit((1, 60.0))) as client,
    ):
        await client.get_page()
        with anyio.move_on_after(0.5) as scope:
            await client.with_options(timeout=5.0).get_page()
        assert scope.cancelled_caught  # waited for the client's one slot a minute
        assert server.stats.requests == 1


async def test_view_lives_and_dies_with_the_client_session() -> None:
    async with FakeKoreServer(cases=5) as server:
        client = client_for(server)
        view = client.with_options(timeout=5.0)
        with pytest.raises(RuntimeError, match="not open"):
            await view.get_page()
        async with client:
            async with view:  # leaving the view's block does not close the client
                assert (await view.count()) == 5
            assert (await client.count()) == 5
            assert (await view.count()) == 5
        with pytest.raises(ClientClosedError, match="closed"):
            await view.get_page()


async def test_with_options_priority_sets_where_every_call_of_the_view_queues(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, bool]] = []
    real_turn = Throttle.turn

    def spy(self: Throttle, *, interactive: bool = False, **kwargs: Any) -> Any:
        seen.append((current[0], interactive))
        return real_turn(self, interactive=interactive, **kwargs)

    monkeypatch.setattr(Throttle, "turn", spy)
    current = [""]
    async with FakeKoreServer(cases=6, max_page_size=2) as server, client_for(server) as client:
        for label, view in (
            ("default", client),
            ("bulk", client.with_options(priority="bulk")),
            ("interactive", client.with_options(priority="interactive")),
        ):
            current[0] = label
            await view.count()
            assert len([c async for c in view.iter_cases()]) == 6
    by_label = {label: {flag for name, flag in seen if name == label} for label, _ in seen}
    # Default: the one-page count goes first, a pull's pages do not (both kinds seen).
    assert by_label["default"] == {True, False}
    assert by_label["bulk"] == {False}
    assert by_label["interactive"] == {True}


def test_with_options_refuses_an_unknown_priority() -> None:
    with pytest.raises(ValueError, match="priority must be 'interactive', 'bulk' or None"):
        CasesClient(*ARGS).with_options(priority="urgent")  # type: ignore[typeddict-item]
