"""The dataset on disk: one Parquet file per creation month, each replaced atomically.

Layout (hive style, read as it is by DuckDB, Polars, pyarrow.dataset and Spark)::

    DIR/_sync_state.json
    DIR/created_month=2025-04/part-0.parquet
    DIR/created_month=2025-05/part-0.parquet

A month's file is written to a hidden temporary file beside it, synced, and renamed over
it: a reader (or a run killed at any instant) sees the old file or the new one, whole.
Hidden leftovers of a killed run (``.part-0.parquet.*.part``) match no ``*.parquet``
glob, are skipped by Spark, and are removed by the next run. The partition column
``created_month`` lives only in the directory name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import replace_atomically, sync_directory
from ._keys import CaseKey
from ._plan import Range
from ._table import cases_table, conform, dataset_schema, pyarrow

__all__ = ["PARTITION", "Dataset", "MonthChanges", "Stored"]

PARTITION = "created_month"
_PART = "part-0.parquet"
_INDEX_COLUMNS = ["id", "created_at", "updated_at"]


@dataclass(frozen=True)
class Stored:
    """What the dataset holds of one case, to compare a fresh copy against."""

    month: str
    created_ms: int | None
    updated_ms: int | None


@dataclass
class MonthChanges:
    """What a run learnt of one month, to be merged into its file."""

    incoming: dict[str, CaseKey] = field(default_factory=dict)
    """New cases, and cases whose ``updatedAt`` moved on: to be written."""
    returned: set[str] = field(default_factory=set)
    """Every id of the month an answer held, changed or not."""
    covered: list[Range] = field(default_factory=list)
    """Ranges read whole: a stored case strictly inside one and not returned is gone."""
    unresolved: dict[str, int] = field(default_factory=dict)
    """Id -> ``createdAt`` of the returned cases that are unresolved."""
    resolved: set[str] = field(default_factory=set)
    """Returned ids known to be resolved now."""


class Dataset:
    """The month files under ``root`` (created if missing)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._pa, self._pq = pyarrow()

    def path(self, month: str) -> Path:
        """The file of ``month`` (``"2025-05"``)."""
        return self.root / f"{PARTITION}={month}" / _PART

    def months(self) -> list[str]:
        """The months that have a file, oldest first."""
        found = []
        for directory in self.root.glob(f"{PARTITION}=*"):
            if (directory / _PART).is_file():
                found.append(directory.name.partition("=")[2])
        return sorted(found)

    def remove_leftovers(self) -> None:
        """Delete the hidden temporary files a killed run left behind."""
        for leftover in self.root.glob(f"{PARTITION}=*/.{_PART}.*.part"):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()

    def index(self) -> dict[str, Stored]:
        """Every stored case by id, read from the id and time columns only."""
        stored: dict[str, Stored] = {}
        for month in self.months():
            table = self._pq.read_table(self.path(month), columns=_INDEX_COLUMNS)
            for case_id, created, updated in zip(
                table.column("id").to_pylist(),
                _ms(table.column("created_at")),
                _ms(table.column("updated_at")),
                strict=True,
            ):
                stored[case_id] = Stored(month, created, updated)
        return stored

    def ids_and_raw(self) -> Iterator[tuple[str, str]]:
        """``(id, raw JSON)`` of every stored case (for checks and tests)."""
        for month in self.months():
            table = self._pq.read_table(self.path(month), columns=["id", "raw"])
            yield from zip(
                table.column("id").to_pylist(), table.column("raw").to_pylist(), strict=True
            )

    def settle(
        self, month: str, changes: MonthChanges, field_columns: Sequence[str]
    ) -> tuple[set[str], list[str]]:
        """Merge ``changes`` into ``month``'s file; return the ids removed and the field columns.

        A stored case is replaced by its incoming copy, removed when a covered range
        holds it and no answer did, and kept otherwise. The file is rewritten only when
        something changed; a month left empty loses its file.
        """
        path = self.path(month)
        existing = self._pq.read_table(path) if path.is_file() else None
        removed: set[str] = set()
        keep: list[bool] = []
        if existing is not None:
            ids = existing.column("id").to_pylist()
            created = _ms(existing.column("created_at"))
            for case_id, created_ms in zip(ids, created, strict=True):
                if case_id in changes.incoming:
                    keep.append(False)
                elif case_id not in changes.returned and any(
                    r.holds(created_ms) for r in changes.covered
                ):
                    keep.append(False)
                    removed.add(case_id)
                else:
                    keep.append(True)
        if not changes.incoming and not removed:
            return removed, list(field_columns)
        fresh, fields = cases_table([c.raw for c in changes.incoming.values()], field_columns)
        schema = dataset_schema(fields)
        parts = [conform(fresh, schema)]
        if existing is not None:
            parts.insert(0, conform(existing.filter(self._pa.array(keep)), schema))
        table = self._pa.concat_tables(parts)
        self.write(month, table.sort_by([("created_at", "ascending"), ("id", "ascending")]))
        return removed, fields

    def write(self, month: str, table: Any) -> None:
        """Replace ``month``'s file with ``table`` atomically; an empty table removes it."""
        path = self.path(month)
        if table.num_rows == 0:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            with contextlib.suppress(OSError):
                path.parent.rmdir()
            sync_directory(self.root)
            return
        created = not path.parent.exists()
        path.parent.mkdir(exist_ok=True)
        replace_atomically(path, lambda file: self._pq.write_table(table, file, compression="zstd"))
        if created:
            sync_directory(self.root)

    def conform_all(self, field_columns: Sequence[str]) -> int:
        """Give every file the dataset's columns (after new field columns appeared).

        Readers that take the schema from one file (DuckDB, Spark) then see every
        column in every file. Only the footers are read to find the files to rewrite.
        Returns how many files were rewritten.
        """
        schema = dataset_schema(field_columns)
        rewritten = 0
        for month in self.months():
            path = self.path(month)
            if not self._pq.read_schema(path).equals(schema, check_metadata=False):
                self.write(month, conform(self._pq.read_table(path), schema))
                rewritten += 1
        return rewritten

    def remove_months(self, months: Collection[str]) -> None:
        """Delete the files of ``months``."""
        empty = self._pa.table({"id": self._pa.array([], self._pa.string())})
        for month in months:
            self.write(month, empty)


def _ms(column: Any) -> list[int | None]:
    """A ``timestamp[ms]`` column as epoch milliseconds."""
    pa, _ = pyarrow()
    values: list[int | None] = column.cast(pa.int64()).to_pylist()
    return values
