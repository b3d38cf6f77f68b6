"""The table, ``RESULTS.md`` and the README's Performance section."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

from ._suite import RATE, Row, Scenario

COMMAND = 'pip install -e ".[bench]" && python -m benchmarks'
LIBRARIES = (
    "kore-cases",
    "aiohttp",
    "msgspec",
    "anyio",
    "joserfc",
    "httpx",
    "pydantic",
    "orjson",
    "matplotlib",
)


def table(rows: list[Row]) -> str:
    """The Markdown table of every figure."""
    lines = [
        "| Scenario | Figure | Result | Target | Met | Details (shown, not asserted) | Peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        met = {True: "yes", False: "**no**", None: "-"}[row.met]
        rss = f"{row.rss_mb:.0f} MB" if row.rss_mb is not None else ""
        cells = (row.scenario, row.figure, row.result, row.target or "-", met, row.detail, rss)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def missed(rows: list[Row]) -> list[str]:
    """One line per missed target, saying what limits it."""
    return [
        f"- **{row.scenario}, {row.figure}**: {row.result} against a target of {row.target}; "
        f"{row.why or 'see the details column'}."
        for row in rows
        if row.met is False
    ]


def machine() -> list[str]:
    """Where and with what the numbers were taken."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            names = [ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    memory = ""
    try:
        import psutil

        memory = f", {psutil.virtual_memory().total / 2**30:.0f} GiB RAM"
    except ImportError:
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = f"; load average at the end {os.getloadavg()[0]:.2f}"
    versions = []
    for name in LIBRARIES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return [
        f"- Machine: {cpu}, {os.cpu_count()} logical cores{memory}{load}",
        f"- Source: {_source_state()}",
        f"- OS: {platform.platform()}",
        f"- Python: {platform.python_implementation()} {platform.python_version()}",
        f"- Libraries: {', '.join(versions)}",
    ]


def _source_state() -> str:
    """The commit measured, and whether the library had uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "kore_cases"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"git {head}" + (" with uncommitted changes to kore_cases/" if dirty else "")


def method(runs: dict[str, int]) -> list[str]:
    n, window = RATE
    run_list = ", ".join(f"{name} {count}" for name, count in runs.items())
    return [
        "- Every scenario runs in a fresh `python` subprocess; the fake Kore server "
        "(`kore-cases serve --port 0 --json`: `FakeKoreServer`, aiohttp on 127.0.0.1) "
        "runs in a process of its own, started afresh for each run. The machine is shared "
        "and has few cores, so every figure with a target is a **ratio of variants "
        "measured side by side in the same process and run**; absolute times are shown "
        "for orientation and never asserted.",
        f"- Each figure is the median over runs ({run_list}); peak RSS is the child "
        "process's `ru_maxrss`, the largest over runs. All clients use `rate_limit=None` "
        "except in the rate-limited scenario.",
        "- Decode: page 1 of the fake server's documented cases (50 per page), every "
        "decoder timed in interleaved rounds with the garbage collector running, as in an "
        "application; the same ratios with the collector paused are shown as well. The "
        "pydantic v2 models have the same fields as `Case`.",
        "- Latency- and CPU-bound pulls: the server keeps encoded pages (`--cache-pages`) and "
        "an unmeasured warm-up pull of every page comes first, so the fake server's own JSON "
        "encoding is not measured. The sequential aiohttp loop uses the same msgspec decoder "
        "as kore-cases, so it differs in pagination only. Baselines mint one JWT and reuse "
        "it; kore-cases mints one per request.",
        "- The CPU-bound floor is page 1, then `asyncio.Semaphore` + `asyncio.gather` over "
        "pages 2..N, each decoded by `msgspec.json.Decoder(CasesPage[Case])` and consumed "
        "on arrival, unordered and without dedupe.",
        "- Memory: each pull consumes every case and drops it; 20,000 and 200,000 cases from "
        "one 200,000-case server (`max_items`), each in its own process.",
        f"- Rate-limited: the server allows {n} requests per {window:g} s (sliding window, "
        "counted on arrival, 429 with `Retry-After` beyond it) and answers after 50 ms. "
        f"**Ceiling**: N requests under a limit of n per W seconds need at least "
        "`(ceil(N/n) - 1) * W` plus one round-trip (here the server's 50 ms, loopback time "
        "left out, which makes the ideal slightly optimistic); the *fraction of the "
        f"ceiling* is that ideal time divided by the measured time. Pages per second are "
        f"shown against the steady state n/W = {n / window:g}/s.",
    ]


def results_md(rows: list[Row], scenarios: list[Scenario], runs: dict[str, int], curve: str) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# kore-cases benchmark results",
        "",
        f"Produced by `python -m benchmarks` on {now}. Reproduce with `{COMMAND}`.",
        "",
        "## Machine",
        "",
        *machine(),
        "",
        "## How it was measured",
        "",
        *method(runs),
        "",
        "## Results",
        "",
        table(rows),
        "",
        "## What it means",
        "",
        *meanings(scenarios),
    ]
    miss = missed(rows)
    if miss:
        parts += ["", "## Targets missed", "", *miss]
    if any(s.name == "throughput" for s in scenarios):
        parts += ["", "## Throughput against concurrency", "", "![throughput](throughput.png)"]
        parts += ["", curve]
    return "\n".join(parts) + "\n"


def meanings(scenarios: list[Scenario]) -> list[str]:
    return [f"- **{s.title}.** {s.meaning}" for s in scenarios if s.name != "throughput"]


def readme_section(rows: list[Row], scenarios: list[Scenario], curve: str) -> str:
    """The body of the README's ``## Performance`` section."""
    parts = [
        *requests_lead(),
        "Measured with `python -m benchmarks` against the fake Kore server on loopback; "
        "every figure with a target is a ratio of variants run side by side, so it holds "
        "on a busy machine. Machine, versions and method: "
        "[benchmarks/RESULTS.md](benchmarks/RESULTS.md).",
        "",
        table(rows),
        "",
        "Reproduce (about eight minutes on 2 cores; `--quick` for a smoke test under a minute, "
        "`--only NAME` for one scenario). Results go to `benchmarks/_out/` (git-ignored); "
        "`--update-docs` after a full run also rewrites this section, "
        "`benchmarks/RESULTS.md` and `benchmarks/throughput.png`:",
        "",
        "```bash",
        COMMAND,
        "```",
        "",
        *meanings(scenarios),
        "",
        "![throughput](benchmarks/throughput.png)",
        "",
        curve,
    ]
    miss = missed(rows)
    if miss:
        parts += ["", "Targets missed in this run, and what limits them:", "", *miss]
    return "\n".join(parts) + "\n"


def requests_lead() -> list[str]:
    """What leads the section: the requests (and time at 60 a minute) of a full pull and
    of a sync, from ``benchmarks/SYNC.md`` (``python -m benchmarks.sync --update-docs``)."""
    lead = Path(__file__).resolve().parent / "SYNC.md"
    if not lead.exists():
        return []
    return [
        "**Requests** are what Kore's 60 a minute make scarce "
        "(`python -m benchmarks.sync`, [benchmarks/sync.py](benchmarks/sync.py)):",
        "",
        lead.read_text().strip(),
        "",
        "**Speed and memory** of the client itself:",
        "",
    ]


def update_readme(path: Path, body: str) -> None:
    """Replace only the body of ``## Performance`` (up to the next ``## `` heading)."""
    text = path.read_text()
    match = re.search(r"^## Performance\n(.*?)(?=^## )", text, flags=re.S | re.M)
    if match is None:
        raise SystemExit(f"{path} has no '## Performance' section followed by another section")
    path.write_text(text[: match.start(1)] + "\n" + body + "\n" + text[match.end(1) :])
