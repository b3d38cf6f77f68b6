"""The measurements, each run in a fresh process: ``python -m benchmarks._scenarios NAME PARAMS``.

``PARAMS`` is a JSON object (with ``server``, the fake server's JSON line, when the
scenario needs one). The process prints one JSON object of numbers on its last line,
always with ``peak_rss_mb`` (its own peak resident set size). Variants compared with
each other run in the same process, interleaved, so their ratio is measured side by side.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kore_cases import Case, CasesClient, JwtAuth, RateLimit, StaticToken

from ._watch import watch

Params = dict[str, Any]
Result = dict[str, float]


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class Sink:
    """Consumes a case and drops it; counts the characters of its id so the work is real."""

    def __init__(self) -> None:
        self.chars = 0

    def __call__(self, case: Any) -> None:
        self.chars += len(case.id)


def client(server: Params, *, static_token: bool = False, **options: Any) -> CasesClient:
    """A client of the fake server: a fresh JWT per request, or one token minted up front."""
    options.setdefault("rate_limit", None)
    auth: JwtAuth | StaticToken = JwtAuth(server["client_id"], server["client_secret"])
    if static_token:
        auth = StaticToken(auth.token())
    return CasesClient(server["url"], server["stream_id"], server["account_id"], auth, **options)


async def kore_pull(
    server: Params, sink: Callable[[Any], None], *, pull: Params | None = None, **options: Any
) -> dict[str, Any]:
    """Consume every case with ``iter_cases``; return the count and the pull's stats."""
    async with client(server, **options) as kore, kore.iter_cases(**(pull or {})) as cases:
        count = 0
        async for case in cases:
            sink(case)
            count += 1
    return {"count": count, "stats": cases.stats}


async def kore_pages(server: Params, sink: Callable[[Any], None], **options: Any) -> int:
    """Consume every case page by page with ``iter_pages(dedupe=False)`` (a diagnostic)."""
    async with client(server, **options) as kore, kore.iter_pages(dedupe=False) as pages:
        count = 0
        async for page in pages:
            for case in page.results:
                sink(case)
            count += len(page.results)
    return count


async def timed(run: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await run()
    return time.perf_counter() - started, result


async def warm_up(server: Params, expected: int) -> None:
    """Pull every page once, unmeasured: fills the server's page cache, warms our code."""
    from ._baselines import concurrent_aiohttp_msgspec

    count = await concurrent_aiohttp_msgspec(server, Sink(), concurrency=32)
    check(count == expected, f"warm-up pulled {count} cases, expected {expected}")


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"benchmark check failed: {message}")


# -- 1. decode ---------------------------------------------------------------------------------


async def _sample_page(cases: int) -> bytes:
    """Page 1 of ``cases`` documented cases, as the fake server encodes it."""
    import aiohttp

    from kore_cases.testing import FakeKoreServer

    from ._baselines import body, headers

    async with FakeKoreServer(cases=cases * 20) as fake:
        server = {
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "account_id": fake.account_id,
        }
        async with (
            aiohttp.ClientSession(headers=headers(server)) as session,
            session.post(fake.endpoint, data=body(1, cases)) as resp,
        ):
            resp.raise_for_status()
            data: bytes = await resp.read()
            return data


def decode(params: Params) -> Result:
    import orjson

    from kore_cases.models import page_decoder

    from ._baselines import CaseRow, PydPage

    page = asyncio.run(_sample_page(params["cases"]))
    decoders: dict[str, Callable[[bytes], Any]] = {
        "kore": page_decoder(Case).decode,
        "projection": page_decoder(CaseRow).decode,
        "json": json.loads,
        "orjson": orjson.loads,
        "pydantic": PydPage.model_validate_json,
        "pydantic_loads": lambda data: PydPage.model_validate(json.loads(data)),
    }
    kore = decoders["kore"](page)
    check(len(kore.results) == params["cases"], "the sample page is short")
    check(all(c.created_at and c.status and c.priority for c in kore.results), "sparse sample")
    check(len(PydPage.model_validate_json(page).results) == params["cases"], "pydantic")
    result: Result = {"page_kib": len(page) / 1024}
    # The collector runs, as in an application; then paused, as timeit does.
    for suffix, collect in (("", True), ("_nogc", False)):
        if not collect:
            gc.disable()
        us = _time_calls(decoders, page, params["number"], params["rounds"])
        gc.enable()
        result.update({f"{name}{suffix}_us": value for name, value in us.items()})
        for name in ("json", "orjson", "pydantic", "pydantic_loads"):
            result[f"x_{name}{suffix}"] = us[name] / us["kore"]
        result[f"x_projection{suffix}"] = us["kore"] / us["projection"]
    return result


def _time_calls(
    fns: dict[str, Callable[[bytes], Any]], data: bytes, number: int, rounds: int
) -> dict[str, float]:
    """Microseconds per call: the median over interleaved rounds of the mean per round."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            started = time.perf_counter()
            for _ in range(number):
                fn(data)
            times[name].append((time.perf_counter() - started) / number)
    return {name: statistics.median(values) * 1e6 for name, values in times.items()}


# -- 2. latency-bound pull ---------------------------------------------------------------------


async def _latency(params: Params) -> Result:
    from ._baselines import (
        concurrent_aiohttp_msgspec,
        sequential_aiohttp,
        sequential_httpx_pydantic,
    )

    server, total = params["server"], params["cases"]
    await warm_up(server, total)
    concurrency = params["concurrency"]
    runs: dict[str, Callable[[], Awaitable[Any]]] = {
        "kore": lambda: kore_pull(server, Sink(), concurrency=concurrency),
        "seq_aiohttp": lambda: sequential_aiohttp(server, Sink()),
        "seq_httpx": lambda: sequential_httpx_pydantic(server, Sink()),
        "hand": lambda: concurrent_aiohttp_msgspec(server, Sink(), concurrency=concurrency),
    }
    result: Result = {}
    for name in _rotated(list(runs), params.get("run", 0)):
        seconds, outcome = await timed(runs[name])
        count = outcome["count"] if isinstance(outcome, dict) else outcome
        check(count == total, f"{name} pulled {count} cases, expected {total}")
        result[f"{name}_s"] = seconds
    pages = math.ceil(total / params["page_size"])
    ideal = params["latency_ms"] / 1000 * (1 + math.ceil((pages - 1) / concurrency))
    result["ideal_s"] = ideal
    result["x_seq_aiohttp"] = result["seq_aiohttp_s"] / result["kore_s"]
    result["x_seq_httpx"] = result["seq_httpx_s"] / result["kore_s"]
    result["over_ideal"] = result["kore_s"] / ideal
    result["hand_over_ideal"] = result["hand_s"] / ideal
    return result


def latency(params: Params) -> Result:
    return asyncio.run(_latency(params))


def _rotated(names: list[str], run: int) -> list[str]:
    """The variants in a different order each run, so none always goes first."""
    k = run % len(names)
    return names[k:] + names[:k]


# -- 3. CPU-bound pull -------------------------------------------------------------------------


async def _cpu(params: Params) -> Result:
    from ._baselines import concurrent_aiohttp_msgspec

    server, total, concurrency = params["server"], params["cases"], params["concurrency"]
    await warm_up(server, total)
    runs: dict[str, Callable[[], Awaitable[Any]]] = {
        "kore": lambda: kore_pull(server, Sink(), concurrency=concurrency),
        "hand": lambda: concurrent_aiohttp_msgspec(server, Sink(), concurrency=concurrency),
        "kore_pages": lambda: kore_pages(server, Sink(), concurrency=concurrency),
        "kore_static": lambda: kore_pull(
            server, Sink(), concurrency=concurrency, static_token=True
        ),
    }
    # Diagnostics: the same two pulls with the garbage collector paused.
    runs["kore_nogc"], runs["hand_nogc"] = runs["kore"], runs["hand"]
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for rep in range(params["reps"]):
        for name in _rotated(list(runs), rep + params.get("run", 0)):
            if name.endswith("_nogc"):
                gc.disable()
            cpu_started = time.process_time()
            seconds, outcome = await timed(runs[name])
            cpu[name].append(time.process_time() - cpu_started)
            gc.enable()
            count = outcome["count"] if isinstance(outcome, dict) else outcome
            check(count == total, f"{name} pulled {count} cases, expected {total}")
            wall[name].append(seconds)
    result: Result = {}
    for name in runs:
        result[f"{name}_cps"] = total / statistics.median(wall[name])
        result[f"{name}_cpu_us"] = statistics.median(cpu[name]) / total * 1e6
    result["ratio"] = result["kore_cps"] / result["hand_cps"]
    result["pages_ratio"] = result["kore_pages_cps"] / result["hand_cps"]
    result["nogc_ratio"] = result["kore_nogc_cps"] / result["hand_nogc_cps"]
    result["static_ratio"] = result["kore_static_cps"] / result["hand_cps"]
    return result


def cpu(params: Params) -> Result:
    return asyncio.run(_cpu(params))


# -- 4. memory ---------------------------------------------------------------------------------


def memory(params: Params) -> Result:
    gc.collect()
    before = peak_rss_mb()
    pull = {"max_items": params["items"], "dedupe": params["dedupe"]}
    seconds, outcome = asyncio.run(timed(lambda: kore_pull(params["server"], Sink(), pull=pull)))
    check(outcome["count"] == params["items"], f"pulled {outcome['count']} cases")
    return {"seconds": seconds, "rss_before_mb": before, "cases": outcome["count"]}


# -- 5. rate-limited ---------------------------------------------------------------------------


async def _ratelimit(params: Params) -> Result:
    server, total = params["server"], params["cases"]
    n, window = params["rate"]
    limit = RateLimit((n, float(window))) if params["known"] else None
    ids: list[str] = []
    seconds, outcome = await timed(
        lambda: kore_pull(server, lambda case: ids.append(case.id), rate_limit=limit)
    )
    stats = outcome["stats"]
    check(len(ids) == total and len(set(ids)) == total, f"{len(set(ids))} distinct ids of {total}")
    pages = math.ceil(total / params["page_size"])
    ideal = (math.ceil(pages / n) - 1) * window + params["latency_ms"] / 1000
    return {
        "seconds": seconds,
        "pages": pages,
        "ideal_s": ideal,
        "fraction": ideal / seconds,
        "pages_per_s": pages / seconds,
        "steady_pages_per_s": n / window,
        "rate_limited": stats.rate_limited,
        "requests": stats.requests,
        "ok_complete": 1.0,
    }


def ratelimit(params: Params) -> Result:
    return asyncio.run(_ratelimit(params))


# -- 6. auth -----------------------------------------------------------------------------------


def _rsa_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def auth(params: Params) -> Result:
    auths = {
        "hs256": JwtAuth("cs-bench", "bench-secret-0123456789abcdef0123456789"),
        "rs256": JwtAuth("cs-bench", _rsa_pem(), algorithm="RS256"),
    }
    result: Result = {}
    for name, each in auths.items():
        number = params["number"] if name == "hs256" else max(1, params["number"] // 20)
        rounds = []
        for _ in range(params["rounds"]):
            started = time.perf_counter()
            for _ in range(number):
                each.token()
            rounds.append((time.perf_counter() - started) / number)
        result[f"{name}_us"] = statistics.median(rounds) * 1e6
    return result


# -- the throughput curve ----------------------------------------------------------------------


async def _curve(params: Params) -> Result:
    from ._baselines import sequential_aiohttp

    server, total = params["server"], params["cases"]
    await warm_up(server, total)
    result: Result = {}
    seconds, count = await timed(lambda: sequential_aiohttp(server, Sink()))
    check(count == total, f"the sequential loop pulled {count} cases")
    result["seq_cps"] = total / seconds
    for concurrency in params["concurrencies"]:
        seconds, outcome = await timed(
            lambda c=concurrency: kore_pull(server, Sink(), concurrency=c)
        )
        check(outcome["count"] == total, f"concurrency {concurrency}: {outcome['count']} cases")
        result[f"kore_cps_{concurrency}"] = total / seconds
    return result


def curve(params: Params) -> Result:
    return asyncio.run(_curve(params))


SCENARIOS: dict[str, Callable[[Params], Result]] = {
    "decode": decode,
    "latency": latency,
    "cpu": cpu,
    "memory": memory,
    "ratelimit": ratelimit,
    "auth": auth,
    "curve": curve,
    "watch": watch,
}


def main() -> None:
    name, params = sys.argv[1], json.loads(sys.argv[2])
    result = SCENARIOS[name](params)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
