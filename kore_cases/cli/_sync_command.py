"""The ``sync`` command: keep a local Parquet dataset of the matching cases up to date.

Everything goes through :meth:`CasesClient.sync`; this module draws its progress (months
written, cases, requests a minute, and an ETA from the account's request budget) and
prints a one-screen summary.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .. import CasesClient, MissingExtraError, RateLimit, SyncProgress, SyncSummary
from . import _flags, _output
from ._common import EXIT_OK, PROG, UsageError, plural
from ._errors import failure

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["cmd_sync", "eta_seconds", "summary_lines"]

_RESUME_NOTE = "the dataset keeps every month completed; run the same command again to continue"


def cmd_sync(args: argparse.Namespace) -> int:
    """Bring the dataset in ``DIR`` up to date with the cases matching the filter flags."""
    if args.sort:
        raise UsageError("sync reads cases newest first to fill the months in order: drop --sort")
    case_filter = _flags.case_filter(args)
    client = _flags.client(args)
    progress = _output.bar_wanted(args)
    try:
        summary = asyncio.run(_sync(args, client, case_filter, progress))
    except ValueError as exc:  # SyncStateError included
        if "full refresh" not in str(exc):
            raise
        raise UsageError(str(exc).replace("a full refresh", "--full-refresh")) from exc
    except (Exception, KeyboardInterrupt) as exc:
        if isinstance(exc, (UsageError, MissingExtraError)):
            raise
        return failure(args, exc, note=_RESUME_NOTE)
    if not args.quiet:
        print("\n".join(summary_lines(summary, client.rate_limit)), file=sys.stderr)
    return EXIT_OK


async def _sync(
    args: argparse.Namespace, client: CasesClient, case_filter: Any, progress: bool
) -> SyncSummary:
    async with client:
        with _SyncBar(progress, client.rate_limit) as bar:
            return await client.sync(
                args.directory,
                case_filter,
                refresh_days=args.refresh_days,
                full_refresh=args.full_refresh,
                on_progress=bar.update,
            )


def _requests_per_second(rate_limit: RateLimit | None) -> float | None:
    """The steady rate the budget allows: its tightest window."""
    if rate_limit is None:
        return None
    return min(count / seconds for count, seconds in rate_limit.windows)


def eta_seconds(progress: SyncProgress, rate_limit: RateLimit | None) -> float | None:
    """Seconds left: the requests still planned at the budget's rate (or the rate so far)."""
    left = max(0, progress.requests_planned - progress.requests)
    rate = _requests_per_second(rate_limit)
    if progress.elapsed > 0 and progress.requests:
        observed = progress.requests / progress.elapsed
        rate = observed if rate is None else min(rate, observed)
    if not rate:
        return None
    return left / rate


class _SyncBar:
    """Requests done of planned, months written, cases, requests a minute, ETA; or nothing."""

    def __init__(self, enabled: bool, rate_limit: RateLimit | None) -> None:
        self._rate_limit = rate_limit
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if enabled:
            self._progress = _make_progress()
            self._task = self._progress.add_task(
                "Syncing", total=None, planned="?", months=0, cases=0, per_minute=0.0, eta="?"
            )
        self._drawn = 0.0
        self._last: SyncProgress | None = None

    def __enter__(self) -> _SyncBar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            if self._last is not None:
                self.update(self._last, final=True)  # the last counters, however throttled
            self._progress.stop()

    def update(self, progress: SyncProgress, *, final: bool = False) -> None:
        """Redraw from ``progress``, at most ten times a second."""
        if self._progress is None or self._task is None:
            return
        self._last = progress
        now = time.monotonic()
        if now - self._drawn < 0.1 and not final:
            return
        self._drawn = now
        eta = eta_seconds(progress, self._rate_limit)
        minutes = progress.elapsed / 60
        self._progress.update(
            self._task,
            description=f"Sync: {progress.phase}",
            completed=progress.requests,
            total=progress.requests_planned or None,
            planned=f"{progress.requests_planned:,}" if progress.requests_planned else "?",
            months=progress.months_written,
            cases=progress.cases,
            per_minute=progress.requests / minutes if minutes > 0 else 0.0,
            eta="?" if eta is None else _duration(eta),
        )


def _make_progress() -> Progress:
    _output.require_rich("the progress bar")
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(bar_width=16),
        TextColumn(
            "{task.completed:,.0f}/{task.fields[planned]} requests · {task.fields[months]:,} "
            "months · {task.fields[cases]:,} cases · {task.fields[per_minute]:,.0f}/min · "
            "ETA {task.fields[eta]}"
        ),
        console=Console(stderr=True),
        auto_refresh=True,
        refresh_per_second=10,
    )


def _duration(seconds: float) -> str:
    """``42 s``, ``3:05`` (minutes), ``5:33:20`` (hours)."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def summary_lines(summary: SyncSummary, rate_limit: RateLimit | None) -> list[str]:
    """The one-screen summary of a run."""
    kind = "first sync" if summary.first else "update"
    if summary.resumed:
        kind += ", continued"
    lines = [
        f"{PROG}: synced {summary.directory} ({kind}) in {summary.elapsed:,.1f} s",
        f"  cases     {summary.total:,} in the dataset: {summary.new:,} new, "
        f"{summary.changed:,} changed, {summary.unchanged:,} unchanged, "
        f"{summary.removed:,} removed",
        f"  files     {plural(summary.months_written, 'month')} written",
    ]
    share = summary.requests / summary.full_pull_requests if summary.full_pull_requests else 0
    requests = (
        f"  requests  {summary.requests:,} (a full pull: {summary.full_pull_requests:,}; "
        f"{share:.0%})"
    )
    if summary.probes:
        requests += f", of which {plural(summary.probes, 'probe')} for resolved cases"
    lines.append(requests)
    rate = _requests_per_second(rate_limit)
    if rate:
        lines.append(
            f"  budget    {_duration(summary.requests / rate)} at "
            f"{math.floor(rate * 60):,} requests/min (a full pull: "
            f"{_duration(summary.full_pull_requests / rate)})"
        )
    if summary.high_water:
        lines.append(f"  newest    {summary.high_water} (server time)")
    return lines
