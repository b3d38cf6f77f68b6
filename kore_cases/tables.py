"""Cases as flat, typed rows: the columns of the CSV/Parquet export and of ``to_arrow()``.

One flat row per case, with the columns in :data:`FLAT_COLUMNS` followed by one column
per case field, named ``field:<metaData.name>`` (e.g. ``field:dueDate``) and holding its
``selectedValue``; with ``raw=True``, a last column ``raw`` holds the case's JSON.

==============  ====================================  ======================
column          from the case                         Arrow type
==============  ====================================  ======================
id              ``_id``                               string
ref_id          ``refId``                             string
name            ``name``                              string
status          ``status.name``                       string
priority        ``priority.name``                     string
assignee_type   ``assigneeType``                      string
created_at      ``createdAt`` (ISO-8601)              timestamp[ms, UTC]
updated_at      ``updatedAt`` (ISO-8601)              timestamp[ms, UTC]
due_at          ``dueDate`` (epoch ms)                timestamp[ms, UTC]
is_breached     ``isBreached``                        bool
channel         ``channel``                           list<string>
queues          ``queues[].name``                     list<string>
tags            ``tags``                              list<string>
field:<name>    ``fields[i].selectedValue``           string (non-strings as JSON)
raw             the whole case, as JSON               string
==============  ====================================  ======================

With ``string_view=True`` (for Polars), the string columns are ``string_view`` and the
list columns ``large_list<string_view>``: Polars' own layout, which ``polars.from_arrow``
takes without copying. The values are the same; the default types are those of the
Parquet export and sync (pyarrow 16 cannot write ``string_view`` to Parquet).

A missing value is null; so is a time that is not an ISO-8601 date-time with a zone.
:func:`flat_row` needs nothing but msgspec; the Arrow functions need pyarrow, the
``parquet`` extra (``pip install 'kore-cases[parquet]'``), imported when first used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from ._extras import import_extra
from ._wire import parse_kore_time

__all__ = [
    "FIELD_PREFIX",
    "FLAT_COLUMNS",
    "LIST_COLUMNS",
    "RAW_COLUMN",
    "TIME_COLUMNS",
    "field_columns_of",
    "flat_record_batch",
    "flat_row",
    "flat_schema",
]

FLAT_COLUMNS: tuple[str, ...] = (
    "id",
    "ref_id",
    "name",
    "status",
    "priority",
    "assignee_type",
    "created_at",
    "updated_at",
    "due_at",
    "is_breached",
    "channel",
    "queues",
    "tags",
)
"""The fixed flat columns, in order; ``field:<name>`` columns follow them."""

FIELD_PREFIX = "field:"
"""The prefix of the columns holding case fields: ``field:<metaData.name>``."""

LIST_COLUMNS: tuple[str, ...] = ("channel", "queues", "tags")
"""The columns holding lists of strings."""

TIME_COLUMNS: tuple[str, ...] = ("created_at", "updated_at", "due_at")
"""The columns holding instants (``due_at`` as epoch milliseconds in a flat row)."""

RAW_COLUMN = "raw"
"""The optional last column: the case's JSON."""


def flat_row(case: Mapping[str, Any]) -> dict[str, Any]:
    """Map a case as the API sent it (a ``dict``) to the flat columns.

    Values stay JSON-shaped: times as sent (``due_at`` as epoch ms), lists as lists,
    field values as sent; :func:`flat_record_batch` gives them their Arrow types.
    """
    row: dict[str, Any] = {
        "id": case.get("_id"),
        "ref_id": case.get("refId"),
        "name": case.get("name"),
        "status": _name_of(case.get("status")),
        "priority": _name_of(case.get("priority")),
        "assignee_type": case.get("assigneeType"),
        "created_at": case.get("createdAt"),
        "updated_at": case.get("updatedAt"),
        "due_at": case.get("dueDate"),
        "is_breached": case.get("isBreached"),
        "channel": _names(case.get("channel")),
        "queues": _names(case.get("queues")),
        "tags": _names(case.get("tags")),
    }
    fields = case.get("fields")
    for field in fields if isinstance(fields, list) else ():
        name = _field_name(field)
        if name is not None:
            row[FIELD_PREFIX + name] = field.get("selectedValue")
    return row


def field_columns_of(rows: Iterable[Mapping[str, Any]], known: Sequence[str] = ()) -> list[str]:
    """``known``, then the ``field:`` columns of ``rows`` not among them, in first-seen order."""
    columns = dict.fromkeys(known)
    for row in rows:
        for key in row:
            if key.startswith(FIELD_PREFIX):
                columns.setdefault(key)
    return list(columns)


def flat_schema(
    field_columns: Sequence[str] = (), *, raw: bool = False, string_view: bool = False
) -> Any:
    """The ``pyarrow.Schema`` of flat rows with these ``field:`` columns (and ``raw``).

    ``string_view=True`` gives the string and list columns Polars' layout (see above).
    """
    pa = _pyarrow("flat_schema()")
    text = pa.string_view() if string_view else pa.string()
    texts = pa.large_list(text) if string_view else pa.list_(text)
    types: dict[str, Any] = {}
    for column in (*FLAT_COLUMNS, *field_columns):
        types[column] = text
    for column in TIME_COLUMNS:
        types[column] = pa.timestamp("ms", tz="UTC")
    for column in LIST_COLUMNS:
        types[column] = texts
    types["is_breached"] = pa.bool_()
    if raw:
        types[RAW_COLUMN] = text
    return pa.schema(list(types.items()))


def flat_record_batch(rows: Sequence[Mapping[str, Any]], schema: Any = None) -> Any:
    """A ``pyarrow.RecordBatch`` of flat rows (as :func:`flat_row` makes them).

    ``schema`` defaults to :func:`flat_schema` of the rows' own field columns (with
    ``raw`` if a row has one); a column of ``schema`` a row lacks is null in it.
    """
    pa = _pyarrow("flat_record_batch()")
    if schema is None:
        raw = any(RAW_COLUMN in row for row in rows)
        schema = flat_schema(field_columns_of(rows), raw=raw)
    arrays = [_array(pa, field, [row.get(field.name) for row in rows]) for field in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _pyarrow(what: str) -> Any:
    return import_extra("pyarrow", "parquet", what)


def _array(pa: Any, field: Any, values: list[Any]) -> Any:
    column, kind = field.name, field.type
    if column == "due_at":
        return pa.array([_epoch_ms(v) for v in values], type=kind)
    if column in TIME_COLUMNS:
        return _timestamps(pa, values, kind)
    if column == "is_breached":
        return pa.array([v if isinstance(v, bool) else None for v in values], type=kind)
    if column in LIST_COLUMNS:
        return pa.array(values, type=kind)
    return pa.array([_text(v) for v in values], type=kind)


def _name_of(value: Any) -> Any:
    """``status``/``priority`` are objects; a server sending a bare string is taken as is."""
    return value.get("name") if isinstance(value, dict) else value


def _names(items: Any) -> list[str]:
    """A list of names from a list of strings or of ``{"_id", "name"}`` objects."""
    if not isinstance(items, list):
        return []
    names = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("name", item.get("_id"))
        if item is not None:
            names.append(item if isinstance(item, str) else _json_text(item))
    return names


def _field_name(field: Any) -> str | None:
    """A field's column name: its ``metaData.name``, else its display name."""
    if not isinstance(field, dict):
        return None
    meta = field.get("metaData")
    name = meta.get("name") if isinstance(meta, dict) else None
    name = name or field.get("displayName") or field.get("lname")
    return name if isinstance(name, str) and name else None


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _text(value: Any) -> str | None:
    """A value as text: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return _json_text(value)


def _epoch_ms(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _timestamps(pa: Any, values: list[Any], kind: Any) -> Any:
    """ISO-8601 strings as timestamps: vectorised, or one by one if some are malformed."""
    texts = [v if isinstance(v, str) else None for v in values]
    try:
        return pa.array(texts, type=pa.string()).cast(kind)
    except pa.ArrowInvalid:
        return pa.array([parse_kore_time(v) for v in texts], type=kind)
