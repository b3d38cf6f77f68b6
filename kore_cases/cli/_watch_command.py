"""The ``watch`` command: one JSON line per event on stdout until Ctrl-C.

``{"event": "added", "case": {...}}``, ``{"event": "changed", "case": {...}, "before":
{...} | null}``, ``{"event": "removed", "case_id": "...", "last_seen": {...} | null}``;
each case as the API sent it (camelCase keys). On a terminal, stderr shows a status line:
polls, events, requests in the last minute. ``--state FILE`` resumes where the last run
stopped. Only the public API is used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import signal
import sys
import time
from typing import Any, TextIO

import msgspec

from .. import CaseAdded, CaseChanged, CaseRemoved, CasesClient, CaseWatch, WatchEvent
from . import _flags
from ._common import EXIT_INTERRUPTED, EXIT_OK, UsageError

__all__ = ["cmd_watch", "event_line"]

_STATUS_EVERY = 1.0  # seconds between status line refreshes


def cmd_watch(args: argparse.Namespace) -> int:
    """Print an event line per new (``--mode set``: changed, removed) case until Ctrl-C."""
    case_filter = _flags.case_filter(args)
    # --since starts the watch earlier; it is not a window on what is watched.
    since, case_filter = case_filter.start_date, dataclasses.replace(case_filter, start_date=None)
    client = _flags.client(args)
    try:
        events = client.watch(
            case_filter,
            every=args.every,
            mode=args.mode,
            since=None if args.state and os.path.exists(args.state) else since,
            state_file=args.state,
        )
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from exc
    status = _Status(events, sys.stderr) if not args.quiet and sys.stderr.isatty() else None
    return asyncio.run(_watch(client, events, status))


async def _watch(client: CasesClient, events: CaseWatch, status: _Status | None) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    interrupted: list[int] = []

    def on_signal(signum: int) -> None:
        interrupted.append(signum)
        task.cancel()

    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, on_signal, signum)
            handled.append(signum)
    try:
        async with client, events:
            if status is not None:
                status.start()
            async for event in events:
                sys.stdout.write(event_line(event))
                sys.stdout.flush()
    except asyncio.CancelledError:
        if not interrupted:
            raise
    finally:
        if status is not None:
            status.stop()
        for signum in handled:
            loop.remove_signal_handler(signum)
    return EXIT_INTERRUPTED if signal.SIGINT in interrupted else EXIT_OK


def event_line(event: WatchEvent) -> str:
    """One event as a JSON line."""
    record: dict[str, Any]
    if isinstance(event, CaseAdded):
        record = {"event": "added", "case": event.case}
    elif isinstance(event, CaseChanged):
        record = {"event": "changed", "case": event.case, "before": event.before}
    elif isinstance(event, CaseRemoved):
        record = {"event": "removed", "case_id": event.case_id, "last_seen": event.last_seen}
    return msgspec.json.encode(record).decode() + "\n"


class _Status:
    """A status line on stderr, redrawn in place: polls, events, requests a minute."""

    def __init__(self, events: CaseWatch, out: TextIO) -> None:
        self._events = events
        self._out = out
        self._task: asyncio.Task[None] | None = None
        self._started = time.monotonic()

    def line(self) -> str:
        """The status text."""
        stats = self._events.stats
        return (
            f"watching ({self._events.mode}, every {self._events.every:g} s): "
            f"{stats.polls:,} polls, {stats.events:,} events, "
            f"{stats.requests_last_minute()} requests in the last minute"
            + (f", {stats.failed_polls:,} failed polls" if stats.failed_polls else "")
        )

    def start(self) -> None:
        """Redraw every second in the background."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        """Stop redrawing and end the line."""
        if self._task is not None:
            self._task.cancel()
            self._out.write("\n")
            self._out.flush()

    async def _run(self) -> None:
        while True:
            self._out.write("\r\x1b[2K" + self.line())
            self._out.flush()
            await asyncio.sleep(_STATUS_EVERY)
