"""The table methods of ``CasesClient``: a pull as Arrow record batches or one table.

:class:`TableMethods` is a base of :class:`kore_cases.CasesClient`. Its pulls are built
by the client's :class:`~kore_cases._pull_factory.PullFactory` (``_pulls``, the one thing
it needs from the client) with cases kept as JSON bytes, which
:mod:`kore_cases._arrow` turns into rows with the columns of :mod:`kore_cases.tables`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from ._arrow import RecordBatchIterator, collect_table
from ._pull_factory import PullFactory
from ._windows import TimeWindow, WindowSize
from .filters import CaseFilter

__all__ = ["TableMethods"]


class TableMethods:
    """``iter_record_batches`` and ``to_arrow`` of a client (they need pyarrow)."""

    _pulls: PullFactory

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
    ) -> RecordBatchIterator:
        """Iterate over the pull as ``pyarrow.RecordBatch``es, one per page.

        Each batch holds the page's cases as flat rows with the columns and Arrow types
        of :mod:`kore_cases.tables` (the CLI's CSV/Parquet columns): timestamps in UTC,
        lists for ``channel``/``queues``/``tags``, one ``field:<name>`` column per case
        field. Only one page of Python objects exists at a time, so memory is the Arrow
        data plus the pull's prefetch window. Needs pyarrow
        (``pip install 'kore-cases[parquet]'``).

        Options are those of :meth:`iter_cases`, and:
            field_columns: ``field:`` columns every batch has, even when empty (others
                are added as they appear, so a later batch may have more columns).
            raw: add a last column ``raw``, each case's JSON.
            string_view: string columns as ``string_view``, lists as
                ``large_list<string_view>`` (same values): Polars' own layout, so
                ``polars.from_arrow`` takes the batches without copying them. The
                default types are those of the Parquet export.
        """
        # Cases stay JSON bytes until their row is made: a page never exists as dicts.
        pages = self._pulls.pages(
            filter, msgspec.Raw, True, start_page, dedupe, max_items, window, start_window
        )
        return RecordBatchIterator(
            pages,
            field_columns=field_columns,
            raw=raw,
            string_view=string_view,
            max_items=max_items,
        )

    async def to_arrow(
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
        """Every case matching ``filter`` as one ``pyarrow.Table``.

        The schema is that of :meth:`iter_record_batches` at the end of the pull: the
        fixed columns, every ``field:`` column any case had (null where a case has no
        such field), then ``raw`` if asked. Hand the table to ``.to_pandas()`` or to
        ``polars.from_arrow(table, rechunk=False)``: with ``string_view=True`` Polars
        takes it without copying (its default ``rechunk=True`` copies every string's
        view into one chunk). Needs pyarrow (``pip install 'kore-cases[parquet]'``).

        ``start_page`` and ``start_window`` continue a pull that failed, as in
        :meth:`iter_cases`: pass the error's ``resume_page`` (and, with ``window=``,
        its ``resume_window``) to get the rest of the table.
        """
        batches = self.iter_record_batches(
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
        return await collect_table(batches)
