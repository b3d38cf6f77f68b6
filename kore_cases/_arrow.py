"""Pulls as Arrow: ``iter_record_batches()`` and ``to_arrow()`` over any page iterator.

Each page of the pull becomes one ``pyarrow.RecordBatch`` of flat rows
(:mod:`kore_cases.tables`) as the consumer reaches it, so memory holds the Arrow data
(compact, columnar) and one page of Python objects at a time. pyarrow is imported on
first use; without it the error names ``pip install 'kore-cases[parquet]'``.

A batch has the fixed columns, then every ``field:`` column seen so far in the pull, in
first-seen order (then ``raw``): a later batch may have more columns than an earlier
one. :func:`collect_table` conforms every batch to the final schema (a column a batch
lacks is null there), so the table has one schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from ._extras import import_extra
from ._pagination import PageSource
from ._stats import PullStats
from ._window_plan import TimeWindow
from .tables import RAW_COLUMN, field_columns_of, flat_record_batch, flat_row, flat_schema

__all__ = ["RecordBatchIterator", "collect_table", "require_pyarrow"]


_CASE = msgspec.json.Decoder(dict[str, Any])


def require_pyarrow(what: str) -> Any:
    """``pyarrow``, or :class:`MissingExtraError` naming the extra that brings it."""
    return import_extra("pyarrow", "parquet", what)


class RecordBatchIterator:
    """Async iterator of ``pyarrow.RecordBatch``, one per page of a pull.

    Returned by :meth:`CasesClient.iter_record_batches`. :attr:`stats`, :attr:`resume_page`,
    :attr:`resume_window` and :meth:`aclose` are those of the pull underneath.
    """

    def __init__(
        self,
        pages: PageSource[msgspec.Raw],
        *,
        field_columns: Sequence[str] = (),
        raw: bool = False,
        string_view: bool = False,
        max_items: int | None = None,
    ) -> None:
        require_pyarrow("iter_record_batches() and to_arrow()")  # fail before any request
        self._pages = pages
        self._raw = raw
        self._string_view = string_view
        self._left = max_items
        self.field_columns: list[str] = list(field_columns)
        """The ``field:`` columns of the batches so far, in first-seen order."""

    @property
    def stats(self) -> PullStats:
        """Counters of the pull (requests, pages, cases, retries, ...)."""
        return self._pages.stats

    @property
    def resume_page(self) -> int:
        """Where a new pull would continue: every page before it was turned into a batch."""
        return self._pages.resume_page

    @property
    def resume_window(self) -> TimeWindow | None:
        """With ``window=``, the window :attr:`resume_page` counts in: pass both back as
        ``start_window=``/``start_page=`` to continue. ``None`` without windows."""
        return self._pages.resume_window

    @property
    def total_results(self) -> int | None:
        """The pull's ``totalResults`` once known (``None`` before)."""
        return self._pages.total_results

    @property
    def schema(self) -> Any:
        """The schema of the batches so far (the last one's)."""
        return flat_schema(self.field_columns, raw=self._raw, string_view=self._string_view)

    def __aiter__(self) -> RecordBatchIterator:
        return self

    async def __aenter__(self) -> RecordBatchIterator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def __anext__(self) -> Any:
        if self._left == 0:
            await self.aclose()
            raise StopAsyncIteration
        cases = (await self._pages.__anext__()).results
        if self._left is not None:
            cases = cases[: self._left]
            self._left -= len(cases)
        # One case's dict at a time: a page of them would weigh several times its JSON.
        decode = _CASE.decode
        rows = [flat_row(decode(case)) for case in cases]
        if self._raw:
            for row, case in zip(rows, cases, strict=True):
                row[RAW_COLUMN] = bytes(case).decode()
        self.field_columns = field_columns_of(rows, self.field_columns)
        return flat_record_batch(rows, self.schema)

    async def aclose(self) -> None:
        """Stop the pull and cancel the requests still in flight."""
        await self._pages.aclose()


async def collect_table(batches: RecordBatchIterator) -> Any:
    """Every batch of the pull as one ``pyarrow.Table`` of the final schema."""
    pa = require_pyarrow("to_arrow()")
    collected = []
    async with batches:
        async for batch in batches:
            collected.append(batch)
    schema = batches.schema
    return pa.Table.from_batches([_conform(pa, b, schema) for b in collected], schema=schema)


def _conform(pa: Any, batch: Any, schema: Any) -> Any:
    """``batch`` with ``schema``'s columns: those it lacks are all null."""
    if batch.schema.equals(schema):
        return batch
    arrays = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        arrays.append(
            batch.column(index) if index >= 0 else pa.nulls(batch.num_rows, type=field.type)
        )
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
