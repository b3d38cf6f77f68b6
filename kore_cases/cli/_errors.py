"""A failed command as one line on stderr (what went wrong, what to do) and an exit code."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback

from .. import APIConnectionError, APITimeoutError, KoreCasesError, RateLimitError
from .._export import MissingExtraError
from ._common import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, PROG, UsageError

__all__ = ["failure", "report"]


def failure(args: argparse.Namespace, exc: BaseException, *, note: str | None = None) -> int:
    """Report ``exc`` on stderr and return the command's exit code.

    ``note`` says what became of the work done: it follows the error's message, and
    replaces the bare "interrupted" of a Ctrl-C.
    """
    if isinstance(exc, BrokenPipeError):
        # The reader went away (`| head`): stop quietly; stdout can no longer be flushed.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    if isinstance(exc, KeyboardInterrupt):
        report(args, note or "interrupted", prefix="")
        return EXIT_INTERRUPTED
    code, message = _describe(args, exc)
    if note:
        message += f"; {note}"
    report(args, message)
    return code


def report(args: argparse.Namespace, message: str, *, prefix: str = "error: ") -> None:
    """Print one line on stderr; with ``--debug`` the traceback first."""
    if args.debug:
        traceback.print_exc()
    line = " ".join(message.split())  # one line, whatever the message holds
    print(f"{PROG}: {prefix}{line}", file=sys.stderr, flush=True)


def _describe(args: argparse.Namespace, exc: BaseException) -> tuple[int, str]:
    if isinstance(exc, UsageError):
        return EXIT_USAGE, f"{exc} (see '{PROG} {args.command} --help')"
    if isinstance(exc, MissingExtraError):
        return EXIT_ERROR, str(exc)
    if isinstance(exc, KoreCasesError):
        hint = _hint(exc)
        return EXIT_ERROR, exc.message if hint is None else f"{exc.message}; {hint}"
    if isinstance(exc, OSError):
        what = exc.strerror or str(exc)
        return EXIT_ERROR, what if exc.filename is None else f"{exc.filename}: {what}"
    return EXIT_ERROR, f"internal error: {type(exc).__name__}: {exc} (please report it)"


def _hint(exc: KoreCasesError) -> str | None:
    """What to fix, in flags, where the library's message names no remedy."""
    if isinstance(exc, APITimeoutError):
        return "the server did not answer in time: raise --timeout or lower --concurrency"
    if isinstance(exc, APIConnectionError):  # refused, reset, or an answer that is not JSON
        return "check --host (or KORE_HOST) and the network"
    if isinstance(exc, RateLimitError):
        return "the rate limit is shared by the bot: wait a minute, or lower --concurrency"
    return None
