"""Watching: requests per poll (idle, busy) measured at the server, and event delay vs ``every``.

The server runs in its own process (``kore-cases serve``); cases are created through its
admin endpoint, and its request counter (``/_admin/stats``) is the measure, so every
request the watch sends is counted where Kore would count it.
"""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import time
from typing import Any

import aiohttp

from kore_cases import CasesClient, CaseWatch, JwtAuth, RateLimit

Params = dict[str, Any]
Result = dict[str, float]


class Admin:
    """The fake server's admin endpoint."""

    def __init__(self, http: aiohttp.ClientSession, server: Params) -> None:
        self.http, self.base = http, server["admin"]

    async def requests(self) -> int:
        async with self.http.get(self.base + "/stats") as response:
            return int((await response.json())["requests"])

    async def create(self, count: int) -> list[str]:
        async with self.http.post(self.base + "/cases", json={"count": count}) as response:
            ids: list[str] = (await response.json())["ids"]
            return ids


async def _polls(events: CaseWatch, target: int) -> None:
    """Wait until the watch has made ``target`` polls."""
    for _ in range(100_000):
        if events.stats.polls >= target:
            return
        await asyncio.sleep(0.01)
    raise SystemExit("the watch stopped polling")


async def _run(params: Params) -> Result:
    server, every, burst = params["server"], params["every"], params["burst"]
    client = CasesClient(
        server["url"],
        server["stream_id"],
        server["account_id"],
        JwtAuth(server["client_id"], server["client_secret"]),
        page_size=params["page_size"],
        rate_limit=RateLimit((600, 60.0)),
    )
    async with aiohttp.ClientSession() as http, client:
        admin = Admin(http, server)
        events = client.watch(every=every, jitter=0.1)
        pending = asyncio.ensure_future(anext(events))
        await _polls(events, 1)
        # Idle: nothing new for a while.
        polls, before = events.stats.polls, await admin.requests()
        await _polls(events, polls + params["idle_polls"])
        idle = (await admin.requests() - before) / (events.stats.polls - polls)
        # Busy: a burst of new cases, found by one poll.
        polls, before = events.stats.polls, await admin.requests()
        ids = await admin.create(burst)
        got = [(await pending).case.id]  # type: ignore[union-attr]
        while len(got) < burst:
            got.append((await anext(events)).case.id)  # type: ignore[union-attr]
        if got != ids:
            raise SystemExit("the watch missed, repeated or reordered cases")
        busy_polls = events.stats.polls - polls
        busy = await admin.requests() - before - (busy_polls - 1)  # minus the idle polls
        # Delay from creation to event, for cases created at random moments.
        rng, delays = random.Random(3), []
        for _ in range(params["samples"]):
            await asyncio.sleep(rng.uniform(0, every))
            created = time.monotonic()
            (case_id,) = await admin.create(1)
            event = await anext(events)
            delays.append(time.monotonic() - created)
            if event.case.id != case_id:  # type: ignore[union-attr]
                raise SystemExit("the watch reported another case")
    return {
        "idle_requests_per_poll": idle,
        "busy_requests": float(busy),
        "busy_floor": float(math.ceil(burst / params["page_size"])),
        "burst": float(burst),
        "every": every,
        "delay_mean": statistics.fmean(delays),
        "delay_max": max(delays),
        "ok_complete": 1.0,
    }


def watch(params: Params) -> Result:
    """The ``watch`` child: see the module docstring."""
    return asyncio.run(_run(params))
