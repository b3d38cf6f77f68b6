"""The ``export`` command: every matching case to a file (resumably) or to standard output.

Pages, not cases, are what the command consumes: after each page is written it tells
the export where a resumed pull would continue (the iterator's ``resume_page``), so a
failure or Ctrl-C keeps exactly the complete pages (see :mod:`kore_cases._export`).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, Union

from .. import CaseFilter, CasesClient, TimeWindow, WindowedPages
from .._export import (
    CaseExport,
    ExportFormat,
    Partial,
    PartialError,
    format_for_path,
    writes_through,
)
from . import _flags, _output, _resume
from ._common import EXIT_OK, PROG, UsageError, plural
from ._errors import failure

if TYPE_CHECKING:
    from .. import PageIterator, PullStats

    Pages = Union[PageIterator[dict[str, Any]], WindowedPages[dict[str, Any]]]  # noqa: UP007

__all__ = ["cmd_export"]


def cmd_export(args: argparse.Namespace) -> int:
    """Write every case matching the filter flags to ``--output``."""
    case_filter = _flags.case_filter(args)
    if args.window is not None:
        _check_window_sort(case_filter)
    client = _flags.client(args, concurrency=_concurrency(args))
    fmt = _export_format(args)
    earlier: Partial | None = None
    through = args.output != "-" and writes_through(args.output)
    if args.output == "-" or through:
        if args.resume or args.restart:
            raise UsageError(
                "--resume and --restart continue or discard FILE.partial of an export "
                "with -o FILE (a regular file); continue one to standard output (or a "
                "device or a pipe) with --start-page N >> FILE"
            )
        if fmt == "parquet" and args.output == "-" and sys.stdout.isatty():
            raise UsageError("Parquet is binary: write it to a file with -o FILE, or pipe it")
        sys.stdout.flush()  # anything printed before must come before the cases
        if through:  # /dev/null, a named pipe...: written through, never replaced
            export = CaseExport(args.output, fmt, csv_raw=args.csv_raw)
        else:
            export = CaseExport(None, fmt, stream=sys.stdout.buffer, csv_raw=args.csv_raw)
    else:
        chosen = _resume.settings(args, client, case_filter)
        earlier = _resume.earlier_partial(args, fmt, chosen)
        if earlier is not None and earlier.page_limit and args.page_size == "max":
            # Its page numbers count pages of the size the server gave then.
            client = _flags.client(
                args, concurrency=_concurrency(args), page_size=earlier.page_limit
            )
        export = CaseExport(
            args.output,
            fmt,
            settings=chosen,
            resume=earlier,
            restart=args.restart,
            csv_raw=args.csv_raw,
        )
    if args.window is not None and args.start_page is not None and earlier is None:
        raise UsageError(
            "--start-page counts the pages of one window: a windowed export continues "
            "where it stopped when written to a file (-o FILE) and run again with --resume"
        )
    progress = _output.bar_wanted(args)
    try:
        return asyncio.run(_export(args, client, case_filter, export, earlier, progress))
    except PartialError as exc:  # found damaged when opened to continue it
        raise UsageError(f"{exc}; --restart discards it and starts over") from exc
    except (Exception, KeyboardInterrupt) as exc:
        if export.partial is None:
            note = _resume.stream_hint(args, export, exc)
        else:
            note = _resume.stopped_note(args, export, exc)
        if note is None:
            raise
        return failure(args, exc, note=note)


def _export_format(args: argparse.Namespace) -> ExportFormat:
    if args.format is not None:
        fmt: ExportFormat = args.format
        return fmt
    if args.output != "-":
        return format_for_path(args.output) or "jsonl"
    return "jsonl"


def _concurrency(args: argparse.Namespace) -> int:
    """``--concurrency``, but no more pages fetched ahead than ``--max-items`` can use."""
    concurrency: int = args.concurrency
    max_items: int | None = args.max_items
    page_size: int | str = args.page_size
    if max_items is None or not isinstance(page_size, int):
        # "max": the pull itself fetches no page ahead that max_items cannot use.
        return concurrency
    return max(1, min(concurrency, math.ceil(max_items / page_size) - 1))


async def _export(
    args: argparse.Namespace,
    client: CasesClient,
    case_filter: CaseFilter,
    export: CaseExport,
    earlier: Partial | None,
    progress: bool,
) -> int:
    stats: PullStats | None = None
    # The output (or the partial to continue) is opened before any request: a path that
    # cannot be written, or a damaged partial, fails first.
    with export:
        if args.max_items is None or export.count < args.max_items:
            async with client:
                resumed = None if earlier is None else _window_of(earlier)
                # Only a resumed export asks the count first (to see whether the data
                # moved, in the window it continues in); otherwise the first page's
                # totalResults feeds the progress bar.
                within = _within(case_filter, resumed)
                matched = None if earlier is None else await client.count(within)
                start = _start_page(args, earlier, matched, export)
                pages = _pull(args, client, case_filter, start, resumed)
                async with pages:
                    with _output.Bar(progress, "Exporting", None) as bar:
                        await _copy(pages, export, bar, args, start)
                stats = pages.stats
    if not args.quiet:
        print(f"{PROG}: {_summary(export, earlier, stats)}", file=sys.stderr)
    return EXIT_OK


def _check_window_sort(case_filter: CaseFilter) -> None:
    """Refuse, before anything starts, a ``--sort`` the windows cannot keep."""
    sort = case_filter.sort_by
    if sort is not None and not (isinstance(sort, dict) and list(sort) == ["createdDate"]):
        raise UsageError(
            "--window cuts the export by creation date, so the cases must be sorted by "
            "it: leave --sort out (newest first) or give --sort createdDate:asc (or :desc)"
        )


def _window_of(earlier: Partial) -> TimeWindow | None:
    """The window a windowed export continues in (``None``: the export is not windowed)."""
    return None if earlier.window is None else TimeWindow(*earlier.window)


def _within(case_filter: CaseFilter, window: TimeWindow | None) -> CaseFilter:
    """``case_filter`` bounded to ``window`` (the bounds it sends; ``None``: unchanged)."""
    if window is None:
        return case_filter
    return dataclasses.replace(case_filter, start_date=window.start, end_date=window.end)


def _pull(
    args: argparse.Namespace,
    client: CasesClient,
    case_filter: CaseFilter,
    start: int,
    resumed: TimeWindow | None,
) -> Pages:
    """The pages to export: by creation-date windows with ``--window``."""
    if args.window is None:
        return client.iter_pages(case_filter, model=dict, start_page=start)
    window: timedelta | Literal["auto"] = (
        "auto" if args.window == "auto" else timedelta(days=args.window)
    )
    return client.iter_pages(
        case_filter, model=dict, start_page=start, window=window, start_window=resumed
    )


def _start_page(
    args: argparse.Namespace, earlier: Partial | None, matched: int | None, export: CaseExport
) -> int:
    """Where the pull starts: ``--start-page``, or where the partial stopped.

    When the number of matching cases changed since the partial was written, cases may
    have moved across its last page: the pull starts as many pages earlier as the change
    could span, and the cases the partial already holds are skipped.
    """
    if earlier is None:
        first: int = args.start_page or 1
        return first
    then, limit = earlier.total_results, earlier.page_limit
    if matched is None or then is None or not limit or matched == then:
        return earlier.next_page
    start = max(1, earlier.next_page - math.ceil(abs(matched - then) / limit))
    print(
        f"{PROG}: warning: {plural(then, 'case')} matched when {export.partial} was "
        f"written, {matched:,} now: reading again from page {start}, skipping the cases "
        "it already holds",
        file=sys.stderr,
    )
    return start


def _expected(
    args: argparse.Namespace, matched: int | None, start: int, written: int, limit: int | None
) -> int:
    """How many cases the export will write, for the progress bar (an estimate)."""
    page_size = limit or args.page_size
    max_items: int | None = args.max_items
    # With --page-size max and no partial, the size of the pages skipped is not known
    # yet: the estimate counts them, and the bar's end is exact anyway.
    skipped = (start - 1) * page_size if isinstance(page_size, int) else 0
    total = max(0, (matched or 0) - skipped)
    return total if max_items is None else min(total, max_items - written)


async def _copy(
    pages: Pages,
    export: CaseExport,
    bar: _output.Bar,
    args: argparse.Namespace,
    start: int,
) -> None:
    max_items: int | None = args.max_items
    kept = export.resumed_hashes
    written = export.count
    async for page in pages:
        cases = page.results
        if kept:
            cases = [case for case in cases if hash(case.get("_id")) not in kept]
        if max_items is not None:
            cases = cases[: max_items - export.count]
        for case in cases:
            export.write(case)
        window = None
        total: int | None = _expected(args, page.total_results, start, written, page.limit)
        if isinstance(pages, WindowedPages):
            # A page's totalResults is its window's; the pull's is known if it was learnt.
            if pages.resume_window is not None:
                window = (pages.resume_window.start, pages.resume_window.end)
            matched = pages.total_results
            total = None if matched is None else _expected(args, matched, 1, written, page.limit)
        export.end_page(
            pages.resume_page,
            total_results=page.total_results,
            page_limit=page.limit,
            window=window,
        )
        bar.update(pages.stats, total=total, page_size=page.limit)
        if max_items is not None and export.count >= max_items:
            break
    bar.update(pages.stats, final=True)


def _summary(export: CaseExport, earlier: Partial | None, stats: PullStats | None) -> str:
    where = "standard output" if export.path is None else str(export.path)
    if stats is None:
        return f"wrote {plural(export.count, 'case')} to {where}"
    timing = f"in {stats.elapsed:.2f} s ({stats.cases_per_second:,.0f} cases/s)"
    pages = plural(stats.pages, "page")
    if earlier is None:
        return f"wrote {plural(export.count, 'case')} ({pages}) to {where} {timing}"
    fetched = export.count - earlier.cases
    return (
        f"wrote {plural(export.count, 'case')} to {where}: {earlier.cases:,} from "
        f"{export.partial}, {fetched:,} fetched ({pages}) {timing}"
    )
