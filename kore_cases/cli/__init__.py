"""The ``kore-cases`` command: argument parsing and presentation over the public SDK.

Commands:

* ``kore-cases demo``: pull every case from an embedded fake server, with a progress bar
  and a summary; needs no account and no network.
* ``kore-cases export``: write every case matching the filter flags to JSONL, CSV or
  Parquet, atomically; a failed or interrupted export to a file keeps its complete
  pages in ``FILE.partial``, and ``--resume`` continues it.
* ``kore-cases sync DIR``: keep a local Parquet dataset (one file per creation month)
  of the cases matching the filter flags up to date, reading only what may have changed.
* ``kore-cases count``: print how many cases match the filter flags.
* ``kore-cases serve``: run the fake server in the foreground for integration tests
  (``--churn N`` keeps changing its cases; an admin endpoint changes them on request).
* ``kore-cases watch``: print a JSON line per new (``--mode set``: changed, removed) case
  until Ctrl-C, resuming from ``--state FILE``.

Exit codes: 0 success, 1 API, connection or file error (one line on stderr, naming what
to fix; ``--debug`` adds the traceback), 2 usage error, 130 interrupted (Ctrl-C).

There is no HTTP or pagination logic here: everything goes through :class:`CasesClient`.
``rich`` (the ``cli`` extra) is imported only when a progress bar or table is drawn.

Modules: ``_parser`` (commands and flags), ``_flags`` (flags to SDK objects),
``_export_command`` and ``_resume`` (export, and resuming one), ``_sync_command``, ``_demo``,
``_commands`` (count, serve), ``_watch_command`` (watch), ``_output`` (progress and
the library's log on stderr), ``_errors`` (a failure as one line and an exit code),
``_common`` (shared names).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

from ._common import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, PROG
from ._errors import failure
from ._output import library_logging
from ._parser import build_parser

__all__ = ["main"]

# KORE_LOG, as CasesClient.from_env() reads it for scripts; --debug wins.
_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}


def main(argv: list[str] | None = None) -> int:
    """Run ``kore-cases`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C while starting, before a command could report it
        print(f"{PROG}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version, or a usage error
        return _exit_status(exc)
    if getattr(args, "run", None) is None:
        parser.print_usage(sys.stderr)
        print(
            f"{PROG}: error: choose a command: demo, export, sync, count, serve or watch",
            file=sys.stderr,
        )
        return EXIT_USAGE
    log = os.environ.get("KORE_LOG", "").strip().lower()
    if log and log not in _LOG_LEVELS:
        print(f"{PROG}: error: KORE_LOG must be 'debug' or 'info', not {log!r}", file=sys.stderr)
        return EXIT_USAGE
    with library_logging(logging.DEBUG if args.debug else _LOG_LEVELS.get(log, logging.WARNING)):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """Run the command; turn every expected failure into one line and an exit code."""
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (Exception, KeyboardInterrupt) as exc:
        return failure(args, exc)


def _exit_status(exc: SystemExit) -> int:
    if exc.code is None:
        return EXIT_OK
    return exc.code if isinstance(exc.code, int) else EXIT_ERROR
