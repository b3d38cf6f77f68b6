"""``kore-cases watch`` and ``kore-cases serve --churn`` / the admin endpoint, as subprocesses."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from helpers import until

from kore_cases import Case, CaseAdded, CaseChanged, CaseRemoved
from kore_cases.cli._watch_command import _Status, event_line
from kore_cases.testing import FakeKoreServer

TIMEOUT = 20.0


def _env(server: FakeKoreServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KORE_")}
    env["PYTHONWARNINGS"] = "error"
    env.update(
        KORE_HOST=server.url,
        KORE_STREAM_ID=server.stream_id,
        KORE_ACCOUNT_ID=server.account_id,
        KORE_CLIENT_ID=server.client_id,
        KORE_CLIENT_SECRET=server.client_secret,
    )
    return env


@pytest.fixture
async def server() -> AsyncIterator[FakeKoreServer]:
    async with FakeKoreServer(cases=40, seed=4) as srv:
        yield srv


async def start_watch(server: FakeKoreServer, *flags: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kore_cases", "watch", "--every", "0.05",
        "--rate-limit", "1000000/60", *flags,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(server),
    )  # fmt: skip


async def lines(proc: asyncio.subprocess.Process, n: int) -> list[dict[str, Any]]:
    assert proc.stdout is not None
    return [json.loads(await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)) for _ in range(n)]


async def interrupt(proc: asyncio.subprocess.Process) -> tuple[int, bytes]:
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode is not None
    return proc.returncode, err


async def primed(server: FakeKoreServer) -> None:
    """Wait until the watch has made its first request (it knows where "now" is)."""
    await until(lambda: server.stats.requests > 0, TIMEOUT)


async def test_watch_prints_a_line_per_new_case_and_resumes_from_its_state(
    server: FakeKoreServer, tmp_path: Path
) -> None:
    state = tmp_path / "watch.json"
    proc = await start_watch(server, "--state", str(state))
    try:
        await primed(server)
        ids = server.create_cases(3)
        got = await lines(proc, 3)
        code, err = await interrupt(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 130, err
    assert [(g["event"], g["case"]["_id"]) for g in got] == [("added", i) for i in ids]
    assert got[0]["case"]["createdAt"].endswith("Z")
    more = server.create_cases(2)  # while the watch is down
    proc = await start_watch(server, "--state", str(state))
    try:
        got = await lines(proc, 2)
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert [g["case"]["_id"] for g in got] == more  # nothing from the first run again


async def test_watch_set_mode_reports_changes_and_removals(server: FakeKoreServer) -> None:
    proc = await start_watch(server, "--mode", "set", "--priority", "high", "--unresolved")
    try:
        await primed(server)
        members = server.case_ids({"priority": ["high"], "unresolved": True})
        await asyncio.sleep(0.2)  # the first poll (the snapshot) is done
        server.update_case(members[0], status="On Hold")
        server.resolve_case(members[1])
        got = await lines(proc, 2)
        code, err = await interrupt(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 130, err
    assert {(g["event"], g.get("case_id") or g["case"]["_id"]) for g in got} == {
        ("changed", members[0]),
        ("removed", members[1]),
    }


async def test_watch_refuses_bad_flags_before_any_request(server: FakeKoreServer) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kore_cases", "watch", "--every", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(server),
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 2
    assert b"--every: must be a number > 0" in err
    assert server.stats.requests == 0


def test_event_lines_carry_the_case_as_the_api_sent_it() -> None:
    case = msgspec.json.decode(b'{"_id": "c1", "refId": "CS1"}', type=Case)
    assert json.loads(event_line(CaseAdded(case))) == {
        "event": "added",
        "case": json.loads(msgspec.json.encode(case)),
    }
    changed = json.loads(event_line(CaseChanged(case, None)))
    assert (changed["event"], changed["case"]["refId"], changed["before"]) == (
        "changed",
        "CS1",
        None,
    )
    removed = json.loads(event_line(CaseRemoved("c1", case)))
    assert (removed["event"], removed["case_id"], removed["last_seen"]["_id"]) == (
        "removed",
        "c1",
        "c1",
    )


# -- serve --churn and the admin endpoint -------------------------------------------------


async def test_serve_churns_and_takes_admin_changes() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kore_cases", "serve", "--port", "0", "--json", "--cases", "20",
        "--churn", "200",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(await asyncio.wait_for(proc.stdout.readline(), TIMEOUT))
        admin = info["admin"]
        async with aiohttp.ClientSession() as http:
            async with http.get(admin + "/stats") as response:
                first = (await response.json())["cases"]
            await asyncio.sleep(0.5)
            async with http.get(admin + "/stats") as response:
                later = (await response.json())["cases"]
            assert later > first  # churn creates cases while serving
            async with http.post(admin + "/cases", json={"count": 1}) as response:
                assert response.status == 201
                (case_id,) = (await response.json())["ids"]
            async with http.post(f"{admin}/cases/{case_id}/resolve") as response:
                resolved = await response.json()
        assert resolved["status"]["name"] == "Resolved"
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0


async def test_the_status_line_counts_polls_events_and_requests(server: FakeKoreServer) -> None:
    async with server.client() as client:
        events = client.watch(every=0.01)
        pending = asyncio.ensure_future(anext(events))
        # Cancel only when every request the watch counted has reached the server (checked
        # and cancelled with no await between): a poll cancelled earlier would leave a
        # request counted that never arrives.
        await until(
            lambda: events.stats.polls >= 3 and events.stats.requests == server.stats.requests,
            timeout=10,
        )
        pending.cancel()
        line = _Status(events, io.StringIO()).line()
    polls = events.stats.polls
    assert line.startswith("watching (new, every 0.01 s): ")
    assert f"{polls} polls, 0 events, {events.stats.requests} requests in the last minute" in line
    assert events.stats.requests == server.stats.requests
