"""client.watch() against local servers: events, cost in requests, cursors, restarts, outages."""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import math
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from helpers import client_for, page_payload, serve, until

from kore_cases import (
    AuthenticationError,
    CaseAdded,
    CaseChanged,
    CaseFilter,
    CaseRemoved,
    CasesClient,
    CaseWatch,
    JwtAuth,
    NotFoundError,
    RateLimit,
    RateLimiter,
    StaticToken,
    WatchCursor,
    WatchEvent,
)
from kore_cases.testing import FakeKoreServer

EVERY = 0.01  # tests compress time: a poll every 10 ms
ROOMY = RateLimit((1_000_000, 60.0))  # "the client's rate limit says otherwise"


@pytest.fixture
async def server() -> AsyncIterator[FakeKoreServer]:
    async with FakeKoreServer(cases=300, seed=5) as srv:
        yield srv


@pytest.fixture
async def client(server: FakeKoreServer) -> AsyncIterator[CasesClient]:
    async with client_for(server, page_size=20) as c:
        yield c


@pytest.fixture
async def roomy(server: FakeKoreServer) -> AsyncIterator[CasesClient]:
    """A client whose rate limit lets a set-mode watch poll every 10 ms."""
    async with client_for(server, page_size=20, rate_limit=ROOMY) as c:
        yield c


async def take(events: CaseWatch, n: int) -> list[WatchEvent]:
    """The next ``n`` events (each within 10 s)."""
    return [await asyncio.wait_for(anext(events), 10) for _ in range(n)]


async def started(events: CaseWatch, server: FakeKoreServer) -> asyncio.Task[WatchEvent]:
    """Start waiting for the next event in a task, once the watch has primed itself."""
    task = asyncio.ensure_future(anext(events))
    await until(lambda: events.stats.polls >= 1, timeout=10)
    return task


async def one_more_poll(events: CaseWatch) -> None:
    """Wait until the watch has finished one more poll than now."""
    polls = events.stats.polls
    await until(lambda: events.stats.polls > polls, timeout=10)


def requests_since(server: FakeKoreServer, mark: int) -> int:
    return server.stats.requests - mark


def answered(server: FakeKoreServer) -> set[int]:
    """The requests the server has answered so far (their records, by identity)."""
    return {id(record) for record in server.request_log if record.finished is not None}


def answered_after(server: FakeKoreServer, before: set[int]) -> int:
    """Requests answered (or still to be) after ``before = answered(server)`` was taken.

    Unlike a count of arrivals, this does not depend on where a poll in flight was when
    the mark was taken: a request that arrived but was not answered yet sees what the
    test did after the mark.
    """
    return sum(1 for record in server.request_log if id(record) not in before)


# -- mode="new" ---------------------------------------------------------------------------


async def test_new_cases_are_reported_once_oldest_first_and_nothing_old(
    server: FakeKoreServer, client: CasesClient
) -> None:
    events = client.watch(every=EVERY)
    pending = await started(events, server)
    ids = server.create_cases(5)
    got = [await pending, *await take(events, 4)]
    assert all(isinstance(e, CaseAdded) for e in got)
    assert [e.case.id for e in got] == ids  # type: ignore[union-attr]
    pending = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0.1)  # several idle polls: nothing repeats
    assert not pending.done()
    more = server.create_cases(1)
    assert (await pending).case.id == more[0]  # type: ignore[union-attr]


async def test_an_idle_poll_costs_one_request_even_after_a_burst(
    server: FakeKoreServer, client: CasesClient
) -> None:
    events = client.watch(every=EVERY)
    pending = await started(events, server)
    server.create_cases(45)  # more than a page (20) inside the overlap window
    await pending
    await take(events, 44)
    pending = asyncio.ensure_future(anext(events))
    polls, mark = events.stats.polls, server.stats.requests
    await until(lambda: events.stats.polls >= polls + 10, timeout=10)
    idle_polls = events.stats.polls - polls
    assert requests_since(server, mark) == idle_polls  # measured at the server
    pending.cancel()


@pytest.mark.parametrize("n", [1, 19, 20, 21, 57, 200])
async def test_n_new_cases_cost_ceil_n_over_page_size_plus_at_most_one(
    server: FakeKoreServer, client: CasesClient, n: int
) -> None:
    events = client.watch(every=EVERY)
    pending = await started(events, server)
    before = answered(server)
    server.create_cases(n)  # no await since the mark: no request was answered in between
    got = [await pending, *await take(events, n - 1)]
    assert len({e.case.id for e in got}) == n  # type: ignore[union-attr]
    # Every request answered after the creation is the poll that found the cases (an idle
    # poll answered later would have found them), and the watch stops polling once it has
    # handed out all n.
    busy = answered_after(server, before)
    assert math.ceil(n / 20) <= busy <= math.ceil(n / 20) + 1


async def test_same_millisecond_and_late_indexed_cases_are_caught_by_the_overlap(
    server: FakeKoreServer, client: CasesClient
) -> None:
    events = client.watch(every=EVERY)
    pending = await started(events, server)
    first = server.create_cases(1)
    assert (await pending).case.id == first[0]  # type: ignore[union-attr]
    late = server.create_cases(1, hidden=True)  # created now, listed later
    ties = server.create_cases(2, same_millisecond=True)
    got = await take(events, 2)
    assert {e.case.id for e in got} == set(ties)  # type: ignore[union-attr]
    server.reveal_case(late[0])  # older than the high-water mark, within the overlap
    (event,) = await take(events, 1)
    assert event.case.id == late[0]  # type: ignore[union-attr]
    pending = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0.1)
    assert not pending.done()  # nothing reported twice
    pending.cancel()


async def test_since_reports_cases_created_from_then(
    server: FakeKoreServer, client: CasesClient
) -> None:
    newest = [server.get_case(i) for i in server.case_ids()[:3]]
    since = newest[2]["createdAt"]  # type: ignore[index]
    events = client.watch(every=EVERY, since=since)
    got = await take(events, 3)
    assert [e.case.id for e in got] == [c["_id"] for c in reversed(newest)]  # type: ignore[union-attr,index]


async def test_an_empty_filter_anchors_on_the_newest_case_of_the_stream(
    server: FakeKoreServer, client: CasesClient
) -> None:
    nothing = CaseFilter(search_text="no case says this")
    events = client.watch(nothing, every=EVERY)
    pending = await started(events, server)
    assert events.cursor.high_water is not None  # from the unfiltered newest case
    pending.cancel()


async def test_new_mode_keeps_only_the_overlap_in_memory(
    server: FakeKoreServer, client: CasesClient
) -> None:
    # The fake server stamps new cases 1 ms apart: a 20 ms overlap holds about 20 of them.
    events = client.watch(every=EVERY, overlap=0.02)
    pending = await started(events, server)
    sizes = []
    for _ in range(15):
        server.create_cases(40)
        # One consumer at a time: the event waited for in `pending` is the burst's first.
        got = [await asyncio.wait_for(pending, 10), *await take(events, 39)]
        assert len({e.case.id for e in got}) == 40  # type: ignore[union-attr]
        sizes.append(len(events.cursor.boundary))
        pending = asyncio.ensure_future(anext(events))
        await one_more_poll(events)  # an idle one: it trims the boundary
    pending.cancel()
    # 600 cases seen; the boundary holds one overlap plus the last poll's cases (it is
    # trimmed at the start of each poll), whatever the number seen before.
    assert max(sizes) <= 80


# -- cursors and restarts ---------------------------------------------------------------


async def test_cursor_round_trips_through_json(server: FakeKoreServer, client: CasesClient) -> None:
    events = client.watch(CaseFilter(unassigned=True), every=EVERY)
    pending = await started(events, server)
    pending.cancel()
    cursor = events.cursor
    again = WatchCursor.from_json(cursor.to_json())
    assert again == cursor
    with pytest.raises(ValueError, match="another filter"):
        client.watch(CaseFilter(unassigned=False), cursor=again)
    with pytest.raises(ValueError, match="mode='new', not mode='set'"):
        client.watch(CaseFilter(unassigned=True), cursor=again, mode="set")
    with pytest.raises(ValueError, match="not a watch cursor"):
        WatchCursor.from_json("{}")
    with pytest.raises(ValueError, match="not both"):
        client.watch(cursor=again, since="2025-01-01T00:00:00Z")


async def test_bad_arguments_are_refused_before_any_request(
    server: FakeKoreServer, client: CasesClient, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="every must be a finite number of seconds > 0"):
        client.watch(every=0)
    with pytest.raises(ValueError, match="mode must be 'new' or 'set'"):
        client.watch(mode="all")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="filter must be a CaseFilter"):
        client.watch({"unassigned": True})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no time zone"):
        client.watch(since="2025-01-01T00:00:00")
    state = tmp_path / "state.json"
    state.write_text("not json")
    with pytest.raises(ValueError, match=f"state file {state}: not a watch cursor"):
        client.watch(state_file=state)
    assert server.stats.requests == 0


async def test_state_file_resumes_where_the_last_run_stopped(
    server: FakeKoreServer, client: CasesClient, tmp_path: Path
) -> None:
    state = tmp_path / "watch.json"
    async with client.watch(every=EVERY, state_file=state) as events:
        pending = await started(events, server)
        pending.cancel()
    assert state.exists()  # primed position written before any event
    before = server.create_cases(3)  # created while the bot is down
    async with client.watch(every=EVERY, state_file=state) as events:
        got = await take(events, 3)
    assert [e.case.id for e in got] == before  # type: ignore[union-attr]
    after = server.create_cases(1)
    async with client.watch(every=EVERY, state_file=state) as events:
        (event,) = await take(events, 1)
    assert event.case.id == after[0]  # type: ignore[union-attr]


async def test_a_crash_repeats_only_the_event_being_handled(
    server: FakeKoreServer, client: CasesClient, tmp_path: Path
) -> None:
    state = tmp_path / "watch.json"
    async with client.watch(every=EVERY, state_file=state) as events:
        (await started(events, server)).cancel()
    ids = server.create_cases(4)
    with pytest.raises(RuntimeError, match="handler crashed"):
        async with client.watch(every=EVERY, state_file=state) as events:
            async for event in events:
                if event.case.id == ids[2]:  # type: ignore[union-attr]
                    raise RuntimeError("handler crashed")
    async with client.watch(every=EVERY, state_file=state) as events:
        got = await take(events, 2)
    assert [e.case.id for e in got] == ids[2:]  # type: ignore[union-attr]


class Crash(Exception):
    """The bot died while handling an event."""


async def test_ten_thousand_cases_with_restarts_none_missed(tmp_path: Path) -> None:
    """Cases created in bursts (some in one millisecond) while a bot stops at random points,
    cleanly or by crashing mid-event, and resumes from its state file each time."""
    rng = random.Random(12)
    state = tmp_path / "watch.json"
    created: list[str] = []
    seen: list[str] = []
    crashed_on: list[str] = []
    distinct: set[str] = set()
    restarts = 0
    async with (
        FakeKoreServer(cases=50, seed=1, max_page_size=100) as server,
        client_for(server, page_size=100) as client,
    ):
        # Time is compressed: the fake server stamps cases 1 ms apart, so the overlap shrinks
        # from 10 s to 50 ms of server time (what 10 s holds of a busy real account).
        watch = functools.partial(client.watch, every=0.001, state_file=state, overlap=0.05)
        async with watch() as events:
            (await started(events, server)).cancel()
        while len(distinct) < 10_000:
            if len(created) < 10_000:
                burst = min(rng.choice([1, 3, 40, 150, 700]), 10_000 - len(created))
                created += server.create_cases(burst, same_millisecond=rng.random() < 0.2)
            stop_after, crash = rng.randint(1, 400), rng.random() < 0.3
            try:
                async with watch() as events:
                    for taken in range(1, stop_after + 1):
                        if len(distinct) == len(created):
                            break
                        event = await asyncio.wait_for(anext(events), 10)
                        seen.append(event.case.id)  # type: ignore[union-attr]
                        distinct.add(seen[-1])
                        if crash and taken == stop_after:
                            crashed_on.append(seen[-1])
                            raise Crash
            except Crash:
                pass
            restarts += 1
    assert restarts > 20
    assert crashed_on
    assert set(seen) == set(created)  # 0 missed
    # At least once across crashes: only the event being handled at a crash came again.
    repeats = [i for i, n in collections.Counter(seen).items() if n > 1]
    assert sorted(repeats) == sorted(set(crashed_on))
    assert len(seen) == len(created) + len(crashed_on)


async def test_a_state_file_in_a_missing_directory_is_refused_before_any_request(
    tmp_path: Path,
) -> None:
    async with FakeKoreServer(cases=50, seed=1) as server, client_for(server) as client:
        with pytest.raises((ValueError, OSError), match="missing"):
            events = client.watch(every=EVERY, state_file=tmp_path / "missing" / "bot.json")
            await asyncio.wait_for(anext(events), 5)
        assert server.stats.requests == 0


async def test_a_state_file_that_is_a_directory_is_refused_before_any_request(
    tmp_path: Path,
) -> None:
    async with FakeKoreServer(cases=50, seed=1) as server, client_for(server) as client:
        with pytest.raises((ValueError, OSError), match=str(tmp_path.name)):
            events = client.watch(every=EVERY, state_file=tmp_path)
            await asyncio.wait_for(anext(events), 5)
        assert server.stats.requests == 0


async def test_a_state_file_from_another_filter_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bot.json"
    path.write_text(WatchCursor("new", "another-filter").to_json() + "\n")
    async with FakeKoreServer(cases=10, seed=1) as server, client_for(server) as client:
        with pytest.raises(ValueError, match=r"state file .*bot\.json.*another filter"):
            client.watch(state_file=path)
        with pytest.raises(ValueError, match=r"bot\.json.*mode='new', not mode='set'"):
            client.watch(state_file=path, mode="set")
        assert server.stats.requests == 0


# -- mode="set" ---------------------------------------------------------------------------


async def test_set_mode_reports_additions_changes_and_removals(
    server: FakeKoreServer, roomy: CasesClient
) -> None:
    watched = CaseFilter(unresolved=True, priority=["critical"])
    events = roomy.watch(watched, every=EVERY, mode="set")
    pending = await started(events, server)
    members = server.case_ids({"unresolved": True, "priority": ["critical"]})
    changed, resolved, deleted = members[0], members[1], members[2]
    new = server.create_cases(1)[0]
    server.update_case(new, priority="Critical", status="Open")
    server.update_case(changed, status="On Hold")
    server.resolve_case(resolved)
    server.delete_case(deleted)
    got = [await pending, *await take(events, 3)]
    kinds = {
        (type(e).__name__, e.case_id if isinstance(e, CaseRemoved) else e.case.id) for e in got
    }
    assert kinds == {
        ("CaseAdded", new),
        ("CaseChanged", changed),
        ("CaseRemoved", resolved),
        ("CaseRemoved", deleted),
    }
    change = next(e for e in got if isinstance(e, CaseChanged))
    assert change.before is not None
    assert change.before.status is not None
    assert change.case.status is not None
    assert (change.before.updated_at or 0) < (change.case.updated_at or 0)  # type: ignore[operator]
    assert change.case.status.name == "On Hold"
    removed = next(e for e in got if isinstance(e, CaseRemoved) and e.case_id == deleted)
    assert removed.last_seen is not None
    assert removed.last_seen.id == deleted


async def test_set_mode_refuses_a_set_the_budget_cannot_read_at_every(
    server: FakeKoreServer, client: CasesClient
) -> None:
    events = client.watch(every=10, mode="set")  # 300 cases, 20 a page: 15 requests / 10 s
    with pytest.raises(ValueError, match=r"ceil\(300/20\) = 15 requests every 10 s = 90") as info:
        await anext(events)
    assert "every=15" in str(info.value)
    assert "60/min" in str(info.value)
    assert server.stats.requests == 1  # refused after page 1, before reading the rest


async def test_set_mode_warns_when_it_takes_most_of_the_budget(
    server: FakeKoreServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with client_for(server, page_size=20, rate_limit=RateLimit((120, 60.0))) as client:
        events = client.watch(every=10, mode="set")  # 90/min of 120/min
        with caplog.at_level(logging.WARNING, logger="kore_cases.watch"):
            pending = await started(events, server)
            pending.cancel()
    assert "75% of the account's 120/min" in caplog.text


async def test_set_mode_resumes_from_a_cursor_without_the_cases(
    server: FakeKoreServer, roomy: CasesClient, tmp_path: Path
) -> None:
    state = tmp_path / "set.json"
    watched = CaseFilter(priority=["critical"])
    async with roomy.watch(watched, every=EVERY, mode="set", state_file=state) as events:
        (await started(events, server)).cancel()
    member = server.case_ids({"priority": ["critical"]})[0]
    server.update_case(member, status="In Progress")
    async with roomy.watch(watched, every=EVERY, mode="set", state_file=state) as events:
        (event,) = await take(events, 1)
    assert isinstance(event, CaseChanged)
    assert (event.case.id, event.before) == (member, None)


async def test_set_mode_since_reports_members_created_from_then(
    server: FakeKoreServer, roomy: CasesClient
) -> None:
    members = server.case_ids({"priority": ["critical"]})  # newest first
    since = server.get_case(members[1])["createdAt"]  # type: ignore[index]
    events = roomy.watch(CaseFilter(priority=["critical"]), every=EVERY, mode="set", since=since)
    got = await take(events, 2)
    assert [e.case.id for e in got] == [members[1], members[0]]  # type: ignore[union-attr]
    assert all(isinstance(e, CaseAdded) for e in got)


# -- a good citizen: outages, 429s, errors, cancel ---------------------------------------


async def test_faults_and_a_server_restart_delay_polls_but_never_end_the_watch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = FakeKoreServer(cases=30, seed=2, port=0)
    await server.start()
    port = int(server.url.rsplit(":", 1)[1])
    async with client_for(server, page_size=20, max_retries=0) as client:
        events = client.watch(every=EVERY)
        pending = await started(events, server)
        server.schedule_faults(1, "503", "reset", "500", "502")
        with caplog.at_level(logging.DEBUG, logger="kore_cases.watch"):
            await until(lambda: events.stats.failed_polls >= 4, timeout=10)
            await server.close()  # the server goes away...
            await until(lambda: events.stats.failed_polls >= 8, timeout=10)
            restarted = FakeKoreServer(cases=30, seed=2, port=port)
            await restarted.start()  # ...and comes back (with its data) on the same port
            ids = restarted.create_cases(2)
            got = [await asyncio.wait_for(pending, 10), *await take(events, 1)]
        await restarted.close()
    assert [e.case.id for e in got] == ids  # type: ignore[union-attr]
    warnings = [
        r for r in caplog.records if r.name == "kore_cases.watch" and r.levelno == logging.WARNING
    ]
    assert 4 <= len(warnings) <= 5  # failures 1, 2, 4, 8 (16): bounded
    assert "watch resumed after" in caplog.text


async def test_429_without_retry_after_is_waited_out_for_a_window_and_the_watch_goes_on() -> None:
    answers = iter([429, 429, 200, 200, 200])
    times: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        times.append(asyncio.get_running_loop().time())
        status = next(answers, 200)
        if status == 429:  # Kore documents no Retry-After
            return web.json_response(
                {"errors": [{"msg": "You've exceeded the per-minute rate limit.", "code": 429}]},
                status=429,
            )
        created = "2025-06-01T00:00:00.000Z"
        case = {"_id": "c1", "createdAt": created, "updatedAt": created}
        results = [case] if len(times) > 3 else []
        return web.json_response(
            {
                "results": results,
                "page": 1,
                "limit": 50,
                "hasMore": False,
                "totalPages": 1,
                "totalResults": len(results),
            }
        )

    async with serve(handler) as url:
        # No limit configured; a 429 pauses for the rolling window, assumed 0.3 s here
        # (Kore's is 60 s).
        budget = RateLimiter(None, assumed_window=0.3)
        client = CasesClient(url, "st-1", "acc", "token", rate_limit=budget, max_retries=0)
        async with client:
            events = client.watch(every=0.05, since="2025-01-01T00:00:00Z")
            event = await asyncio.wait_for(anext(events), 10)
    assert isinstance(event, CaseAdded)
    # The poll waited each 429 out (spending max_rate_limit_wait, not a retry)...
    assert events.stats.failed_polls == 0
    # ...for the rolling window the limiter assumes, as nothing it knows could free first.
    assert times[1] - times[0] >= 0.25
    assert times[2] - times[1] >= 0.25


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        ({"client_secret": "wrong-secret-0123456789-abcdefgh"}, AuthenticationError),
        ({"stream_id": "st-other"}, NotFoundError),
    ],
)
async def test_errors_a_person_must_fix_end_the_watch(
    server: FakeKoreServer, setup: dict[str, Any], error: type[Exception]
) -> None:
    client = CasesClient(
        server.url,
        setup.get("stream_id", server.stream_id),
        server.account_id,
        JwtAuth(server.client_id, setup.get("client_secret", server.client_secret)),
        rate_limit=None,
    )
    async with client:
        events = client.watch(every=EVERY)
        with pytest.raises(error):
            await anext(events)
        with pytest.raises(StopAsyncIteration):
            await anext(events)


async def test_cancel_ends_a_waiting_watch_at_once(
    server: FakeKoreServer, client: CasesClient
) -> None:
    events = client.watch(every=3600)  # the next poll is an hour away
    pending = await started(events, server)
    loop = asyncio.get_running_loop()
    begun = loop.time()
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert loop.time() - begun < 1.0


async def test_many_watches_share_one_loop_without_tasks_of_their_own(
    server: FakeKoreServer, client: CasesClient
) -> None:
    before = len(asyncio.all_tasks())
    watches = [client.watch(CaseFilter(priority=[p]), every=EVERY) for p in ("low", "high")]
    assert len(asyncio.all_tasks()) == before  # creating a watch starts nothing
    pendings = [await started(w, server) for w in watches]
    for p in pendings:
        p.cancel()


async def test_a_timeout_around_anext_leaves_the_watch_running(
    server: FakeKoreServer, client: CasesClient
) -> None:
    events = client.watch(every=EVERY)
    (await started(events, server)).cancel()
    for _ in range(3):  # cancelled while sleeping or in the middle of a poll
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(anext(events), 0.03)
    ids = server.create_cases(1)
    (event,) = await take(events, 1)
    assert event.case.id == ids[0]  # type: ignore[union-attr]


async def test_cancel_during_a_hanging_poll_ends_the_watch_and_leaves_no_task() -> None:
    arrived = asyncio.Event()
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        arrived.set()
        await release.wait()
        return web.json_response({})

    async with serve(hang) as url:
        client = CasesClient(url, "st-1", "acc-1", StaticToken("tok"), rate_limit=None)
        async with client:
            before = asyncio.all_tasks()
            events = client.watch(every=EVERY)
            consumer = asyncio.ensure_future(anext(events))
            await asyncio.wait_for(arrived.wait(), 10)
            consumer.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(consumer, 5)
            await asyncio.sleep(0.05)
            left = asyncio.all_tasks() - before - {consumer}
            assert [t for t in left if "aiohttp/web_" not in repr(t)] == []  # the server's own
        release.set()


async def test_outages_mid_watch_go_on_and_a_401_mid_watch_ends_it() -> None:
    # (a 429 pauses the whole account for its window: test_watch.py covers it with time)
    answers = iter(["ok", 503, "reset", 502, "ok", 401])
    served: list[object] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        answer = next(answers, 401)
        served.append(answer)
        if answer == "reset":
            assert request.transport is not None
            request.transport.close()  # the connection drops without an answer
            return web.Response()
        if answer == 401:
            body = {"errors": [{"msg": "Invalid SDK credentials", "code": 4002}]}
            return web.json_response(body, status=401)
        if answer != "ok":
            return web.json_response({"errors": [{"msg": "busy", "code": 1}]}, status=answer)
        return web.json_response(page_payload(limit=20))

    async with serve(handler) as url:
        auth = StaticToken("tok")
        async with CasesClient(url, "st-1", "acc-1", auth, rate_limit=None, max_retries=0) as c:
            events = c.watch(every=EVERY, jitter=0.0)
            with pytest.raises(AuthenticationError):
                await asyncio.wait_for(anext(events), 30)
            assert events.stats.failed_polls == 3  # the 503, the reset, the 502
            with pytest.raises(StopAsyncIteration):
                await anext(events)
    assert served[-1] == 401
