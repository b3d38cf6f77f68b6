"""Writing pulled cases to JSONL, CSV or Parquet, atomically and in bounded memory.

No argument parsing and no HTTP here: :class:`CaseExport` takes case dicts (as
``iter_cases(model=dict)`` yields them) and turns them into a file.

Formats:

* ``jsonl``: one case per line, every field exactly as the API sent it.
* ``csv`` and ``parquet``: one flat row per case, with the columns in :data:`COLUMNS`
  followed by one column per case field, named ``field:<metaData.name>`` (e.g.
  ``field:dueDate``) and holding its ``selectedValue``. The field columns are only
  known once every case has been seen, so rows are first spooled to an anonymous
  temporary JSONL file and the table is written from it in a second pass: memory stays
  bounded whatever the size of the export. Parquet is written in row groups of
  ``row_group_size`` rows.

Column values (CSV / Parquet):

==============  ====================================  ===============================
column          from the case                         CSV text / Parquet type
==============  ====================================  ===============================
id              ``_id``                               string
ref_id          ``refId``                             string
name            ``name``                              string
status          ``status.name``                       string
priority        ``priority.name``                     string
assignee_type   ``assigneeType``                      string
created_at      ``createdAt``                         ISO-8601 as sent / timestamp[ms, UTC]
updated_at      ``updatedAt``                         ISO-8601 as sent / timestamp[ms, UTC]
due_at          ``dueDate`` (epoch ms)                ISO-8601 UTC / timestamp[ms, UTC]
is_breached     ``isBreached``                        ``true``/``false`` / bool
channel         ``channel``                           joined with ``"; "`` / list<string>
queues          ``queues[].name``                     joined with ``"; "`` / list<string>
tags            ``tags``                              joined with ``"; "`` / list<string>
field:<name>    ``fields[i].selectedValue``           text; non-strings as JSON / string
==============  ====================================  ===============================

A missing value is an empty CSV cell or a Parquet null. A Parquet timestamp column
gets null for a value that is not an ISO-8601 date-time with a zone.

Atomicity: a file export is written to a hidden temporary file beside its target and
moved into place with :func:`os.replace` only when complete. A failed or interrupted
export removes the temporary file and leaves any previous file at the target untouched.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import io
import os
import tempfile
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

import msgspec

__all__ = [
    "COLUMNS",
    "FORMATS",
    "CaseExport",
    "ExportFormat",
    "MissingExtraError",
    "flat_row",
    "format_for_path",
]

ExportFormat = Literal["jsonl", "csv", "parquet"]
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv", "parquet")
"""The export formats, in the order the CLI lists them."""

COLUMNS: tuple[str, ...] = (
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
"""The fixed flat columns of CSV and Parquet exports; ``field:<name>`` columns follow."""

FIELD_PREFIX = "field:"
_LIST_COLUMNS = ("channel", "queues", "tags")
_TIME_COLUMNS = ("created_at", "updated_at", "due_at")
_LIST_SEPARATOR = "; "
_SUFFIXES: Mapping[str, ExportFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_BUFFER = 1024 * 1024


class MissingExtraError(ImportError):
    """An optional dependency is missing; the message names the ``pip install`` to run."""


def format_for_path(path: str) -> ExportFormat | None:
    """The format a file name implies by its suffix (``.csv`` -> ``"csv"``), if any."""
    return _SUFFIXES.get(Path(path).suffix.lower())


# -- the flat row -------------------------------------------------------------------


def flat_row(case: Mapping[str, Any]) -> dict[str, Any]:
    """Map a case as the API sent it to the flat columns (see the module docstring).

    Values stay JSON-shaped: times as sent (``due_at`` as epoch ms), lists as lists,
    field values as sent; each output format renders them its own way.
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


def _cell(value: Any) -> str | None:
    """A field value as text: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return _json_text(value)


def _iso_from_ms(value: Any) -> str | None:
    """Epoch milliseconds as ``2025-05-29T04:03:00.000Z``, the way Kore writes times."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None if value is None else str(value)
    try:
        moment = datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return str(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -- where the bytes go -------------------------------------------------------------


class _AtomicFile:
    """A hidden temporary file beside ``path``, moved over ``path`` on :meth:`commit`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a directory; give a file name")
        fd, temp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".part", text=False
        )
        self.temp = Path(temp)
        # mkstemp makes the file 0600; give the result the mode a plain open() would.
        with contextlib.suppress(OSError):
            os.chmod(fd, 0o666 & ~_umask())
        self.file: IO[bytes] = open(fd, "wb", buffering=_BUFFER)  # noqa: SIM115 (closed in commit/abort)

    def commit(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())  # the data must be on disk before the name points at it
        self.file.close()
        os.replace(self.temp, self.path)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()


class _Stream:
    """Standard output (or any binary stream): written in place, nothing to move."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.file = stream

    def commit(self) -> None:
        self.file.flush()

    def abort(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.file.flush()


def _umask() -> int:
    # os.umask can only be read by setting it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# -- the formats --------------------------------------------------------------------


class _Jsonl:
    """One case per line, streamed straight to the output."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._encoder = msgspec.json.Encoder()
        self._line = bytearray()

    def write(self, case: Mapping[str, Any]) -> None:
        self._encoder.encode_into(case, self._line)
        self._line.extend(b"\n")
        self._out.write(self._line)

    def finish(self) -> None:
        """Nothing to do: every line is already written."""


class _Spooled:
    """Flat rows spooled to a temporary JSONL, written as a table by :meth:`finish`."""

    def __init__(self, out: IO[bytes], spool_dir: Path | None) -> None:
        self._out = out
        # Anonymous: the spool disappears with the process, however it ends.
        self._spool: IO[bytes] = tempfile.TemporaryFile(dir=spool_dir, buffering=_BUFFER)  # noqa: SIM115
        self._encoder = msgspec.json.Encoder()
        self._line = bytearray()
        self.field_columns: dict[str, None] = {}  # an ordered set, in first-seen order

    def write(self, case: Mapping[str, Any]) -> None:
        row = flat_row(case)
        for key in row:
            if key.startswith(FIELD_PREFIX) and key not in self.field_columns:
                self.field_columns[key] = None
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
        return [*COLUMNS, *self.field_columns]

    def finish(self) -> None:
        try:
            self._write_table()
        finally:
            self._spool.close()

    def close(self) -> None:
        """Drop the spool without writing the table."""
        self._spool.close()

    def _write_table(self) -> None:
        raise NotImplementedError


class _Csv(_Spooled):
    """CSV with a header row; lists joined with ``"; "``, times as ISO-8601 text."""

    def _write_table(self) -> None:
        text = io.TextIOWrapper(self._out, encoding="utf-8", newline="", write_through=False)
        try:
            writer = csv.writer(text)
            columns = self.columns()
            writer.writerow(columns)
            for row in self.rows():
                writer.writerow([_csv_cell(column, row.get(column)) for column in columns])
            text.flush()
        finally:
            # Hand the binary stream back (it may be stdout) instead of closing it.
            text.detach()


def _csv_cell(column: str, value: Any) -> Any:
    if value is None:
        return ""
    if column == "due_at":
        return _iso_from_ms(value)
    if column in _LIST_COLUMNS:
        return _LIST_SEPARATOR.join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return _cell(value)


class _Parquet(_Spooled):
    """Parquet through pyarrow, one row group per ``row_group_size`` rows."""

    def __init__(self, out: IO[bytes], spool_dir: Path | None, row_group_size: int) -> None:
        self._pa, self._pq = _import_pyarrow()
        super().__init__(out, spool_dir)
        self._row_group_size = row_group_size

    def _write_table(self) -> None:
        schema = self._schema()
        with self._pq.ParquetWriter(self._out, schema) as writer:
            batch: list[dict[str, Any]] = []
            for row in self.rows():
                batch.append(row)
                if len(batch) >= self._row_group_size:
                    writer.write_table(self._table(batch, schema))
                    batch = []
            if batch:
                writer.write_table(self._table(batch, schema))

    def _schema(self) -> Any:
        pa = self._pa
        types: dict[str, Any] = {column: pa.string() for column in self.columns()}
        for column in _TIME_COLUMNS:
            types[column] = pa.timestamp("ms", tz="UTC")
        for column in _LIST_COLUMNS:
            types[column] = pa.list_(pa.string())
        types["is_breached"] = pa.bool_()
        return pa.schema(list(types.items()))

    def _table(self, rows: list[dict[str, Any]], schema: Any) -> Any:
        pa = self._pa
        arrays = []
        for field in schema:
            values = [row.get(field.name) for row in rows]
            arrays.append(self._array(field.name, values, field.type))
        return pa.Table.from_arrays(arrays, schema=schema)

    def _array(self, column: str, values: list[Any], kind: Any) -> Any:
        pa = self._pa
        if column == "due_at":
            return pa.array([_epoch_ms(v) for v in values], type=kind)
        if column in _TIME_COLUMNS:
            return _timestamps(pa, values, kind)
        if column == "is_breached":
            return pa.array([v if isinstance(v, bool) else None for v in values], type=kind)
        if column in _LIST_COLUMNS:
            return pa.array(values, type=kind)
        return pa.array([_cell(v) for v in values], type=kind)


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
        return pa.array([_parse_time(v) for v in texts], type=kind)


def _parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = msgspec.convert(text, datetime)
    except msgspec.ValidationError:
        return None
    return moment if moment.tzinfo is not None else None


def _import_pyarrow() -> tuple[Any, Any]:
    # import_module: pyarrow ships no type information, so it is handled as Any.
    try:
        return importlib.import_module("pyarrow"), importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise MissingExtraError(
            "Parquet export needs pyarrow: pip install 'kore-cases[parquet]'"
        ) from None


# -- the export ---------------------------------------------------------------------


class CaseExport:
    """Write case dicts to ``path`` (or a binary ``stream``) as JSONL, CSV or Parquet.

    Use it as a context manager: leaving the block normally finishes the file and moves
    it into place; leaving it with an exception (including ``KeyboardInterrupt`` and
    cancellation) removes the temporary file and leaves ``path`` as it was::

        with CaseExport("cases.csv", "csv") as export:
            async for case in client.iter_cases(model=dict):
                export.write(case)

    The target is opened on entry, so a path that cannot be written fails before any
    case is fetched. :attr:`count` is the number of cases written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        format: ExportFormat,
        *,
        stream: IO[bytes] | None = None,
        row_group_size: int = 10_000,
    ) -> None:
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        if (path is None) == (stream is None):
            raise ValueError("give exactly one of path and stream")
        if row_group_size < 1:
            raise ValueError("row_group_size must be >= 1")
        if format == "parquet":
            _import_pyarrow()  # fail before anything is opened or fetched
        self.path = None if path is None else Path(path)
        self.format: ExportFormat = format
        self.count = 0
        self._stream = stream
        self._row_group_size = row_group_size
        self._target: _AtomicFile | _Stream | None = None
        self._writer: _Jsonl | _Spooled | None = None

    def __enter__(self) -> CaseExport:
        if self.path is not None:
            self._target = _AtomicFile(self.path)
            spool_dir: Path | None = self.path.parent  # the disk the user chose for the data
        else:
            assert self._stream is not None
            self._target = _Stream(self._stream)
            spool_dir = None
        try:
            self._writer = self._open_writer(self._target.file, spool_dir)
        except BaseException:
            self._target.abort()
            raise
        return self

    def _open_writer(self, out: IO[bytes], spool_dir: Path | None) -> _Jsonl | _Spooled:
        if self.format == "jsonl":
            return _Jsonl(out)
        if self.format == "csv":
            return _Csv(out, spool_dir)
        return _Parquet(out, spool_dir, self._row_group_size)

    def write(self, case: Mapping[str, Any]) -> None:
        """Add one case (a dict as the API sent it)."""
        if self._writer is None:
            raise RuntimeError("use CaseExport as a context manager: `with CaseExport(...)`")
        self._writer.write(case)
        self.count += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        writer, target = self._writer, self._target
        self._writer = self._target = None
        if writer is None or target is None:
            return
        if exc_type is not None:
            if isinstance(writer, _Spooled):
                writer.close()
            target.abort()
            return
        try:
            writer.finish()
            target.commit()
        except BaseException:
            target.abort()
            raise
