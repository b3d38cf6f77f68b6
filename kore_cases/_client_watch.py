"""The methods of ``CasesClient`` that follow the cases over time: ``watch`` and ``sync``.

:class:`WatchMethods` is a base of :class:`kore_cases.CasesClient`. Both calls hand the
client itself, through its public pull methods (:class:`~kore_cases._client_pulls.PullMethods`),
to what runs them: :class:`~kore_cases._watch.CaseWatch` polls for events, and
:func:`~kore_cases._sync.run_sync` keeps a local Parquet dataset current.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ._client_pulls import PullMethods
from ._sync import SyncProgress, SyncSummary, run_sync
from ._watch import CaseWatch, WatchCursor, WatchMode
from .filters import CaseFilter, DateLike

__all__ = ["WatchMethods"]


class WatchMethods(PullMethods):
    """``watch`` and ``sync`` of a client."""

    def watch(
        self,
        filter: CaseFilter | None = None,
        *,
        every: float = 30.0,
        cursor: WatchCursor | None = None,
        since: DateLike | None = None,
        mode: WatchMode = "new",
        state_file: str | os.PathLike[str] | None = None,
        overlap: float = 10.0,
        jitter: float = 0.1,
    ) -> CaseWatch:
        """Watch the cases matching ``filter``: an async iterator of events, for bots.

        ::

            async with client.watch(CaseFilter(unassigned=True), state_file="bot.json") as events:
                async for event in events:          # CaseAdded / CaseChanged / CaseRemoved
                    await handle(event)

        Modes:
            ``"new"`` (default): :class:`CaseAdded` for each case created after the
            cursor. An idle poll is one request; N new cases cost about
            ``ceil(N / page_size)``. ``"set"``: reads the whole filtered set each poll
            and reports :class:`CaseAdded`, :class:`CaseChanged` (``updatedAt`` moved) and
            :class:`CaseRemoved` (resolved out of the filter, or deleted); each poll costs
            ``ceil(set size / page_size)`` requests, and a watch that cannot fit the
            account's budget at ``every`` is refused with the arithmetic.

        Options:
            every: seconds between polls (each spread by ``jitter``, a fraction).
            cursor: resume from ``events.cursor`` of an earlier run
                (:meth:`WatchCursor.from_json`); ``None`` starts at the newest case
                that exists now: nothing older is reported.
            since: start earlier: report the cases created at or after this moment.
            state_file: a JSON file holding the cursor: read at start if it exists,
                rewritten atomically as events are handled.
            overlap: seconds before the newest case seen that each ``"new"`` poll
                reads again, for cases the server lists late; ids already reported
                there are not reported again.

        Delivery is exactly once within a process and at least once across a crash
        (only events taken after the last persisted cursor come again). Polls share
        the client's rate limiter; a 429 or an outage delays the next poll (logged at
        WARNING, a bounded number of times) and never ends the watch; 400, 401, 403
        and 404 do. Nothing is sent before the first ``async for`` step.
        """
        return CaseWatch(
            self,
            filter,
            every=every,
            cursor=cursor,
            since=since,
            mode=mode,
            state_file=state_file,
            overlap=overlap,
            jitter=jitter,
        )

    async def sync(
        self,
        directory: str | os.PathLike[str],
        filter: CaseFilter | None = None,
        *,
        refresh_days: float = 30,
        full_refresh: bool = False,
        on_progress: Callable[[SyncProgress], None] | None = None,
    ) -> SyncSummary:
        """Keep a local Parquet dataset of the cases matching ``filter`` up to date.

        ``directory`` holds one Parquet file per creation month, hive style
        (``created_month=2025-05/part-0.parquet``), with the flat export columns plus
        ``raw`` (each case's JSON as the API sent it), and a small state file
        ``_sync_state.json``. Read it with DuckDB
        (``read_parquet('DIR/**/*.parquet', hive_partitioning=true)``), Polars,
        pyarrow.dataset or Spark. Needs pyarrow (``pip install 'kore-cases[parquet]'``).

        The first run reads every case, newest first, and writes each month's file as
        soon as the month is complete; a run that stops (even killed) continues where it
        stopped when run again. Later runs read only the cases created since the newest
        one seen, those created in the ``refresh_days`` before it, the unresolved cases
        of any age, and, through a creation-time window of a few milliseconds, each
        case that was unresolved at the last run and is not any more. Cases are merged
        by id; the newest ``updatedAt`` wins.

        This assumes that **a resolved case older than the refresh window does not
        change**. Raise ``refresh_days`` to widen the window, or pass
        ``full_refresh=True`` (a rebuild, at the cost of a first run) to drop the
        assumption.

        ``on_progress`` is called with a :class:`SyncProgress` after every page.
        Returns a :class:`SyncSummary` (new, changed, unchanged and removed cases, and
        the requests used against those of a full pull).

        Raises:
            ValueError: the directory holds a sync of another filter (use the same
                filters, or ``full_refresh=True``), or ``filter`` sets ``sort_by``.
            SyncStateError: the state file is damaged (``full_refresh=True`` rebuilds).
        """
        return await run_sync(
            self,
            os.fspath(directory),
            filter,
            refresh_days=refresh_days,
            full_refresh=full_refresh,
            on_progress=on_progress,
        )
