"""Cases as Arrow tables: the flat columns of :mod:`kore_cases.tables`, plus ``raw``.

Every file of a dataset has the same columns in the same order: the fixed flat columns,
the dataset's ``field:<name>`` columns, then ``raw``, the case's JSON exactly as the API
sent it (UTF-8 text), so that nothing the flat columns leave out is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from .._extras import import_extra
from ..tables import RAW_COLUMN, field_columns_of, flat_record_batch, flat_row, flat_schema

__all__ = ["cases_table", "conform", "dataset_schema", "pyarrow"]

_DICT = msgspec.json.Decoder(dict[str, Any])


def pyarrow() -> tuple[Any, Any]:
    """``pyarrow`` and ``pyarrow.parquet``, or an error naming the extra to install."""
    what = "sync (a Parquet dataset)"
    return (
        import_extra("pyarrow", "parquet", what),
        import_extra("pyarrow.parquet", "parquet", what),
    )


def dataset_schema(field_columns: Sequence[str]) -> Any:
    """The Arrow schema of every file: the flat columns, ``field_columns``, then ``raw``."""
    return flat_schema(field_columns, raw=True)


def cases_table(raws: Sequence[bytes], known_fields: Sequence[str]) -> tuple[Any, list[str]]:
    """An Arrow table of the cases (JSON bytes each), and the field columns it has.

    The field columns are ``known_fields`` followed by those of the cases that are not
    among them, in first-seen order; the table has :func:`dataset_schema` of them.
    """
    pa, _ = pyarrow()
    rows = []
    for raw in raws:
        row = flat_row(_DICT.decode(raw))
        row[RAW_COLUMN] = raw.decode("utf-8")
        rows.append(row)
    fields = field_columns_of(rows, known_fields)
    batch = flat_record_batch(rows, dataset_schema(fields))
    return pa.Table.from_batches([batch], schema=batch.schema), fields


def conform(table: Any, schema: Any) -> Any:
    """``table`` with exactly ``schema``'s columns: missing ones null, extra ones dropped."""
    pa, _ = pyarrow()
    columns = []
    for field in schema:
        index = table.schema.get_field_index(field.name)
        if index < 0:
            columns.append(pa.nulls(table.num_rows, type=field.type))
        else:
            columns.append(table.column(index).cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)
