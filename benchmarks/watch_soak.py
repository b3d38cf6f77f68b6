"""A long watch under trouble: ``python -m benchmarks.watch_soak --minutes 10``.

One fake server (in this process) churns cases (created, changed, resolved, deleted),
answers some requests with 5xx or a reset, answers 429 *without* Retry-After once its own
budget (below the client's) is spent, and is stopped and restarted half-way. Two watches
run in one loop: ``mode="new"`` over everything, resumed from its state file after a
simulated crash every minute or so, and ``mode="set"`` over the unresolved critical cases.

At the end it checks: every case created was reported by the new-mode watch (repeats only
for the events being handled at a crash), the set-mode watch's view equals the server's
set, and a waiting watch ends within a second of its cancel. Prints one JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kore_cases import CaseFilter, CasesClient, RateLimit
from kore_cases.testing import Churn, FakeKoreServer

SET_FILTER = CaseFilter(priority=["critical"], unresolved=True, unassigned=True)


class Recorder:
    """Every id the server created, and every event each watch reported."""

    def __init__(self, server: FakeKoreServer) -> None:
        self.created: list[str] = []
        original = server.create_cases

        def create_cases(count: int = 1, **options: Any) -> list[str]:
            ids = original(count, **options)
            self.created += ids
            return ids

        server.create_cases = create_cases  # type: ignore[method-assign]


async def new_mode(
    client: CasesClient, state: Path, every: float, seen: list[str], stop: asyncio.Event
) -> dict[str, int]:
    rng = random.Random(7)
    crashes, crashed_on = 0, []
    while not stop.is_set():
        deadline = time.monotonic() + rng.uniform(30, 90)
        try:
            async with client.watch(every=every, state_file=state) as events:
                while not stop.is_set():
                    try:
                        event = await asyncio.wait_for(anext(events), 1.0)
                    except asyncio.TimeoutError:
                        if time.monotonic() > deadline:
                            raise RuntimeError("simulated crash") from None
                        continue
                    seen.append(event.case.id)  # type: ignore[union-attr]
                    if time.monotonic() > deadline:
                        crashed_on.append(seen[-1])
                        raise RuntimeError("simulated crash")
        except RuntimeError:
            crashes += 1
    return {"crashes": crashes, "crashed_on_event": len(crashed_on)}


async def set_mode(client: CasesClient, every: float, stop: asyncio.Event) -> tuple[int, set[str]]:
    """Run a set watch until ``stop``; return its event count and its view of the set."""
    counts: collections.Counter[str] = collections.Counter()
    async with client.watch(SET_FILTER, every=every, mode="set") as events:
        while not stop.is_set():
            try:
                event = await asyncio.wait_for(anext(events), 1.0)
            except asyncio.TimeoutError:
                continue
            counts[event.kind] += 1
        view = set(events.cursor.versions)  # what the events taken add up to
    return sum(counts.values()), view


async def main_async(minutes: float, every: float) -> dict[str, Any]:
    rng = random.Random(1)
    port = _free_port()
    # Its 429s come from the window only, without Retry-After, as Kore's do (no "429" fault).
    server = FakeKoreServer(
        cases=300,
        seed=11,
        port=port,
        rate_limits=[(120, 60.0)],
        fault_rate=0.03,
        fault_kinds=("500", "502", "503", "reset"),
    )
    await server.start()
    recorder = Recorder(server)
    tmp = Path(tempfile.mkdtemp(prefix="watch-soak-"))
    client = server.client(rate_limit=RateLimit((600, 60.0)), max_retries=2)
    seen: list[str] = []
    stop = asyncio.Event()
    started = time.monotonic()
    restarted = False
    async with client:
        # Both watches first find "now" (their first poll), then the cases start moving.
        set_task = asyncio.ensure_future(set_mode(client, every, stop))
        new_task = asyncio.ensure_future(new_mode(client, tmp / "new.json", every, seen, stop))
        await asyncio.sleep(3 * every)
        churn = Churn(server, per_second=4, seed=3)
        churn.start()
        while time.monotonic() - started < minutes * 60:
            await asyncio.sleep(5)
            live = server.case_ids()[:200]
            if live and rng.random() < 0.5:
                victim = rng.choice(live)
                if victim in seen:  # a case deleted before any poll saw it is no miss
                    server.delete_case(victim)
            if rng.random() < 0.1:
                server.create_cases(rng.choice([60, 150]))  # a burst
            if not restarted and time.monotonic() - started > minutes * 30:
                restarted = True
                await server.close()  # the server goes away for a few seconds...
                await asyncio.sleep(5)
                await server.start()  # ...and comes back on the same port, data kept
        await churn.stop()
        await asyncio.sleep(every * 6)  # let both watches catch up with the last changes
        stop.set()
        crash_info = await new_task
        set_events, view = await set_task
        # A waiting watch ends within a second of its cancel.
        events = client.watch(every=3600)
        waiting = asyncio.ensure_future(anext(events))
        for _ in range(6000):  # wait for a first poll, whatever its outcome (at most a minute)
            if events.stats.polls + events.stats.failed_polls:
                break
            await asyncio.sleep(0.01)
        begun = time.monotonic()
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        cancel_seconds = time.monotonic() - begun
    expected_set = set(server.case_ids(SET_FILTER.to_body()))
    await server.close()
    counts = collections.Counter(seen)
    missed = set(recorder.created) - set(counts)
    repeats = sum(n - 1 for n in counts.values() if n > 1)
    for case_id in sorted(missed):  # for the investigation: where each missed case was
        case = server.get_case(case_id)
        when = case["createdAt"] if case else "deleted"
        print(f"missed {case_id} (#{recorder.created.index(case_id)}, {when})", file=sys.stderr)
    return {
        "minutes": minutes,
        "every": every,
        "created": len(recorder.created),
        "reported_new": len(counts),
        "missed": len(missed),
        "repeats": repeats,
        **crash_info,
        "set_events": set_events,
        "set_view_matches_server": view == expected_set,
        "set_size": len(expected_set),
        "server_requests": server.stats.requests,
        "server_429s": server.stats.rate_limited,
        "server_faults": server.stats.faults_injected,
        "churn": dict(churn.counts),
        "server_restarted": restarted,
        "cancel_seconds": round(cancel_seconds, 4),
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=1.0)
    args = parser.parse_args(argv)
    summary = asyncio.run(main_async(args.minutes, args.every))
    print(json.dumps(summary, indent=2))
    ok = (
        summary["missed"] == 0
        and summary["repeats"] <= summary["crashed_on_event"]
        and summary["set_view_matches_server"]
        and summary["cancel_seconds"] < 1.0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
