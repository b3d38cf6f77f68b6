"""``python -m benchmarks``: run every scenario, print the table, write the results.

Each run of each scenario is a fresh child process (``benchmarks._scenarios``), with the
fake Kore server in a process of its own. Every run writes to ``benchmarks/_out/``
(git-ignored) only, so reproducing the numbers leaves the checkout clean:
``RESULTS.md`` for a full run (no ``--quick``, no ``--only``), ``RESULTS-quick.md`` or
``RESULTS-partial.md`` otherwise, and ``throughput.png`` when the curve was measured.
``--update-docs`` (full runs only) also replaces the committed ``benchmarks/RESULTS.md``,
``benchmarks/throughput.png`` and the body of the README's ``## Performance`` section.
A full run also runs ``benchmarks.sync`` (requests of a full pull and of a first and a
second sync), whose table leads that section, and ``benchmarks.budget`` (pulls against
Kore's shape of rate limit: ratios to the ceiling, 429s); ``--quick`` runs
``benchmarks.sync --smoke`` (2,000 cases) unless ``--only`` is given.

The exit status is 1 when a child fails, a pull loses or repeats cases, or a sync's
dataset differs from the server's or sends more requests than its bound; a missed
timing target is reported, never an error (CI may run ``--quick`` but must not judge it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from . import _report
from ._server import ROOT, child_env, running_server
from ._suite import (
    CONCURRENCIES,
    CURVE_CASES,
    LATENCY_MS,
    PAGE_SIZE,
    SCENARIOS,
    Agg,
    Job,
    Row,
    Scenario,
    ideal_cps,
)

HERE = Path(__file__).resolve().parent
# Aggregated conservatively rather than by the median.
_WORST_MAX = ("peak_rss_mb", "rate_limited")
_WORST_MIN = ("ok_complete",)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each (< 1 min)")
    parser.add_argument(
        "--only",
        action="append",
        choices=[s.name for s in SCENARIOS],
        metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(s.name for s in SCENARIOS)}",
    )
    parser.add_argument("--runs", type=int, help="runs per scenario (default: 5 or 3; 1 quick)")
    parser.add_argument("--no-write", action="store_true", help="write nothing, print the table")
    parser.add_argument(
        "--update-docs",
        action="store_true",
        help="after a full run, also update the committed RESULTS.md, throughput.png and "
        "README.md (otherwise only benchmarks/_out/ is written)",
    )
    args = parser.parse_args(argv)
    if args.update_docs and (args.quick or args.only or args.no_write):
        parser.error("--update-docs needs a full run: drop --quick, --only and --no-write")
    return args


def run_job(job: Job, run: int) -> dict[str, float]:
    """Run one job in a fresh child process (with a fresh server) and return its numbers."""
    params: dict[str, Any] = {**job.params, "run": run}
    if job.server is None:
        return _child(job, params)
    with running_server(job.server) as server:
        return _child(job, {**params, "server": server})


def _child(job: Job, params: dict[str, Any]) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks._scenarios", job.child, json.dumps(params)]
    proc = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, env=child_env(), timeout=900
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"benchmark {job.child}/{job.key} failed (exit {proc.returncode})")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def aggregate(runs: list[dict[str, float]]) -> dict[str, float]:
    """Median of every metric over runs; worst case for RSS, 429s and completeness."""
    out: dict[str, float] = {}
    for key in runs[0]:
        values = [r[key] for r in runs]
        if key in _WORST_MAX:
            out[key] = max(values)
        elif key in _WORST_MIN:
            out[key] = min(values)
        else:
            out[key] = statistics.median(values)
    return out


def run_scenario(scenario: Scenario, quick: bool, runs: int) -> Agg:
    per_job: dict[str, list[dict[str, float]]] = defaultdict(list)
    for run in range(runs):
        started = time.monotonic()
        for job in scenario.jobs(quick):
            per_job[job.key].append(run_job(job, run))
        elapsed = time.monotonic() - started
        print(f"  {scenario.name}: run {run + 1}/{runs} in {elapsed:.1f} s", file=sys.stderr)
    return {key: aggregate(values) for key, values in per_job.items()}


def curve_text(curve: dict[str, float], cpu_cps: float | None) -> str:
    """What the picture shows, in numbers from this run."""
    frac = {c: curve[f"kore_cps_{c}"] / ideal_cps(c, CURVE_CASES) for c in CONCURRENCIES}
    text = (
        f"At {LATENCY_MS:g} ms per page the sequential loop manages {curve['seq_cps']:,.0f} "
        f"cases/s; kore-cases reaches {curve['kore_cps_8']:,.0f} at the default concurrency "
        f"of 8 ({frac[8]:.0%} of ideal) and {curve['kore_cps_32']:,.0f} at 32 ({frac[32]:.0%} "
        "of ideal). "
    )
    if cpu_cps is not None:
        knee = cpu_cps / PAGE_SIZE * LATENCY_MS / 1000
        text += (
            "The curve bends where the requests in flight deliver pages faster than the "
            f"client can decode and hand them out: the CPU-bound pull above tops out at "
            f"{cpu_cps:,.0f} cases/s (the dashed line), which {LATENCY_MS:g} ms pages reach "
            f"at about {knee:.0f} requests in flight; the longer the latency, the later the "
            "bend. "
        )
    return text + (
        "Against the real service the ceiling is the rate limit: Kore documents 60 "
        "requests a minute per account for Case Management (50 cases/s at 50 per page), so "
        "these speeds matter for servers with a raised limit; at Kore's, what counts is "
        "requests per case and 429s avoided (`python -m benchmarks.budget`)."
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = [
        s
        for s in SCENARIOS
        if (not args.only or s.name in args.only) and not (args.quick and s.full_only)
    ]
    full = not args.quick and not args.only
    rows: list[Row] = []
    runs_used: dict[str, int] = {}
    curve: dict[str, float] | None = None
    cpu_cps: float | None = None
    started = time.monotonic()
    for scenario in chosen:
        runs = args.runs or scenario.runs[1 if args.quick else 0]
        runs_used[scenario.name] = runs
        print(f"{scenario.title} ({runs} run{'s' * (runs > 1)})", file=sys.stderr)
        agg = run_scenario(scenario, args.quick, runs)
        rows += scenario.rows(agg, args.quick)
        if scenario.name == "throughput":
            curve = agg["curve"]
        if scenario.name == "cpu":
            cpu_cps = agg["cpu"]["kore_cps"]
    synced = True
    if (full and not args.no_write) or (args.quick and not args.only):
        # Requests, the scarce resource at Kore: a full pull and a first and second sync
        # (benchmarks/sync.py); with --update-docs its table leads the README section.
        print("Requests of a full pull and of a sync (benchmarks.sync)", file=sys.stderr)
        sync_args = ["--update-docs"] if args.update_docs else []
        sync_args += ["--smoke"] if args.quick else []
        command = [sys.executable, "-m", "benchmarks.sync", *sync_args]
        synced = subprocess.run(command, cwd=ROOT, check=False).returncode == 0
    if full and not args.no_write:
        # The account's budget at Kore's shape of limit (window shrunk): ratios to the
        # ceiling and 429s, as the README's Performance and Rate limits sections show.
        print("The account's budget (benchmarks.budget)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "benchmarks.budget"], cwd=ROOT, check=False)
    quick_note = (
        "**--quick**: small sizes and one run each, a smoke test; these figures are not "
        "comparable with the targets.\n\n"
        if args.quick
        else ""
    )
    print(quick_note + _report.table(rows))
    for line in _report.missed(rows):
        print(line)
    print(f"\n{time.monotonic() - started:.0f} s in all", file=sys.stderr)
    if args.no_write:
        return _status(rows, synced)
    out = HERE / "_out"
    out.mkdir(exist_ok=True)
    name = "RESULTS.md" if full else ("RESULTS-quick.md" if args.quick else "RESULTS-partial.md")
    written = [out / name]
    if curve is not None:
        from ._plot import plot

        plot(curve, out / "throughput.png", cpu_cps)
        written.append(out / "throughput.png")
    text = curve_text(curve, cpu_cps) if curve is not None else ""
    (out / name).write_text(quick_note + _report.results_md(rows, chosen, runs_used, text))
    if args.update_docs:
        for path in written:
            shutil.copyfile(path, HERE / path.name)
        _report.update_readme(ROOT / "README.md", _report.readme_section(rows, chosen, text))
        written = [HERE / path.name for path in written] + [ROOT / "README.md"]
    print(f"wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    return _status(rows, synced)


def _status(rows: list[Row], synced: bool) -> int:
    """1 when a pull lost or repeated cases or the sync benchmark failed; timings never
    fail the command."""
    lossy = [r for r in rows if r.target == "all ids once" and r.met is False]
    return 1 if lossy or not synced else 0


if __name__ == "__main__":
    sys.exit(main())
