"""``benchmarks/throughput.png``: cases per second against concurrency at 50 ms per page."""

from __future__ import annotations

from pathlib import Path

from ._suite import CONCURRENCIES, CURVE_CASES, LATENCY_MS, PAGE_SIZE, ideal_cps

# Kore's documented limit for runtime public APIs: 600 requests per 60 s.
KORE_LIMIT_PAGES_PER_S = 600 / 60.0


def plot(curve: dict[str, float], path: Path, cpu_cps: float | None = None) -> None:
    """Draw kore-cases, the sequential loop and the ideal line; save to ``path``.

    ``cpu_cps`` is the CPU-bound pull's rate (no latency), drawn as the ceiling the
    curve bends towards.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = CURVE_CASES
    xs = list(CONCURRENCIES)
    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=120)
    ax.plot(xs, [ideal_cps(c, cases) for c in xs], "k--", label="ideal: latency only")
    ax.plot(xs, [curve[f"kore_cps_{c}"] for c in xs], "o-", color="tab:blue", label="kore-cases")
    ax.axhline(curve["seq_cps"], color="tab:red", label="sequential aiohttp loop")
    if cpu_cps is not None:
        ax.axhline(
            cpu_cps, color="tab:blue", linestyle="--", alpha=0.6, label="kore-cases, no latency"
        )
    ax.axhline(
        KORE_LIMIT_PAGES_PER_S * PAGE_SIZE,
        color="tab:gray",
        linestyle=":",
        label="Kore's documented limit (600 req/min)",
    )
    ax.axvline(8, color="tab:green", alpha=0.4, linewidth=6, label="default concurrency (8)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(xs, [str(c) for c in xs])
    ax.set_xlabel("concurrency (requests in flight)")
    ax.set_ylabel("cases per second")
    ax.set_title(
        f"{cases // PAGE_SIZE} pages of {PAGE_SIZE} at {LATENCY_MS:g} ms per page "
        "(fake server, loopback)"
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
