"""Where the bytes go (a stream, or FILE.partial turned into FILE), and CaseExport."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ._formats import FORMATS, ExportFormat, Table, WriterOptions, import_pyarrow, open_writer
from ._partial import (
    Partial,
    discard_partial,
    kept_hashes,
    partial_path,
    record_path,
    write_record,
)
from ._target import TargetLock, resolve_target, writes_through

__all__ = ["CaseExport"]

_BUFFER = 1024 * 1024

Window = tuple[str | None, str | None] | None
"""The ``startDate``/``endDate`` of the window a windowed pull continues in."""
_CHECKPOINT_SECONDS = 1.0


class _AtomicFile:
    """A hidden temporary file beside ``path``, moved over ``path`` on :meth:`commit`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd, temp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".part", text=False
        )
        self.temp = Path(temp)
        # mkstemp makes the file 0600; give the result the mode a plain open() would.
        with contextlib.suppress(OSError):
            os.chmod(fd, 0o666 & ~_umask())
        self.file: IO[bytes] = open(fd, "wb", buffering=_BUFFER)  # noqa: SIM115 (closed in commit/abort)

    def commit(self) -> None:
        _move_into_place(self.file, self.temp, self.path)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()


def _move_into_place(file: IO[bytes], source: Path, target: Path) -> None:
    """Close ``file``, written at ``source``, and rename it to ``target`` in one step."""
    file.flush()
    os.fsync(file.fileno())  # the data must be on disk before the name points at it
    file.close()
    os.replace(source, target)


def _umask() -> int:
    # os.umask can only be read by setting it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class _StreamSink:
    """A binary stream (standard output): JSONL written through, a table at the end."""

    resumed_hashes: AbstractSet[int] = frozenset()

    def __init__(self, stream: IO[bytes], fmt: ExportFormat, options: WriterOptions) -> None:
        self._stream = stream
        # Anonymous: the spool disappears with the process, however it ends.
        self._spool: IO[bytes] | None = None
        if fmt != "jsonl":
            self._spool = tempfile.TemporaryFile(buffering=_BUFFER)  # noqa: SIM115 (closed in finish/fail)
        try:
            self.writer = open_writer(fmt, self._spool or stream, (), options)
        except BaseException:
            self._close_spool()
            raise

    def end_page(
        self, next_page: int, count: int, total: int | None, limit: int | None, window: Window
    ) -> None:
        """Nothing to record: what went to the stream is gone."""

    def finish(self) -> None:
        try:
            if isinstance(self.writer, Table):
                self.writer.write_table(self._stream)
            self._stream.flush()
        finally:
            self._close_spool()

    def fail(self) -> Partial | None:
        self._close_spool()
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()
        return None

    def _close_spool(self) -> None:
        if self._spool is not None:
            self._spool.close()


class _PartialSink:
    """``FILE.partial`` and its record; ``FILE`` is made from them on success."""

    def __init__(
        self,
        target: Path,
        fmt: ExportFormat,
        options: WriterOptions,
        settings: dict[str, Any],
        resume: Partial | None,
    ) -> None:
        if target.is_dir():
            raise IsADirectoryError(f"{target} is a directory; give a file name")
        self._target = target
        self._path = partial_path(target)
        self._format: ExportFormat = fmt
        self._settings = settings
        # What a failure keeps, and what the record on disk says.
        self._committed = self._recorded = resume
        self._checkpointed = float("-inf")
        self.resumed_hashes: AbstractSet[int] = frozenset()
        # Exclusive creation: never write over a partial this export did not open to resume.
        mode = "x+b" if resume is None else "r+b"
        try:
            self._file: IO[bytes] = open(self._path, mode, buffering=_BUFFER)  # noqa: SIM115 (closed in finish/fail)
        except FileNotFoundError as exc:
            if target.parent.is_dir():
                raise
            raise FileNotFoundError(exc.errno, exc.strerror, str(target)) from None
        try:
            if resume is not None:
                # Bytes past the record are an incomplete page, or pages written after
                # the last record of a process that was killed: their pages are unknown.
                self._file.truncate(resume.size)
                self.resumed_hashes = kept_hashes(self._file, fmt, resume.cases, self._path)
                self._file.seek(0, os.SEEK_END)
            columns = () if resume is None else resume.field_columns
            self.writer = open_writer(fmt, self._file, columns, options)
        except BaseException:
            self._file.close()
            if resume is None:
                with contextlib.suppress(OSError):
                    self._path.unlink()
            raise

    def end_page(
        self, next_page: int, count: int, total: int | None, limit: int | None, window: Window
    ) -> None:
        self._committed = Partial(
            format=self._format,
            next_page=next_page,
            cases=count,
            size=self._file.tell(),
            field_columns=self.writer.field_columns,
            total_results=total,
            page_limit=limit,
            settings=self._settings,
            window=window,
        )
        now = time.monotonic()
        if now - self._checkpointed >= _CHECKPOINT_SECONDS:
            self._file.flush()  # the record must not claim bytes still in a buffer
            write_record(self._target, self._committed)
            self._recorded, self._checkpointed = self._committed, now

    def finish(self) -> None:
        if isinstance(self.writer, Table):
            final = _AtomicFile(self._target)
            try:
                self.writer.write_table(final.file)
                final.commit()
            except BaseException:
                final.abort()
                raise
            self._file.close()
            with contextlib.suppress(OSError):
                self._path.unlink()
        else:
            _move_into_place(self._file, self._path, self._target)
        with contextlib.suppress(OSError):
            record_path(self._target).unlink()

    def fail(self) -> Partial | None:
        """Keep the complete pages with their record; remove a partial that has none."""
        with contextlib.suppress(OSError, ValueError):
            self._file.close()
        kept = self._committed
        if kept is not None:
            try:
                os.truncate(self._path, kept.size)
                write_record(self._target, kept)
            except OSError:
                kept = self._recorded  # the record on disk still fits the partial
        if kept is None:
            with contextlib.suppress(OSError):
                discard_partial(self._target)
        return kept


# -- the export ---------------------------------------------------------------------


class CaseExport:
    """Write case dicts to ``path`` (or a binary ``stream``) as JSONL, CSV or Parquet.

    Use it as a context manager, and call :meth:`end_page` after each page::

        with CaseExport("cases.csv", "csv") as export:
            async with client.iter_pages(model=dict) as pages:
                async for page in pages:
                    for case in page.results:
                        export.write(case)
                    export.end_page(pages.resume_page)

    Leaving the block normally finishes the file and moves it into place. Leaving it
    with an exception (``KeyboardInterrupt`` and cancellation included) leaves ``path``
    as it was and keeps the complete pages in ``FILE.partial``, described by
    :attr:`kept`; ``resume=read_partial(path)`` continues from there. See the module
    docstring.

    The target is opened on entry, so a path that cannot be written fails before any
    case is fetched. :attr:`count` is the number of cases in the output, those of a
    resumed partial included.

    Targets: a symbolic link is followed (the file it points to is replaced, the link
    stays); a path that exists and is not a regular file (``/dev/null``, a named pipe,
    ``/dev/stdout``) is written through like ``stream``, never replaced. While an export
    to a file runs it holds ``FILE.partial.lock``: a second export to the same file
    raises :class:`TargetBusyError` (an ``OSError`` naming the holder's pid) on entry.
    ``restart=True`` discards an earlier partial once the lock is held. CSV cells that
    a spreadsheet would run as a formula get a ``'`` in front unless ``csv_raw=True``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        format: ExportFormat,
        *,
        stream: IO[bytes] | None = None,
        row_group_size: int = 10_000,
        settings: Mapping[str, Any] | None = None,
        resume: Partial | None = None,
        restart: bool = False,
        csv_raw: bool = False,
    ) -> None:
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        if (path is None) == (stream is None):
            raise ValueError("give exactly one of path and stream")
        if row_group_size < 1:
            raise ValueError("row_group_size must be >= 1")
        if resume is not None and (path is None or resume.format != format):
            raise ValueError("resume continues a file export of the same format")
        if format == "parquet":
            import_pyarrow()  # fail before anything is opened or fetched
        self.through = path is not None and writes_through(path)
        """The path is a device or pipe, written through like a stream."""
        if self.through and resume is not None:
            raise ValueError(f"{path} is not a regular file: there is no partial to resume")
        self.path = None if path is None else Path(path) if self.through else resolve_target(path)
        self.format: ExportFormat = format
        self.count = 0 if resume is None else resume.cases
        self.kept: Partial | None = None
        """After a failure: the record of the partial kept (``None``: nothing kept)."""
        self.resumed_hashes: AbstractSet[int] = frozenset()
        """On resume: ``hash()`` of every case id already in the partial."""
        self._stream = stream
        self._options = WriterOptions(row_group_size, csv_raw)
        self._settings = dict(settings or {})
        self._resume = resume
        self._restart = restart
        self._sink: _StreamSink | _PartialSink | None = None
        self._held = contextlib.ExitStack()  # the lock, or the device opened

    @property
    def partial(self) -> Path | None:
        """``FILE.partial`` of a file export; ``None`` for a stream or a device."""
        return None if self.path is None or self.through else partial_path(self.path)

    def __enter__(self) -> CaseExport:
        with self._held as held:
            if self.path is None or self.through:
                stream = self._stream or _open_through(self.path, held)
                self._sink = _StreamSink(stream, self.format, self._options)
            else:
                held.enter_context(TargetLock(self.path))
                if self._restart:
                    discard_partial(self.path)
                self._sink = _PartialSink(
                    self.path, self.format, self._options, self._settings, self._resume
                )
            self._held = held.pop_all()  # kept until __exit__
        self.resumed_hashes = self._sink.resumed_hashes
        return self

    def write(self, case: Mapping[str, Any]) -> None:
        """Add one case (a dict as the API sent it)."""
        if self._sink is None:
            raise RuntimeError("use CaseExport as a context manager: `with CaseExport(...)`")
        try:
            self._sink.writer.write(case)
        except OSError as exc:
            raise self._named(exc) from None
        self.count += 1

    def _named(self, exc: OSError) -> OSError:
        """A write error with the target's name (``/dev/full``: no space left on device)."""
        if exc.filename is not None or self.path is None:
            return exc
        return OSError(exc.errno, exc.strerror or str(exc), str(self.path))

    def end_page(
        self,
        next_page: int,
        *,
        total_results: int | None = None,
        page_limit: int | None = None,
        window: Window = None,
    ) -> None:
        """Mark a page boundary: every case written so far is complete.

        ``next_page`` is where a pull continuing this export starts (the iterator's
        ``resume_page``); ``total_results`` and ``page_limit`` are what the server said
        on the page just written; in a windowed pull, ``window`` is the ``startDate``
        and ``endDate`` of the window ``next_page`` counts in (its ``resume_window``).
        A stream export has nothing to record.
        """
        if self._sink is None:
            raise RuntimeError("use CaseExport as a context manager: `with CaseExport(...)`")
        self._sink.end_page(next_page, self.count, total_results, page_limit, window)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        sink, self._sink = self._sink, None
        if sink is None:
            return
        with self._held:  # released last: the lock, or the device opened
            if exc_type is not None:
                self.kept = sink.fail()
                return
            try:
                sink.finish()
            except OSError as error:
                self.kept = sink.fail()
                raise self._named(error) from None
            except BaseException:
                self.kept = sink.fail()
                raise


def _open_through(path: Path | None, held: contextlib.ExitStack) -> IO[bytes]:
    """Open a device or pipe to write through it (never replaced), closed by ``held``."""
    assert path is not None
    file = open(path, "wb", buffering=_BUFFER)  # noqa: SIM115 (closed by held)
    # Quietly: a write error (ENOSPC) has already been raised, named, by then.
    held.callback(_close_quietly, file)
    return file


def _close_quietly(file: IO[bytes]) -> None:
    with contextlib.suppress(OSError):
        file.close()
