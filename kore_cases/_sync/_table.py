"""Cases as Arrow tables: the flat export columns with their Arrow types, plus ``raw``.

The columns are those of the CSV/Parquet export (:mod:`kore_cases._export`): ``id`` ...
``tags``, then one ``field:<name>`` column per case field, then ``raw``, the case's JSON
exactly as the API sent it (UTF-8 text), so that nothing the flat columns leave out is
lost. Every file of a dataset has the same columns, in the same order.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import msgspec

from .._export._formats import Parquet, import_pyarrow
from .._export._rows import FIELD_PREFIX, flat_row

__all__ = ["RAW", "cases_table", "conform", "dataset_schema"]

RAW = "raw"
"""The column holding each case's JSON as the API sent it."""

_DICT = msgspec.json.Decoder(dict[str, Any])


def dataset_schema(field_columns: Sequence[str]) -> Any:
    """The Arrow schema of every file: the flat columns, ``field_columns``, then ``raw``."""
    pa, _ = import_pyarrow()
    flat = _flat_writer(field_columns)._schema()
    return flat.append(pa.field(RAW, pa.string()))


def cases_table(raws: Sequence[bytes], known_fields: Sequence[str]) -> tuple[Any, list[str]]:
    """An Arrow table of the cases (JSON bytes each), and the field columns it has.

    The field columns are ``known_fields`` followed by those of the cases that are not
    among them, in first-seen order; the table has :func:`dataset_schema` of them.
    """
    pa, _ = import_pyarrow()
    rows = [flat_row(_DICT.decode(raw)) for raw in raws]
    fields = dict.fromkeys(known_fields)
    for row in rows:
        for key in row:
            if key.startswith(FIELD_PREFIX):
                fields.setdefault(key)
    writer = _flat_writer(list(fields))
    flat = writer._table(rows, writer._schema())
    raw_column = pa.array([raw.decode("utf-8") for raw in raws], type=pa.string())
    return flat.append_column(pa.field(RAW, pa.string()), raw_column), list(fields)


def conform(table: Any, schema: Any) -> Any:
    """``table`` with exactly ``schema``'s columns: missing ones null, extra ones dropped."""
    pa, _ = import_pyarrow()
    columns = []
    for field in schema:
        index = table.schema.get_field_index(field.name)
        if index < 0:
            columns.append(pa.nulls(table.num_rows, type=field.type))
        else:
            columns.append(table.column(index).cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _flat_writer(field_columns: Sequence[str]) -> Parquet:
    # The export's Parquet writer knows the flat columns' types; it is used only for
    # them here (its spool stays empty).
    return Parquet(io.BytesIO(), tuple(field_columns), row_group_size=1)
