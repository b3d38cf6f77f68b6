"""The table methods of the blocking ``CasesClient``: Arrow batches, a table, a sync.

:class:`BlockingTableMethods` is a base of :class:`kore_cases.blocking.CasesClient`;
each method runs the async client's method of the same name on the background loop
(:class:`~kore_cases._blocking_loop.LoopCalls`), which documents the options. All
three need pyarrow.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from ._blocking_loop import LoopCalls, PullIterator
from ._sync import SyncProgress, SyncSummary
from ._windows import TimeWindow, WindowSize
from .filters import CaseFilter

__all__ = ["BlockingTableMethods"]


class BlockingTableMethods(LoopCalls):
    """``iter_record_batches``, ``to_arrow`` and ``sync`` of the blocking client."""

    def iter_record_batches(
        self,
        filter: CaseFilter | None = None,
        *,
        max_items: int | None = None,
        start_page: int = 1,
        dedupe: bool = True,
        field_columns: Sequence[str] = (),
        raw: bool = False,
        window: WindowSize | None = None,
        start_window: TimeWindow | None = None,
        string_view: bool = False,
    ) -> PullIterator[Any]:
        """``pyarrow.RecordBatch``es, one per page; see
        :meth:`kore_cases.CasesClient.iter_record_batches`."""
        return self._pull(
            lambda: self._client.iter_record_batches(
                filter,
                max_items=max_items,
                start_page=start_page,
                dedupe=dedupe,
                field_columns=field_columns,
                raw=raw,
                window=window,
                start_window=start_window,
                string_view=string_view,
            )
        )

    def to_arrow(
        self,
        filter: CaseFilter | None = None,
        *,
        max_items: int | None = None,
        start_page: int = 1,
        dedupe: bool = True,
        field_columns: Sequence[str] = (),
        raw: bool = False,
        window: WindowSize | None = None,
        start_window: TimeWindow | None = None,
        string_view: bool = False,
    ) -> Any:
        """Every matching case as a ``pyarrow.Table``; see
        :meth:`kore_cases.CasesClient.to_arrow`."""
        return self._call(
            lambda: self._client.to_arrow(
                filter,
                max_items=max_items,
                start_page=start_page,
                dedupe=dedupe,
                field_columns=field_columns,
                raw=raw,
                window=window,
                start_window=start_window,
                string_view=string_view,
            )
        )

    def sync(
        self,
        directory: str | os.PathLike[str],
        filter: CaseFilter | None = None,
        *,
        refresh_days: float = 30,
        full_refresh: bool = False,
        on_progress: Callable[[SyncProgress], None] | None = None,
    ) -> SyncSummary:
        """Bring a local Parquet dataset up to date; see :meth:`kore_cases.CasesClient.sync`.

        ``on_progress`` is called on the client's own thread.
        """
        return self._call(
            lambda: self._client.sync(
                directory,
                filter,
                refresh_days=refresh_days,
                full_refresh=full_refresh,
                on_progress=on_progress,
            )
        )
