"""Event hooks: typed records of requests, responses, retries, budget waits and pages."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from helpers import client_for

from kore_cases import CasesClient, RateLimit
from kore_cases.hooks import (
    Hooks,
    PageEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    ThrottleEvent,
)
from kore_cases.testing import FakeKoreServer


class Recorder:
    """Keeps every event, in order."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def hooks(self) -> Hooks:
        keep = self.events.append
        return Hooks(
            on_request=keep, on_response=keep, on_retry=keep, on_throttle=keep, on_page=keep
        )

    def of(self, kind: type) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]


async def test_a_pull_reports_each_attempt_retry_and_page() -> None:
    seen = Recorder()
    async with FakeKoreServer(cases=120) as server:
        server.schedule_faults(2, "503")
        async with client_for(server, page_size=50, concurrency=1, hooks=seen.hooks()) as client:
            ids = [case.id async for case in client.iter_cases()]
    assert len(ids) == 120
    requests = [(e.page, e.attempt) for e in seen.of(RequestEvent)]
    assert sorted(requests) == [(1, 1), (2, 1), (2, 2), (3, 1)]
    responses = {(e.page, e.attempt): e for e in seen.of(ResponseEvent)}
    assert responses[(2, 1)].status == 503
    assert responses[(2, 1)].error is not None
    assert responses[(2, 2)].status == 200
    assert responses[(2, 2)].error is None
    assert responses[(2, 2)].size > 0
    assert all(e.elapsed >= 0 for e in responses.values())
    (retry,) = seen.of(RetryEvent)
    assert (retry.page, retry.attempt) == (2, 1)
    assert retry.error is responses[(2, 1)].error
    second_try = next(e for e in seen.of(RequestEvent) if (e.page, e.attempt) == (2, 2))
    assert second_try.retry_delay == retry.delay
    pages = seen.of(PageEvent)
    assert [(p.page, p.cases, p.total_results) for p in pages] == [
        (1, 50, 120),
        (2, 50, 120),
        (3, 20, 120),
    ]
    assert pages[-1].stats.cases == 120


async def test_a_request_that_waits_for_the_budget_reports_it() -> None:
    seen = Recorder()
    async with (
        FakeKoreServer(cases=5) as server,
        client_for(server, rate_limit=RateLimit((1, 0.3)), hooks=seen.hooks()) as client,
    ):
        await client.get_page()
        await client.get_page()
    (throttle,) = seen.of(ThrottleEvent)
    assert throttle.page == 1
    assert throttle.waited > 0
    waited = [e.budget_wait for e in seen.of(RequestEvent)]
    assert waited[0] == 0
    assert waited[1] == throttle.waited


async def test_a_raising_hook_does_not_break_the_pull_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(event: ResponseEvent) -> None:
        raise RuntimeError(f"hook bug on page {event.page}")

    caplog.set_level(logging.DEBUG, logger="kore_cases")
    hooks = Hooks(on_response=broken)
    async with (
        FakeKoreServer(cases=100) as server,
        client_for(server, page_size=10, hooks=hooks) as client,
    ):
        ids = [case.id async for case in client.iter_cases()]
    assert ids == server.case_ids()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "hook" in r.message]
    assert len(warnings) == 1
    assert "on_response" in warnings[0].message
    assert warnings[0].exc_info is not None  # with the traceback, to find the bug


def test_hooks_must_be_hooks_of_functions() -> None:
    with pytest.raises(TypeError, match="on_page must be a function"):
        Hooks(on_page=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"hooks must be kore_cases\.hooks\.Hooks"):
        CasesClient("https://kore.example.com", "st-1", "acct", "tok", hooks=print)  # type: ignore
