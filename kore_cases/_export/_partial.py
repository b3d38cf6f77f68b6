"""The record of an unfinished file export: ``FILE.partial`` and ``FILE.partial.json``."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO, Annotated, Any

import msgspec

from .._files import replace_atomically
from ._formats import ExportFormat

__all__ = [
    "Partial",
    "PartialError",
    "discard_partial",
    "kept_hashes",
    "partial_path",
    "read_partial",
    "record_path",
    "write_record",
]

_PARTIAL_SUFFIX = ".partial"
_RECORD_SUFFIX = ".partial.json"
_RECORD_VERSION = 1


class PartialError(Exception):
    """A partial export that cannot be continued: no record, or one that does not fit."""


class Partial(msgspec.Struct, frozen=True, kw_only=True):
    """The record of an unfinished file export, kept in ``FILE.partial.json``.

    ``size`` bytes of ``FILE.partial`` hold ``cases`` cases: every case of the pages
    before ``next_page``. ``field_columns`` are the CSV/Parquet field columns those rows
    use, in first-seen order. ``total_results`` and ``page_limit`` are what the server
    said on the last page written; ``settings`` is the caller's own record of how the
    export was asked for (what must match for a resume to make sense). In a pull split
    into creation-date windows, ``next_page`` counts pages of the window ``window``
    (its ``startDate`` and ``endDate`` as sent, ``None`` where it sends none).
    """

    format: ExportFormat
    next_page: Annotated[int, msgspec.Meta(ge=1)]
    cases: Annotated[int, msgspec.Meta(ge=0)]
    size: Annotated[int, msgspec.Meta(ge=0)]
    field_columns: tuple[str, ...] = ()
    total_results: int | None = None
    page_limit: int | None = None
    settings: dict[str, Any] = {}
    window: tuple[str | None, str | None] | None = None
    version: int = _RECORD_VERSION


def partial_path(target: str | os.PathLike[str]) -> Path:
    """``FILE.partial``: where an export to ``target`` keeps its cases until complete."""
    path = Path(target)
    return path.with_name(path.name + _PARTIAL_SUFFIX)


def record_path(target: str | os.PathLike[str]) -> Path:
    """``FILE.partial.json``: the record of how much of ``FILE.partial`` is complete."""
    path = Path(target)
    return path.with_name(path.name + _RECORD_SUFFIX)


def read_partial(target: str | os.PathLike[str]) -> Partial | None:
    """The record of an unfinished export to ``target``, or ``None`` if there is none.

    A record without its partial holds no data and is removed.

    Raises:
        PartialError: the partial has no record, or one that cannot be read or does
            not fit the partial (it is shorter than recorded).
    """
    partial, record = partial_path(target), record_path(target)
    try:
        data = record.read_bytes()
    except FileNotFoundError:
        if partial.exists():
            raise PartialError(
                f"{partial} has no record ({record.name}): it holds no complete page, "
                "or another export is still writing it"
            ) from None
        return None
    try:
        size = partial.stat().st_size
    except FileNotFoundError:
        with contextlib.suppress(OSError):
            record.unlink()
        return None
    try:
        state = msgspec.json.decode(data, type=Partial)
    except msgspec.DecodeError as exc:
        raise PartialError(f"{record} cannot be read: {exc}") from None
    if state.version != _RECORD_VERSION:
        raise PartialError(f"{record} was written by another version of kore-cases")
    if size < state.size:
        raise PartialError(
            f"{partial} is shorter than its record says ({size:,} < {state.size:,} bytes)"
        )
    return state


def discard_partial(target: str | os.PathLike[str]) -> None:
    """Remove what an unfinished export to ``target`` left, if anything."""
    for path in (partial_path(target), record_path(target)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def write_record(target: Path, state: Partial) -> None:
    """Replace the record in one step, so that it is never seen half-written."""
    data = msgspec.json.encode(state)
    replace_atomically(record_path(target), lambda file: file.write(data))


class _CaseId(msgspec.Struct):
    id: Any = msgspec.field(default=None, name="_id")


class _RowId(msgspec.Struct):
    id: Any = None


def kept_hashes(file: IO[bytes], fmt: ExportFormat, expected: int, name: Path) -> set[int]:
    """Hashes of the case ids in a partial (read from the start), checking every line."""
    decoder: msgspec.json.Decoder[_CaseId] | msgspec.json.Decoder[_RowId] = (
        msgspec.json.Decoder(_CaseId) if fmt == "jsonl" else msgspec.json.Decoder(_RowId)
    )
    file.seek(0)
    hashes: set[int] = set()
    count = 0
    for count, line in enumerate(file, 1):
        try:
            hashes.add(hash(decoder.decode(line).id))
        except msgspec.DecodeError:
            raise PartialError(f"{name} is damaged at line {count:,}") from None
    if count != expected:
        raise PartialError(f"{name} holds {count:,} cases where its record says {expected:,}")
    return hashes
