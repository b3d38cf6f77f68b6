"""``python -m benchmarks.sync``: requests and time of a first and a second sync.

Requests are what a sync costs on Kore (60 a minute per account), so they are counted
at the fake server, and the time at 60 a minute is ``requests / 60`` minutes. The runs
themselves go with a raised rate limit so that the benchmark takes seconds, not hours;
their wall time (local CPU and disk) is reported beside.

* a full pull of ``--cases`` at 50 a page and at ``page_size="max"``: the requests a
  sync saves start with the page size;
* first sync: ``--cases`` (200,000) cases over two years, the server clamping ``limit``
  at ``--page`` (100); the bound is ``1.05 * ceil(N / page)``; the dataset must equal
  the server's set (ids and raw JSON).
* second sync: ``--second-cases`` (100,000) cases, those older than the refresh window
  99% resolved; after 1% of changes within the refresh rules (new cases, changes to
  recent cases and to old unresolved ones, a few of those resolved), the second sync
  must send no more than the rules need and at most 10% of the first sync's requests,
  and the dataset must again equal the server's set.

Writes ``benchmarks/_out/sync.md``; ``--update-docs`` also writes ``benchmarks/SYNC.md``,
which leads the README's Performance section. Exits 1 if a bound or an equality fails.
``--smoke`` (2,000 cases, a few seconds; ``python -m benchmarks --quick`` runs it) writes
``benchmarks/_out/sync-smoke.md`` and judges the second sync by the refresh rules only:
at that size a page holds too large a share of the data for the 10% bound to mean much.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the scenario the tests use

import msgspec  # noqa: E402
import pyarrow.dataset as pads  # noqa: E402
from sync_scenario import age, churn, newest_created, second_sync_needs, server_set  # noqa: E402

from kore_cases.testing import FakeKoreServer  # noqa: E402

from . import _report  # noqa: E402

REFRESH = timedelta(days=30)
KORE_PER_MINUTE = 60


@dataclass
class Run:
    name: str
    cases: int
    requests: int
    bound: int
    wall: float
    equal: bool

    @property
    def minutes_at_kore_rate(self) -> float:
        return self.requests / KORE_PER_MINUTE

    @property
    def ok(self) -> bool:
        return self.equal and self.requests <= self.bound


def dataset_set(directory: Path) -> dict[str, str]:
    table = pads.dataset(directory, format="parquet", partitioning="hive").to_table(
        columns=["id", "raw"]
    )
    return dict(zip(table.column("id").to_pylist(), table.column("raw").to_pylist(), strict=True))


async def full_pull(cases: int, page: int, page_size: int | str) -> Run:
    """Every case through ``iter_pages``, as an export does (no dataset)."""
    async with FakeKoreServer(cases=cases, max_page_size=page) as server:
        async with server.client(page_size=page_size) as client:  # type: ignore[arg-type]
            started = time.perf_counter()
            count = 0
            async for got in client.iter_pages(model=msgspec.Raw, dedupe=False):
                count += len(got.results)
            wall = time.perf_counter() - started
        size = page if page_size == "max" else int(page_size)
        bound = math.ceil(cases / size)
        name = f"full pull, page_size={page_size!r}"
        return Run(name, cases, server.stats.requests, bound, wall, count == cases)


async def first_sync(cases: int, page: int, directory: Path) -> Run:
    async with FakeKoreServer(cases=cases, max_page_size=page) as server:
        async with server.client(page_size="max") as client:
            started = time.perf_counter()
            await client.sync(directory)
            wall = time.perf_counter() - started
        bound = math.floor(1.05 * math.ceil(cases / page))
        equal = dataset_set(directory) == server_set(server)
        return Run("first sync", cases, server.stats.requests, bound, wall, equal)


async def second_sync(
    cases: int, page: int, directory: Path, *, ratio: bool = True
) -> tuple[Run, Run]:
    async with FakeKoreServer(cases=cases, max_page_size=page) as server:
        age(server, older_than=REFRESH, keep_every=100)
        async with server.client(page_size="max") as client:
            started = time.perf_counter()
            await client.sync(directory)
            first_wall = time.perf_counter() - started
            first_requests = server.stats.requests
            high_water = newest_created(server)
            one_percent = cases // 100
            resolved = max(1, one_percent // 50)
            churn(
                server,
                refresh=REFRESH,
                new=one_percent // 2,
                recent=one_percent * 3 // 10,
                old_unresolved=one_percent // 5 - resolved,
                old_resolved=resolved,
            )
            server.reset_stats()
            started = time.perf_counter()
            await client.sync(directory)
            wall = time.perf_counter() - started
        needs = second_sync_needs(server, high_water, REFRESH, page, left=resolved)
        bound = min(needs, math.floor(0.10 * first_requests)) if ratio else needs
        equal = dataset_set(directory) == server_set(server)
        requests = server.stats.requests
        first = Run("first sync, aged", cases, first_requests, first_requests, first_wall, True)
        second = Run("second sync, 1% changed", cases, requests, bound, wall, equal)
        return first, second


def report(runs: list[Run], page: int, *, ratio: bool = True) -> str:
    second = "what the refresh rules need" + (" and at most 10% of the first" if ratio else "")
    lines = [
        f"Sync against the fake server (limit clamped at {page}); time at Kore's "
        f"{KORE_PER_MINUTE} requests/min = requests / {KORE_PER_MINUTE} min. Bounds: a full "
        f"pull, one request per page; a first sync, 1.05 x that; a second sync, {second}. "
        "Complete: every case, and for a sync the dataset equal to the server's set (ids "
        "and raw JSON).",
        "",
        "| run | cases | requests | bound | at 60/min | wall (raised limit) | complete |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run.name} | {run.cases:,} | {run.requests:,} | {run.bound:,} | "
            f"{run.minutes_at_kore_rate:,.1f} min | {run.wall:,.1f} s | "
            f"{'yes' if run.equal else 'NO'} |"
        )
    return "\n".join(lines)


def lead_readme(path: Path) -> None:
    """Put ``SYNC.md`` at the head of the README's Performance section (in place of the
    one there, if any); ``python -m benchmarks --update-docs`` keeps it there."""
    text = path.read_text()
    head = "## Performance\n\n"
    start = text.index(head) + len(head)
    rest = text[start:]
    marker = "**Speed and memory** of the client itself:\n\n"
    if marker in rest:
        rest = rest[rest.index(marker) + len(marker) :]
    path.write_text(text[:start] + "\n".join(_report.requests_lead()) + "\n" + rest)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sync", description=__doc__)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--second-cases", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=100)
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="20,000 and 10,000 cases")
    sizes.add_argument(
        "--smoke", action="store_true", help="2,000 cases, page 50: a smoke test in seconds"
    )
    parser.add_argument("--update-docs", action="store_true", help="write benchmarks/SYNC.md")
    args = parser.parse_args(argv)
    if args.update_docs and args.smoke:
        parser.error("--update-docs needs the full sizes or --quick, not --smoke")
    if args.quick:
        args.cases, args.second_cases = 20_000, 10_000
    if args.smoke:
        args.cases, args.second_cases, args.page = 2_000, 2_000, 50
    runs = [
        await full_pull(args.cases, args.page, 50),
        await full_pull(args.cases, args.page, "max"),
    ]
    with tempfile.TemporaryDirectory() as first_dir, tempfile.TemporaryDirectory() as second_dir:
        runs.append(await first_sync(args.cases, args.page, Path(first_dir)))
        second = await second_sync(
            args.second_cases, args.page, Path(second_dir), ratio=not args.smoke
        )
        runs.extend(second)
    text = report(runs, args.page, ratio=not args.smoke)
    print(text)
    out = HERE / "_out"
    out.mkdir(exist_ok=True)
    (out / ("sync-smoke.md" if args.smoke else "sync.md")).write_text(text + "\n")
    if args.update_docs:
        (HERE / "SYNC.md").write_text(text + "\n")
        lead_readme(HERE.parent / "README.md")
    return 0 if all(run.ok for run in runs) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
