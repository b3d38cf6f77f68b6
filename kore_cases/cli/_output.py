"""What the command shows on stderr besides its result: progress, and the library's log.

``rich`` (the ``cli`` extra) is imported only when a progress bar or table is drawn, so
that the rest of the command works without it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import sys
import warnings
from collections.abc import Iterator
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, TextIO

from .._export import MissingExtraError
from ._common import PROG

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from .. import PullStats

__all__ = ["Bar", "bar_wanted", "library_logging", "progress_wanted", "require_rich"]

_CLI_EXTRA = "the kore-cases command needs rich for {what}: pip install 'kore-cases[cli]'"


def require_rich(what: str) -> ModuleType:
    """Import rich, or explain which extra to install."""
    try:
        import rich
        import rich.console
        import rich.progress
        import rich.table
    except ImportError:
        raise MissingExtraError(_CLI_EXTRA.format(what=what)) from None
    return rich


def progress_wanted(args: argparse.Namespace) -> bool:
    """A progress bar, unless ``--quiet`` or stderr is not a terminal."""
    return not args.quiet and sys.stderr.isatty()


def bar_wanted(args: argparse.Namespace) -> bool:
    """:func:`progress_wanted`, and rich is installed to draw it (else a note says so)."""
    if not progress_wanted(args):
        return False
    try:
        require_rich("the progress bar")
    except MissingExtraError as exc:
        print(f"{PROG}: note: no progress bar: {exc}", file=sys.stderr)
        return False
    return True


class Bar:
    """A live progress bar on stderr (cases of total, pages, cases/s, ETA), or nothing."""

    def __init__(self, enabled: bool, description: str, total: int | None) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if enabled:
            self._progress = _make_progress()
            self._task = self._progress.add_task(
                description, total=total, pages=0, rate=0.0, rpm=0.0, eta="?", of=_of(total)
            )
        self._pages = -1
        self._total = total

    def __enter__(self) -> Bar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(
        self,
        stats: PullStats,
        *,
        total: int | None = None,
        page_size: int | None = None,
        final: bool = False,
    ) -> None:
        """Redraw from the pull's counters; cheap to call for every case.

        ``total`` (once known, from the first page's ``totalResults``) and the page
        size give the pages still to fetch; at the rate of requests so far, the ETA.
        """
        if (
            self._progress is None
            or self._task is None
            or (stats.pages == self._pages and not final)
        ):
            return
        self._pages = stats.pages
        if self._total is None:
            self._total = total
        self._progress.update(
            self._task,
            completed=stats.cases,
            # The total was an estimate (what page 1 said): the end is exact.
            total=stats.cases if final else self._total,
            pages=stats.pages,
            rate=stats.cases_per_second,
            of=_of(stats.cases if final else self._total),
            rpm=stats.requests_per_minute,
            eta="0:00" if final else eta(stats, self._total, page_size),
        )


def _of(total: int | None) -> str:
    return "?" if total is None else f"{total:,}"


def eta(stats: PullStats, total: int | None, page_size: int | None) -> str:
    """``H:MM:SS`` left: the pages still to fetch at the pull's requests per second so far."""
    if not total or not page_size or stats.requests == 0 or stats.elapsed <= 0:
        return "?"
    pages_left = max(0, math.ceil((total - stats.cases) / page_size))
    seconds = int(pages_left * stats.elapsed / stats.requests)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _make_progress() -> Progress:
    require_rich("the progress bar")
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.fields[of]} cases"),
        TextColumn("· {task.fields[pages]:,} pages"),
        TextColumn("· {task.fields[rate]:,.0f} cases/s · {task.fields[rpm]:,.0f} requests/min"),
        TextColumn("· ETA {task.fields[eta]}"),
        console=Console(stderr=True),
        auto_refresh=True,
        refresh_per_second=10,
    )


# -- the library's log and Python's warnings ----------------------------------------


@contextlib.contextmanager
def library_logging(wanted: int) -> Iterator[None]:
    """Show the library's log from level ``wanted`` (WARNING at most) while a command runs."""
    logger = logging.getLogger("kore_cases")
    handler = _StderrHandler()
    debug = wanted <= logging.DEBUG
    if not debug:
        handler.addFilter(_not_the_final_error)
    level = logger.level
    logger.setLevel(min(wanted, logging.WARNING))
    logger.addHandler(handler)
    show_warning = warnings.showwarning
    if not debug:  # with --debug, Python's own format says where the warning came from
        warnings.showwarning = _show_warning
    try:
        yield
    finally:
        warnings.showwarning = show_warning
        logger.removeHandler(handler)
        logger.setLevel(level)


class _StderrHandler(logging.Handler):
    """Library log records as ``kore-cases: warning: ...`` lines on the *current* stderr.

    Looked up at each record, so that lines go above a live progress bar (rich swaps
    ``sys.stderr`` while it draws) and so that tests capturing stderr see them.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(f"{PROG}: {record.levelname.lower()}: {record.getMessage()}\n")
        except Exception:
            self.handleError(record)


def _not_the_final_error(record: logging.LogRecord) -> bool:
    # The library logs a warning as a page gives up, then raises that same error, which
    # we print as our one line: showing both would say the same thing twice.
    return not (record.levelno == logging.WARNING and str(record.msg).startswith("page %d failed"))


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A Python warning (e.g. joserfc's about a short secret) as one line, like our own."""
    print(f"{PROG}: warning: {message} ({category.__name__})", file=sys.stderr)
