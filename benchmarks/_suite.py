"""The scenarios as the parent process sees them: what to run, and what the numbers mean.

Each scenario lists its jobs (one fresh child process each, with its own fake server when
it needs one), how many runs to take the median of, and how to turn the aggregated
numbers into table rows with their targets. ``quick`` shrinks every size for a smoke test.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._server import ServerConfig

Agg = dict[str, dict[str, float]]  # job key -> metric -> aggregated value

PAGE_SIZE = 50
LATENCY_MS = 50.0
CONCURRENCIES = (1, 2, 4, 8, 16, 32)


@dataclass(frozen=True)
class Job:
    """One child process: ``python -m benchmarks._scenarios CHILD PARAMS``."""

    key: str
    child: str
    params: dict[str, Any]
    server: ServerConfig | None = None


@dataclass
class Row:
    """One figure of the table."""

    scenario: str
    figure: str
    result: str
    target: str = ""
    met: bool | None = None  # None: reported, no target
    detail: str = ""
    rss_mb: float | None = None
    why: str = ""  # what limits it, shown when the target is missed


@dataclass
class Scenario:
    name: str
    title: str
    runs: tuple[int, int]  # (full, quick)
    jobs: Callable[[bool], list[Job]]
    rows: Callable[[Agg, bool], list[Row]]
    meaning: str
    full_only: bool = False
    notes: list[str] = field(default_factory=list)


def _x(value: float) -> str:
    return f"{value:.2f}x"


def _rss(agg: Agg, *keys: str) -> float:
    return max(agg[k]["peak_rss_mb"] for k in keys)


# -- 1. decode ---------------------------------------------------------------------------------


def _decode_jobs(quick: bool) -> list[Job]:
    params = {"cases": PAGE_SIZE, "number": 20 if quick else 100, "rounds": 3 if quick else 7}
    return [Job("decode", "decode", params)]


def _decode_rows(agg: Agg, quick: bool) -> list[Row]:
    d = agg["decode"]
    rss = d["peak_rss_mb"]
    times = (
        f"µs per page of {PAGE_SIZE} ({d['page_kib']:.0f} KiB): kore-cases {d['kore_us']:.0f}, "
        f"json.loads {d['json_us']:.0f}, orjson {d['orjson_us']:.0f}, "
        f"pydantic {d['pydantic_us']:.0f}, projection {d['projection_us']:.0f}"
    )
    gc_why = (
        f"with the garbage collector paused (as timeit does) the same decode is "
        f"{_x(d['x_json_nogc'])} json.loads ({d['kore_nogc_us']:.0f} vs "
        f"{d['json_nogc_us']:.0f} µs): collector passes triggered by the GC-tracked Structs "
        f"cost {100 * (1 - d['kore_nogc_us'] / d['kore_us']):.0f}% of the decode"
    )
    return [
        Row(
            "Decode",
            "`page_decoder(Case)` vs `json.loads` to dicts",
            _x(d["x_json"]),
            "≥ 2.50x",
            d["x_json"] >= 2.5,
            times,
            rss,
            gc_why,
        ),
        Row(
            "Decode",
            "vs pydantic v2 `model_validate_json` (same fields)",
            _x(d["x_pydantic"]),
            "≥ 4.00x",
            d["x_pydantic"] >= 4.0,
            f"`json.loads` + `model_validate`: {_x(d['x_pydantic_loads'])}",
            rss,
            gc_why,
        ),
        Row(
            "Decode",
            "vs `orjson.loads` to dicts",
            _x(d["x_orjson"]),
            detail="reference, no target",
            rss_mb=rss,
        ),
        Row(
            "Decode",
            "projection `model=CaseRow` vs full `Case`",
            _x(d["x_projection"]),
            detail="faster again, for a user who needs a few fields",
            rss_mb=rss,
        ),
        Row(
            "Decode",
            "same ratios, collector paused",
            f"{_x(d['x_json_nogc'])} / {_x(d['x_pydantic_nogc'])}",
            detail="vs json.loads / vs pydantic, as timeit measures them",
            rss_mb=rss,
        ),
    ]


# -- 2. latency-bound pull ---------------------------------------------------------------------


def _latency_cases(quick: bool) -> int:
    return (40 if quick else 200) * PAGE_SIZE


def _latency_jobs(quick: bool) -> list[Job]:
    cases = _latency_cases(quick)
    server = ServerConfig(cases=cases, latency_ms=LATENCY_MS, cache_pages=True)
    params = {
        "cases": cases,
        "page_size": PAGE_SIZE,
        "latency_ms": LATENCY_MS,
        "concurrency": 10,
    }
    return [Job("latency", "latency", params, server)]


def _latency_rows(agg: Agg, quick: bool) -> list[Row]:
    d = agg["latency"]
    rss = d["peak_rss_mb"]
    pages = _latency_cases(quick) // PAGE_SIZE
    times = (
        f"{pages} pages at {LATENCY_MS:g} ms: kore-cases {d['kore_s']:.2f} s, sequential "
        f"aiohttp {d['seq_aiohttp_s']:.2f} s, httpx+pydantic {d['seq_httpx_s']:.2f} s"
    )
    return [
        Row(
            "Latency-bound",
            "`iter_cases` (concurrency 10) vs sequential aiohttp loop",
            _x(d["x_seq_aiohttp"]),
            "≥ 8.00x",
            d["x_seq_aiohttp"] >= 8.0,
            times,
            rss,
            f"the sequential loop cannot beat {pages} * {LATENCY_MS:g} ms; kore-cases is "
            f"{_x(d['over_ideal'])} its ideal",
        ),
        Row(
            "Latency-bound",
            "vs sequential httpx + pydantic loop",
            _x(d["x_seq_httpx"]),
            detail="no target",
            rss_mb=rss,
        ),
        Row(
            "Latency-bound",
            "time / ideal `latency * (1 + ceil((pages-1)/concurrency))`",
            _x(d["over_ideal"]),
            "≤ 1.15x",
            d["over_ideal"] <= 1.15,
            f"ideal {d['ideal_s']:.2f} s; hand-written concurrent aiohttp + msgspec loop at "
            f"the same concurrency: {_x(d['hand_over_ideal'])} ideal",
            rss,
            f"the hand-written concurrent loop is itself {_x(d['hand_over_ideal'])} the "
            "ideal, which counts latency only: the rest is per-request work (client and "
            "fake server share 2 cores)",
        ),
    ]


# -- 3. CPU-bound pull -------------------------------------------------------------------------


def _cpu_jobs(quick: bool) -> list[Job]:
    cases = (200 if quick else 1000) * PAGE_SIZE
    server = ServerConfig(cases=cases, cache_pages=True)
    params = {"cases": cases, "concurrency": 8, "reps": 1 if quick else 3}
    return [Job("cpu", "cpu", params, server)]


def _cpu_rows(agg: Agg, quick: bool) -> list[Row]:
    d = agg["cpu"]
    gap = d["kore_cpu_us"] - d["hand_cpu_us"]
    jwt = d["kore_cpu_us"] - d["kore_static_cpu_us"]
    return [
        Row(
            "CPU-bound",
            "`iter_cases` vs hand-written concurrent aiohttp + msgspec loop (cases/s)",
            _x(d["ratio"]),
            "≥ 0.85x",
            d["ratio"] >= 0.85,
            f"{d['kore_cps']:,.0f} vs {d['hand_cps']:,.0f} cases/s at concurrency 8; client "
            f"CPU per case {d['kore_cpu_us']:.1f} vs {d['hand_cpu_us']:.1f} µs. Diagnostics: "
            f"`StaticToken` {_x(d['static_ratio'])}, `iter_pages(dedupe=False)` "
            f"{_x(d['pages_ratio'])}, collector paused {_x(d['nogc_ratio'])}",
            d["peak_rss_mb"],
            f"the client process is CPU-bound: {d['kore_cpu_us']:.1f} µs of CPU per case "
            f"against the floor's {d['hand_cpu_us']:.1f} µs. Of the {gap:.1f} µs gap, a fresh "
            f"JWT per request (the floor mints one for the whole pull) is {jwt:.1f} µs: with "
            f"a `StaticToken` the ratio is {_x(d['static_ratio'])}. `iter_pages(dedupe=False)`, "
            "without the per-case step and the id hashing, gets "
            f"{_x(d['pages_ratio'])}; with the garbage collector paused the ratio is "
            f"{_x(d['nogc_ratio'])}. The rest is per-page scheduling: a task, a throttle turn "
            "and an in-order hand-off for every page",
        )
    ]


# -- 4. memory ---------------------------------------------------------------------------------


def _memory_sizes(quick: bool) -> tuple[int, int]:
    return (2_000, 20_000) if quick else (20_000, 200_000)


def _memory_jobs(quick: bool) -> list[Job]:
    small, large = _memory_sizes(quick)
    server = ServerConfig(cases=large)
    return [
        Job(f"{items}-{dedupe}", "memory", {"items": items, "dedupe": dedupe}, server)
        for dedupe in (False, True)
        for items in (small, large)
    ]


def _memory_rows(agg: Agg, quick: bool) -> list[Row]:
    small, large = _memory_sizes(quick)
    rows = []
    for dedupe in (False, True):
        a, b = agg[f"{small}-{dedupe}"], agg[f"{large}-{dedupe}"]
        growth = b["peak_rss_mb"] / a["peak_rss_mb"] - 1
        label = f"`dedupe={dedupe}`"
        base = f"interpreter and imports before the pull: {a['rss_before_mb']:.0f} MB"
        if dedupe:
            per_case = (b["peak_rss_mb"] - a["peak_rss_mb"]) * 2**20 / (large - small)
            base += f"; the id set costs ≈ {per_case:.0f} bytes per case"
        rows.append(
            Row(
                "Memory",
                f"peak RSS pulling {large:,} cases, {label}",
                f"{b['peak_rss_mb']:.0f} MB",
                "≤ 150 MB" if not dedupe else "",
                b["peak_rss_mb"] <= 150 if not dedupe else None,
                f"{small:,} cases: {a['peak_rss_mb']:.0f} MB; {base}",
                b["peak_rss_mb"],
            )
        )
        rows.append(
            Row(
                "Memory",
                f"RSS growth {small:,} → {large:,} cases, {label}",
                f"{100 * growth:+.1f}%",
                "≤ 20%" if not dedupe else "",
                growth <= 0.2 if not dedupe else None,
                f"pull of {large:,}: {b['seconds']:.1f} s",
                b["peak_rss_mb"],
            )
        )
    return rows


# -- 5. rate-limited ---------------------------------------------------------------------------

RATE = (20, 2.0)


def _rate_cases(quick: bool) -> int:
    return (40 if quick else 120) * PAGE_SIZE


def _rate_jobs(quick: bool) -> list[Job]:
    cases = _rate_cases(quick)
    server = ServerConfig(cases=cases, latency_ms=LATENCY_MS, rate=RATE)
    base = {"cases": cases, "page_size": PAGE_SIZE, "rate": RATE, "latency_ms": LATENCY_MS}
    return [
        Job(key, "ratelimit", {**base, "known": key == "known"}, server)
        for key in ("known", "unknown")
    ]


def _rate_rows(agg: Agg, quick: bool) -> list[Row]:
    n, window = RATE
    rows = []
    for key, label, floor in (
        ("known", f"`rate_limit=RateLimit(({n}, {window:g}))`", 0.9),
        ("unknown", "`rate_limit=None` (limit unknown)", 0.7),
    ):
        d = agg[key]
        why = (
            f"{d['seconds'] - d['ideal_s']:.2f} s over the ideal, which sends each window's "
            f"{n} requests at once: with concurrency 8 they take {math.ceil(n / 8)} round "
            "trips, page 1 goes alone first, and a slot is held a whole window after its "
            "response"
        )
        if key == "unknown":
            why += f"; {d['rate_limited']:.0f} 429s each paused the client for Retry-After"
        complete = d["ok_complete"] == 1.0
        clean = d["rate_limited"] == 0 if key == "known" else complete
        rows.append(
            Row(
                "Rate-limited",
                f"fraction of the ceiling, {label}",
                f"{d['fraction']:.2f}",
                f"≥ {floor:.2f}",
                d["fraction"] >= floor,
                f"{d['pages']:.0f} pages in {d['seconds']:.2f} s (ideal {d['ideal_s']:.2f} s); "
                f"{d['pages_per_s']:.1f} pages/s vs steady state {n / window:g}/s",
                d["peak_rss_mb"],
                why,
            )
        )
        rows.append(
            Row(
                "Rate-limited",
                f"429s received, {label}",
                f"{d['rate_limited']:.0f} (of {d['requests']:.0f} requests)",
                "0" if key == "known" else "all ids once",
                clean,
                "every id exactly once" if complete else "ids lost or repeated",
                d["peak_rss_mb"],
            )
        )
    return rows


# -- 6. auth -----------------------------------------------------------------------------------


def _auth_jobs(quick: bool) -> list[Job]:
    return [Job("auth", "auth", {"number": 1000 if quick else 5000, "rounds": 3 if quick else 7})]


def _auth_rows(agg: Agg, quick: bool) -> list[Row]:
    d = agg["auth"]
    return [
        Row(
            "Auth",
            f"`JwtAuth.token()` {alg.upper()}",
            f"{d[f'{alg}_us']:.1f} µs",
            detail=f"{1e6 / d[f'{alg}_us']:,.0f} tokens/s; one per request",
            rss_mb=d["peak_rss_mb"],
        )
        for alg in ("hs256", "rs256")
    ]


# -- the throughput curve ----------------------------------------------------------------------


CURVE_CASES = 200 * PAGE_SIZE  # the throughput curve pulls 200 pages at every concurrency


def ideal_cps(concurrency: int, cases: int) -> float:
    pages = math.ceil(cases / PAGE_SIZE)
    return cases / (LATENCY_MS / 1000 * (1 + math.ceil((pages - 1) / concurrency)))


def _curve_jobs(quick: bool) -> list[Job]:
    cases = CURVE_CASES
    server = ServerConfig(cases=cases, latency_ms=LATENCY_MS, cache_pages=True)
    return [Job("curve", "curve", {"cases": cases, "concurrencies": list(CONCURRENCIES)}, server)]


def _curve_rows(agg: Agg, quick: bool) -> list[Row]:
    d, cases = agg["curve"], CURVE_CASES
    points = ", ".join(
        f"{c}: {d[f'kore_cps_{c}'] / ideal_cps(c, cases):.2f}" for c in CONCURRENCIES
    )
    return [
        Row(
            "Throughput curve",
            f"cases/s at concurrency 8 / sequential loop ({LATENCY_MS:g} ms per page)",
            _x(d["kore_cps_8"] / d["seq_cps"]),
            detail=f"fraction of ideal by concurrency: {points}",
            rss_mb=d["peak_rss_mb"],
        )
    ]


# -- 7. watch ----------------------------------------------------------------------------------


def _watch_jobs(quick: bool) -> list[Job]:
    params = {
        "every": 0.5 if quick else 2.0,
        "page_size": PAGE_SIZE,
        "burst": 120,
        "idle_polls": 3 if quick else 10,
        "samples": 3 if quick else 10,
    }
    return [Job("watch", "watch", params, ServerConfig(cases=2000, latency_ms=LATENCY_MS))]


def _watch_rows(agg: Agg, quick: bool) -> list[Row]:
    d = agg["watch"]
    floor = d["busy_floor"]
    bound = d["every"] * 1.1 + 3 * LATENCY_MS / 1000
    return [
        Row(
            "Watch",
            "requests per idle poll (at the server)",
            f"{d['idle_requests_per_poll']:.2f}",
            "= 1",
            d["idle_requests_per_poll"] == 1.0,
            rss_mb=d["peak_rss_mb"],
        ),
        Row(
            "Watch",
            f"requests for {d['burst']:.0f} new cases, page size {PAGE_SIZE}",
            f"{d['busy_requests']:.0f}",
            f"≤ ceil(N/page_size) + 1 = {floor + 1:.0f}",
            d["busy_requests"] <= floor + 1,
        ),
        Row(
            "Watch",
            f"delay from creation to event, every={d['every']:g} s",
            f"mean {d['delay_mean']:.2f} s, max {d['delay_max']:.2f} s",
            f"max ≤ every x 1.1 + 3 latencies = {bound:.2f} s",
            d["delay_max"] <= bound,
            "mean about every/2: a case waits for the next poll",
        ),
    ]


SCENARIOS: list[Scenario] = [
    Scenario(
        "decode",
        "1. Decode one page",
        (5, 1),
        _decode_jobs,
        _decode_rows,
        "Turning a page's bytes into typed `Case` objects costs less than `json.loads` "
        "into plain dicts, and a projection Struct (`model=`) cuts it several times again.",
    ),
    Scenario(
        "latency",
        "2. Latency-bound pull",
        (5, 1),
        _latency_jobs,
        _latency_rows,
        "When the server's latency dominates, as it does over the internet, a pull takes "
        "about `1/concurrency` of the time of a page-by-page loop.",
    ),
    Scenario(
        "cpu",
        "3. CPU-bound pull",
        (5, 1),
        _cpu_jobs,
        _cpu_rows,
        "When nothing waits on the network, the client's own overhead is what is left: "
        "this is how close kore-cases gets to the fastest loop one could write by hand.",
    ),
    Scenario(
        "memory",
        "4. Memory",
        (3, 1),
        _memory_jobs,
        _memory_rows,
        "A pull's memory is bounded by the prefetch window, not the size of the result: "
        "ten times the cases costs no more RAM (with `dedupe=True`, a hash per case).",
    ),
    Scenario(
        "ratelimit",
        "5. Rate-limited pull",
        (3, 1),
        _rate_jobs,
        _rate_rows,
        "Given the server's limit, the client runs at the limit without a single 429; "
        "without it, 429s cost a pause, never a lost or repeated case.",
    ),
    Scenario(
        "auth",
        "6. Auth",
        (5, 1),
        _auth_jobs,
        _auth_rows,
        "A fresh JWT per request (unique `jti`) is cheap with HS256 and costs more with "
        "RS256, still far below a page's network time.",
    ),
    Scenario(
        "watch",
        "7. Watching for new cases",
        (1, 1),
        _watch_jobs,
        _watch_rows,
        "A bot's `client.watch()` costs one request per idle poll and about "
        "`ceil(N / page_size)` for N new cases (counted at the server), and reports a case "
        "within about one `every` of its creation.",
    ),
    Scenario(
        "throughput",
        "Throughput against concurrency",
        (3, 1),
        _curve_jobs,
        _curve_rows,
        "The picture below.",
        full_only=True,
    ),
]
