"""The flat columns of CSV and Parquet exports (from :mod:`kore_cases.tables`) as CSV text."""

from __future__ import annotations

from typing import Any

import msgspec

from .._wire import kore_time_from_ms
from ..tables import FIELD_PREFIX, FLAT_COLUMNS, LIST_COLUMNS, TIME_COLUMNS, flat_row

__all__ = [
    "COLUMNS",
    "FIELD_PREFIX",
    "LIST_COLUMNS",
    "LIST_SEPARATOR",
    "TIME_COLUMNS",
    "cell",
    "flat_row",
    "iso_from_ms",
]

COLUMNS = FLAT_COLUMNS
"""The fixed flat columns of CSV and Parquet exports; ``field:<name>`` columns follow."""

LIST_SEPARATOR = "; "


def cell(value: Any) -> str | None:
    """A field value as text: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode()


def iso_from_ms(value: Any) -> str | None:
    """Epoch milliseconds as ``2025-05-29T04:03:00.000Z``, the way Kore writes times."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None if value is None else str(value)
    try:
        return kore_time_from_ms(value)
    except (OverflowError, ValueError):  # beyond the years datetime can hold
        return str(value)
