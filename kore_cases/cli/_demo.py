"""The ``demo`` command: a pull from an embedded fake server, with progress and a summary."""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import RateLimit
from . import _output
from ._common import EXIT_OK, plural

if TYPE_CHECKING:
    from .. import PullStats
    from ..testing import FakeKoreServer

__all__ = ["DEMO_RATE_LIMITS", "cmd_demo"]

# Ten times Kore's documented 60 requests a minute per account: at Kore's own limit the
# 5,000-case demo (100 pages) would take 100 s; at this one, about ten.
DEMO_RATE_LIMITS = ((600, 60.0),)


@dataclass
class _Tally:
    """What the demo counts while it pulls."""

    status: Counter[str] = field(default_factory=Counter)
    priority: Counter[str] = field(default_factory=Counter)


def cmd_demo(args: argparse.Namespace) -> int:
    """Pull every case from an embedded fake server, with a progress bar and a summary."""
    _output.require_rich("the demo's progress bar and tables")
    from ..testing import FakeKoreServer

    latency = args.latency_ms / 1000
    server = FakeKoreServer(
        cases=args.cases,
        seed=args.seed,
        # The mean stays at --latency-ms; the jitter reorders answers, as a real network does.
        latency=latency * 0.8,
        latency_jitter=latency * 0.4,
        rate_limits=() if args.no_rate_limit else DEMO_RATE_LIMITS,
        fault_rate=args.fault_rate,
    )
    return asyncio.run(_demo(args, server))


async def _demo(args: argparse.Namespace, server: FakeKoreServer) -> int:
    tally = _Tally()
    async with server:
        client = server.client(
            page_size=args.page_size,
            concurrency=args.concurrency,
            rate_limit=None if args.no_rate_limit else RateLimit(*DEMO_RATE_LIMITS),
        )
        if not args.quiet:
            print(f"Fake Kore server with {_limits(args)}", flush=True)
        async with client, client.iter_cases() as cases:
            with _output.Bar(_output.progress_wanted(args), "Pulling", server.total_cases) as bar:
                async for case in cases:
                    tally.status[_name(case.status)] += 1
                    tally.priority[_name(case.priority)] += 1
                    bar.update(cases.stats, page_size=args.page_size)
                bar.update(cases.stats, final=True)
    _print_demo_summary(cases.stats, tally, args)
    return EXIT_OK


def _limits(args: argparse.Namespace) -> str:
    """Which rate limit the demo runs under, said plainly."""
    if args.no_rate_limit:
        return "no rate limit"
    (count, seconds), *_ = DEMO_RATE_LIMITS
    return (
        f"a rate limit of {count} requests per {seconds:g} s per account, ten times Kore's "
        "documented 60 a minute so that the demo takes seconds"
    )


def _name(part: Any) -> str:
    name = getattr(part, "name", None)
    return name if isinstance(name, str) and name else "(none)"


def _print_demo_summary(stats: PullStats, tally: _Tally, args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    console.print(
        f"[bold]Pulled {plural(stats.cases, 'case')}[/] in {plural(stats.pages, 'page')} in "
        f"{stats.elapsed:.2f} s: [bold]{stats.cases_per_second:,.0f} cases/s[/]"
    )
    console.print(_traffic(stats))
    console.print(
        f"[dim]fake server: {args.latency_ms:g} ms ± 20%, {_limits(args)}; "
        f"concurrency {args.concurrency}, page size {args.page_size}[/]"
    )
    grid = Table.grid(padding=(0, 4))
    grid.add_row(
        _count_table("Status", tally.status, stats.cases),
        _count_table("Priority", tally.priority, stats.cases),
    )
    console.print(grid)


def _traffic(stats: PullStats) -> str:
    """Requests and what slowed them down, leaving out what did not happen."""
    parts = [plural(stats.requests, "request"), plural(stats.retries, "retry")]
    if stats.rate_limited:
        parts.append(f"{stats.rate_limited:,} answered 429")
    # Seconds rather than the number of waits, and only when they add up: the library
    # also counts the moments a request queues behind another for the rate windows.
    if stats.throttled_seconds >= 1.0:
        parts.append(f"{stats.throttled_seconds:,.1f} s waiting for rate limits")
    return ", ".join(parts)


def _count_table(title: str, counts: Counter[str], total: int) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column(title)
    table.add_column("Cases", justify="right")
    table.add_column("Share", justify="right")
    for name, count in counts.most_common():
        share = count / total if total else 0.0
        table.add_row(name, f"{count:,}", f"{share:.1%}")
    return table
