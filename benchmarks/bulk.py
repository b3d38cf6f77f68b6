"""``python -m benchmarks.bulk``: requests of a full pull by page size and windows; Polars memory.

1. **Requests.** The same data (``--cases``, 200,000) pulled whole, counted at the fake
   server: ``page_size=50`` against ``page_size="max"`` on a server clamping ``limit``
   at 100 and at 1000, one refusing limits above 250 with 400 (found by halving), and
   ``"max"`` with ``window="auto"``. Requests are what a pull costs on Kore (60 a minute
   per account): the time at 60 a minute is ``requests / 60`` minutes. The pulls run
   without a rate limit so the benchmark takes seconds; their wall time is shown beside.
2. **Memory.** 200,000 cases into a Polars frame, each way side by side (:data:`WAYS`):
   ``to_arrow()`` then ``pl.from_arrow``, or ``iter_record_batches()`` with a frame per
   batch, concatenated; with and without ``string_view=True``, at concurrency 8 and 2.
   Each runs in a child process of its own against a server in another (``--repeat N``
   times, in rounds): peak RSS growth over the RSS before the pull (after a 10-case
   warm-up, so imports are not counted), against the bytes of the frame's buffers (the
   bound, 1.5x: what the frame holds) and against its ``estimated_size()``, which counts
   a string's bytes but not the 16-byte view Polars keeps for every string.

Writes ``benchmarks/_out/bulk.md``; exits 1 if a bound fails (for memory, that of
:data:`RECOMMENDED`, the README's way).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._server import ServerConfig, child_env, running_server  # noqa: E402
from kore_cases.testing import FakeKoreServer  # noqa: E402

KORE_PER_MINUTE = 60
MEMORY_BOUND = 1.5


@dataclass
class Pull:
    name: str
    cases: int
    requests: int
    probes: int
    wall: float
    complete: bool

    @property
    def per_thousand(self) -> float:
        return 1000 * self.requests / self.cases

    @property
    def minutes(self) -> float:
        return self.requests / KORE_PER_MINUTE


async def pull(
    name: str,
    cases: int,
    clamp: int,
    refuse_above: int | None,
    page_size: int | str,
    window: str | None = None,
) -> Pull:
    """Pull every case once; requests counted at the server."""
    server = FakeKoreServer(cases=cases, max_page_size=clamp, cache_pages=True)
    async with server:
        if refuse_above is not None:
            _refuse_limits_above(server, refuse_above)
        async with server.client(concurrency=8, page_size=page_size) as client:  # type: ignore[arg-type]
            started = time.perf_counter()
            got = client.iter_cases(model=_Id, window=window)  # type: ignore[arg-type]
            ids = [case.id async for case in got]
            wall = time.perf_counter() - started
            probes = got.stats.page_size_probes
        complete = ids == server.case_ids()
        return Pull(name, cases, server.stats.requests, probes, wall, complete)


class _Id(msgspec.Struct, gc=False):
    id: str = msgspec.field(name="_id")


def _refuse_limits_above(server: FakeKoreServer, most: int) -> None:
    """Make the server answer 400 to a ``limit`` above ``most`` (as some Kore APIs do)."""
    answer = server._pages.answer

    def refusing(body: Any) -> tuple[int, bytes]:
        if isinstance(body, dict) and isinstance(body.get("limit"), int) and body["limit"] > most:
            error = {"errors": [{"msg": "Invalid request", "code": 400}]}
            return 400, msgspec.json.encode(error)
        return answer(body)

    server._pages.answer = refusing  # type: ignore[method-assign]


async def requests_rows(cases: int) -> list[Pull]:
    return [
        await pull("page_size=50", cases, 1000, None, page_size=50),
        await pull('"max", server clamps at 100', cases, 100, None, page_size="max"),
        await pull('"max", server clamps at 1000', cases, 1000, None, page_size="max"),
        await pull('"max", server refuses > 250 (400)', cases, 1000, 250, page_size="max"),
        await pull(
            '"max" (1000) + window="auto"', cases, 1000, None, page_size="max", window="auto"
        ),
    ]


# -- memory, in a child process ----------------------------------------------------------

_CHILD = r"""
import asyncio, json, sys, gc, threading, time
import msgspec
import polars as pl
import psutil
from kore_cases import CasesClient, JwtAuth

info, way = json.loads(sys.argv[1]), json.loads(sys.argv[2])
options = {"string_view": way["string_view"], "dedupe": way["dedupe"]}
if way["window"]:
    options["window"] = "auto"
process = psutil.Process()
high = [0.0]
sampling = [True]

def rss_mb():
    return process.memory_info().rss / 2**20

def sample():  # the peak RSS during the pull, every 2 ms
    while sampling[0]:
        high[0] = max(high[0], rss_mb())
        time.sleep(0.002)

def buffers_mb(frame):
    # The frame's own buffers, each once: exported to Arrow without a copy.
    table = frame.to_arrow(compat_level=pl.CompatLevel.newest())
    seen = {}
    for column in table.columns:
        for chunk in column.chunks:
            for buffer in chunk.buffers():
                if buffer is not None:
                    seen[buffer.address] = buffer.size
    return sum(seen.values()) / 2**20

async def main():
    client = CasesClient(info["url"], info["stream_id"], info["account_id"],
                         JwtAuth(info["client_id"], info["client_secret"]),
                         page_size="max", rate_limit=None, concurrency=way["concurrency"])
    async with client:
        await client.count()  # session, JWT and decoders warm
        pl.from_arrow(await client.to_arrow(max_items=10, string_view=way["string_view"]))
        gc.collect()
        before = rss_mb()
        high[0] = before
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        if way["way"] == "pull":  # the pull alone: cases kept as JSON, nothing built
            options.pop("string_view")
            pages = client.iter_pages(model=msgspec.Raw, **options)
            rows, frame = sum([len(page.results) async for page in pages]), None
        elif way["way"] == "to_arrow":
            frame = pl.from_arrow(await client.to_arrow(**options), rechunk=way["rechunk"])
        else:
            batches = client.iter_record_batches(**options)
            frames = [pl.from_arrow(b, rechunk=False) async for b in batches]
            frame = pl.concat(frames, how="diagonal_relaxed", rechunk=False)
            del frames
    sampling[0] = False
    sampler.join()
    if frame is not None:
        rows = frame.height
    print(json.dumps({"before": before, "peak": high[0], "rows": rows,
                      "frame_mb": frame.estimated_size() / 2**20 if frame is not None else 0,
                      "buffers_mb": buffers_mb(frame) if frame is not None else 0}))

asyncio.run(main())
"""


@dataclass(frozen=True)
class Way:
    """One way of building the frame: the call, its options, the client's concurrency."""

    way: str  # "to_arrow" (then pl.from_arrow), "batches" (pl.from_arrow per batch) or "pull"
    concurrency: int = 8
    string_view: bool = False
    dedupe: bool = True
    window: bool = False
    rechunk: bool = False  # pl.from_arrow's default is True: one chunk, the views copied

    @property
    def name(self) -> str:
        options = [
            *(["string_view=True"] if self.string_view else []),
            *(["dedupe=False"] if not self.dedupe else []),
            *(['window="auto"'] if self.window else []),
        ]
        if self.way == "pull":
            options.insert(0, "model=msgspec.Raw")
            return f"`iter_pages({', '.join(options)})`, nothing built: the pull alone"
        call = "to_arrow" if self.way == "to_arrow" else "iter_record_batches"
        rechunk = "" if self.rechunk else "rechunk=False"
        suffix = f" + pl.from_arrow({rechunk})" if self.way == "to_arrow" else ", a frame per batch"
        return f"`{call}({', '.join(options)})`{suffix}"


WAYS = (
    Way("to_arrow"),
    Way("batches"),
    Way("to_arrow", string_view=True),
    Way("to_arrow", string_view=True, rechunk=True),
    Way("batches", string_view=True),
    Way("to_arrow", concurrency=2, string_view=True),
    Way("batches", concurrency=2, string_view=True, window=True),
    Way("to_arrow", concurrency=2, string_view=True, dedupe=False),
    Way("pull"),
    Way("pull", dedupe=False),
)


RECOMMENDED = WAYS[2]  # the README's way; its ratio is the one the bound applies to


@dataclass
class Memory:
    way: Way
    rows: int
    frame_mb: float
    buffers_mb: float
    growths_mb: list[float]

    @property
    def growth_mb(self) -> float:
        """The highest peak growth of the runs: the one the bound is held to."""
        return max(self.growths_mb)

    @property
    def median_mb(self) -> float:
        """The median peak growth of the runs."""
        return statistics.median(self.growths_mb)

    @property
    def ratio(self) -> float:
        """Highest peak growth over the bytes of the frame's buffers: the bound's measure."""
        return self.growth_mb / self.buffers_mb

    @property
    def estimate_ratio(self) -> float:
        """Highest peak growth over the frame's ``estimated_size()`` (which omits views)."""
        return self.growth_mb / self.frame_mb


def memory_rows(cases: int, ways: tuple[Way, ...] = WAYS, repeat: int = 1) -> list[Memory]:
    """Each way ``repeat`` times, in rounds (every way once, then again), side by side."""
    results: dict[Way, list[dict[str, Any]]] = {way: [] for way in ways}
    with running_server(ServerConfig(cases=cases, max_page_size=1000, cache_pages=False)) as info:
        for _ in range(repeat):
            for way in ways:
                out = subprocess.run(
                    [sys.executable, "-c", _CHILD, json.dumps(info), json.dumps(way.__dict__)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=child_env(),
                )
                results[way].append(json.loads(out.stdout.strip().splitlines()[-1]))
    return [
        Memory(
            way,
            runs[0]["rows"],
            runs[0]["frame_mb"],
            runs[0]["buffers_mb"],
            [run["peak"] - run["before"] for run in runs],
        )
        for way, runs in results.items()
    ]


def views_left_out() -> str:
    """A one-column frame showing what ``estimated_size()`` leaves out: Polars' views."""
    import polars as pl

    series = pl.Series(["abcde"] * 200_000)
    arrow = series.to_arrow(compat_level=pl.CompatLevel.newest())
    held = sum(b.size for b in arrow.buffers() if b is not None)
    return (
        f"200,000 five-letter strings: `estimated_size()` {series.estimated_size() / 2**20:.1f}"
        f" MB, buffers {held / 2**20:.1f} MB"
    )


# -- report --------------------------------------------------------------------------------


def report(pulls: list[Pull], memory: list[Memory]) -> str:
    lines = [*requests_table(pulls)] if pulls else []
    if pulls and memory:
        lines.append("")
    lines += memory_table(memory) if memory else []
    return "\n".join(lines)


def requests_table(pulls: list[Pull]) -> list[str]:
    """The request rows as a Markdown table, with what they measure above it."""
    cases = pulls[0].cases
    base = pulls[0].requests
    lines = [
        f"Full pull of {cases:,} cases, requests counted at the fake server; time at Kore's "
        f"{KORE_PER_MINUTE} requests/min = requests / {KORE_PER_MINUTE} min.",
        "",
        "| pull | requests | of which refused probes | per 1,000 cases | at 60/min | "
        "vs page 50 | wall (no limit) | every case once |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in pulls:
        lines.append(
            f"| {p.name} | {p.requests:,} | {p.probes} | {p.per_thousand:.1f} | "
            f"{_duration(p.minutes)} | {_fewer(base, p.requests)} | {p.wall:.1f} s | "
            f"{'yes' if p.complete else 'NO'} |"
        )
    return lines


def memory_table(memory: list[Memory]) -> list[str]:
    """The memory rows as a Markdown table, with what they measure above it."""
    first = memory[0]
    runs = len(first.growths_mb)
    lines = [
        f'{first.rows:,} cases into a Polars frame (page_size="max", server limit 1000), '
        f"{runs} run(s) of each way: the highest peak RSS growth during the pull (median "
        "beside it) against the bytes of the frame's buffers (the bound, "
        f"{MEMORY_BOUND}x) and against its `estimated_size()`, which counts a string's "
        f"bytes but not the 16-byte view Polars keeps for each ({views_left_out()}).",
        "",
        "| way | concurrency | frame: buffers | frame: estimated_size | peak RSS growth "
        "(median) | ratio to buffers | ratio to estimated_size | within bound |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in memory:
        growth = f"{m.growth_mb:.0f} MB ({m.median_mb:.0f})"
        if m.way.way == "pull":
            lines.append(f"| {m.way.name} | {m.way.concurrency} | - | - | {growth} | - | - | - |")
            continue
        lines.append(
            f"| {m.way.name} | {m.way.concurrency} | {m.buffers_mb:.0f} MB | {m.frame_mb:.0f} MB"
            f" | {growth} | {m.ratio:.2f}x | {m.estimate_ratio:.2f}x | "
            f"{'yes' if m.ratio <= MEMORY_BOUND else 'NO'} |"
        )
    return lines


def _duration(minutes: float) -> str:
    if minutes >= 90:
        return f"{minutes / 60:.1f} h"
    return f"{minutes:.1f} min" if minutes >= 1 else f"{minutes * 60:.0f} s"


def _fewer(base: int, requests: int) -> str:
    return "-" if requests == base else f"{base / requests:.1f}x fewer"


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bulk", description=__doc__)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--memory-cases", type=int, default=200_000)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-only", action="store_true")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each memory way (the highest counts)"
    )
    args = parser.parse_args(argv)
    pulls = [] if args.memory_only else await requests_rows(args.cases)
    memory = [] if args.skip_memory else memory_rows(args.memory_cases, repeat=args.repeat)
    text = report(pulls, memory)
    print(text)
    out = HERE / "_out"
    out.mkdir(exist_ok=True)
    (out / "bulk.md").write_text(text + "\n")
    ok = all(p.complete for p in pulls)
    ok = ok and all(m.ratio <= MEMORY_BOUND for m in memory if m.way == RECOMMENDED)
    if pulls:
        auto = pulls[-1]
        ok = ok and auto.requests <= 1.05 * math.ceil(auto.cases / 1000) + 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
