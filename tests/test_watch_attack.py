"""Attacks on client.watch(): hostile cursors and state files, hostile servers, cancels."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web
from helpers import client_for, page_payload, serve

from kore_cases import AuthenticationError, CasesClient, StaticToken, WatchCursor
from kore_cases._watch._state_file import StateFile
from kore_cases.testing import FakeKoreServer

EVERY = 0.01


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


def test_a_cursor_from_a_newer_version_says_so() -> None:
    text = '{"v": 2, "mode": "stream", "filter": 7, "highWater": 12}'
    with pytest.raises(ValueError, match="format 2"):
        WatchCursor.from_json(text)


@pytest.mark.parametrize("text", ["", "null", "[]", "{}", '"x"', "\xff", '{"v": 1}'])
def test_a_corrupt_cursor_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="watch cursor"):
        WatchCursor.from_json(text)


@pytest.mark.parametrize("value", ['"garbage"', '"2025-05-26T18:30:00"'])
def test_a_corrupt_journal_line_names_the_state_file(tmp_path: Path, value: str) -> None:
    cursor = WatchCursor("new", "k", high_water=None)
    path = tmp_path / "bot.json"
    path.write_text(
        cursor.to_json()
        + '\n["new", "a", "2025-05-26T18:30:00+00:00"]\n'
        + f'["new", "b", {value}]\n["new", "c", "2025-05-26T18:31:00+00:00"]\n'
    )
    with pytest.raises(ValueError, match=r"bot\.json"):
        StateFile(path).load()


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


async def test_a_state_file_from_another_filter_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bot.json"
    path.write_text(WatchCursor("new", "another-filter").to_json() + "\n")
    async with FakeKoreServer(cases=10, seed=1) as server, client_for(server) as client:
        with pytest.raises(ValueError, match=r"state file .*bot\.json.*another filter"):
            client.watch(state_file=path)
        with pytest.raises(ValueError, match=r"bot\.json.*mode='new', not mode='set'"):
            client.watch(state_file=path, mode="set")
        assert server.stats.requests == 0
