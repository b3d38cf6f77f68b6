"""The export formats: JSONL written through, CSV and Parquet tables built from a spool."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import msgspec

from .._extras import MissingExtraError, import_extra
from ..tables import flat_record_batch, flat_schema
from ._rows import (
    COLUMNS,
    FIELD_PREFIX,
    LIST_COLUMNS,
    LIST_SEPARATOR,
    cell,
    flat_row,
    iso_from_ms,
)

__all__ = [
    "FORMATS",
    "Csv",
    "ExportFormat",
    "Jsonl",
    "MissingExtraError",
    "Parquet",
    "Table",
    "WriterOptions",
    "format_for_path",
    "import_pyarrow",
    "neutralise_formula",
    "open_writer",
]

ExportFormat = Literal["jsonl", "csv", "parquet"]
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv", "parquet")
"""The export formats, in the order the CLI lists them."""

_SUFFIXES: Mapping[str, ExportFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


# OWASP's "CSV injection": a spreadsheet runs a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class WriterOptions:
    """How tables are written: Parquet row groups, and whether CSV cells are left raw."""

    row_group_size: int = 10_000
    csv_raw: bool = False
    """Write CSV text as it is, formulas included (see :func:`neutralise_formula`)."""


def neutralise_formula(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula (OWASP's advice).

    Case text is typed by end users: ``=HYPERLINK(...)``, ``+cmd|...``, ``@SUM(...)``
    would execute when the CSV is opened in Excel, LibreOffice or Google Sheets.
    """
    return "'" + text if text.startswith(_FORMULA_START) else text


def format_for_path(path: str) -> ExportFormat | None:
    """The format a file name implies by its suffix (``.csv`` -> ``"csv"``), if any."""
    return _SUFFIXES.get(Path(path).suffix.lower())


class Jsonl:
    """One case per line, streamed straight to the output."""

    field_columns: tuple[str, ...] = ()

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._encoder = msgspec.json.Encoder()
        self._line = bytearray()

    def write(self, case: Mapping[str, Any]) -> None:
        self._encoder.encode_into(case, self._line)
        self._line.extend(b"\n")
        self._out.write(self._line)


class Table:
    """Flat rows spooled as JSONL to ``spool``, written as a table by :meth:`write_table`."""

    def __init__(self, spool: IO[bytes], field_columns: tuple[str, ...] = ()) -> None:
        self._spool = spool
        self._encoder = msgspec.json.Encoder()
        self._line = bytearray()
        # An ordered set, in first-seen order.
        self._field_columns: dict[str, None] = dict.fromkeys(field_columns)

    @property
    def field_columns(self) -> tuple[str, ...]:
        """The ``field:<name>`` columns of the rows spooled so far, in first-seen order."""
        return tuple(self._field_columns)

    def write(self, case: Mapping[str, Any]) -> None:
        row = flat_row(case)
        for key in row:
            if key.startswith(FIELD_PREFIX) and key not in self._field_columns:
                self._field_columns[key] = None
        self._encoder.encode_into(row, self._line)
        self._line.extend(b"\n")
        self._spool.write(self._line)

    def rows(self) -> Iterator[dict[str, Any]]:
        """Read the spooled rows back, one at a time."""
        self._spool.flush()
        self._spool.seek(0)
        decoder = msgspec.json.Decoder(dict[str, Any])
        for line in self._spool:
            yield decoder.decode(line)

    def columns(self) -> list[str]:
        """Every column of the table: the fixed ones, then the field columns."""
        return [*COLUMNS, *self._field_columns]

    def write_table(self, out: IO[bytes]) -> None:
        """Write every spooled row to ``out`` as the table's format."""
        raise NotImplementedError


class Csv(Table):
    """CSV with a header row; lists joined with ``"; "``, times as ISO-8601 text.

    Text cells that a spreadsheet would run as a formula get a ``'`` in front, unless
    ``raw`` is true; numbers are written as they are.
    """

    def __init__(
        self, spool: IO[bytes], field_columns: tuple[str, ...] = (), *, raw: bool = False
    ) -> None:
        super().__init__(spool, field_columns)
        self._raw = raw

    def write_table(self, out: IO[bytes]) -> None:
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
        try:
            writer = csv.writer(text)
            columns = self.columns()
            writer.writerow(columns)
            for row in self.rows():
                cells = [_csv_cell(column, row.get(column)) for column in columns]
                writer.writerow(cells if self._raw else [_safe(cell) for cell in cells])
            text.flush()
        finally:
            # Hand the binary stream back (it may be stdout) instead of closing it.
            text.detach()


def _safe(text: Any) -> Any:
    return neutralise_formula(text) if isinstance(text, str) else text


def _csv_cell(column: str, value: Any) -> Any:
    if value is None:
        return ""
    if column == "due_at":
        return iso_from_ms(value)
    if column in LIST_COLUMNS:
        return LIST_SEPARATOR.join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value  # a number, never a formula: written as it is
    return cell(value)


class Parquet(Table):
    """Parquet through pyarrow, one row group per ``row_group_size`` rows."""

    def __init__(
        self, spool: IO[bytes], field_columns: tuple[str, ...], row_group_size: int
    ) -> None:
        self._pa, self._pq = import_pyarrow()
        super().__init__(spool, field_columns)
        self._row_group_size = row_group_size

    def write_table(self, out: IO[bytes]) -> None:
        schema = flat_schema(self.field_columns)
        with self._pq.ParquetWriter(out, schema) as writer:
            batch: list[dict[str, Any]] = []
            for row in self.rows():
                batch.append(row)
                if len(batch) >= self._row_group_size:
                    writer.write_batch(flat_record_batch(batch, schema))
                    batch = []
            if batch:
                writer.write_batch(flat_record_batch(batch, schema))


def import_pyarrow() -> tuple[Any, Any]:
    """``pyarrow`` and ``pyarrow.parquet``, or a :class:`MissingExtraError` naming the extra."""
    # Handled as Any: pyarrow ships no type information.
    pa: Any = import_extra("pyarrow", "parquet", "Parquet export")
    return pa, import_extra("pyarrow.parquet", "parquet", "Parquet export")


def open_writer(
    fmt: ExportFormat, out: IO[bytes], field_columns: tuple[str, ...], options: WriterOptions
) -> Jsonl | Table:
    """The writer of ``fmt``: JSONL straight to ``out``, or a table spooled to it."""
    if fmt == "jsonl":
        return Jsonl(out)
    if fmt == "csv":
        return Csv(out, field_columns, raw=options.csv_raw)
    return Parquet(out, field_columns, options.row_group_size)
