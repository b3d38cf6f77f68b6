"""The ``kore-cases`` command: argument parsing and presentation over the public SDK.

Commands:

* ``kore-cases demo``: pull every case from an embedded fake server, with a progress bar
  and a summary; needs no account and no network.
* ``kore-cases export``: write every case matching the filter flags to JSONL, CSV or
  Parquet, atomically.
* ``kore-cases count``: print how many cases match the filter flags.
* ``kore-cases serve``: run the fake server in the foreground for integration tests.

Exit codes: 0 success, 1 API, connection or file error (one line on stderr, naming what
to fix; ``--debug`` adds the traceback), 2 usage error, 130 interrupted (Ctrl-C).

There is no HTTP or pagination logic here: everything goes through :class:`CasesClient`.
``rich`` (the ``cli`` extra) is imported only when a progress bar or table is drawn.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import shlex
import signal
import sys
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, TextIO

# The public API only, as a user's program would import it.
from . import (
    APIConnectionError,
    APITimeoutError,
    Auth,
    CaseFilter,
    CasesClient,
    JwtAuth,
    KoreCasesError,
    RateLimit,
    RateLimitError,
    StaticToken,
    __version__,
)
from ._export import FORMATS, CaseExport, ExportFormat, MissingExtraError, format_for_path

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from . import CaseIterator, PullStats
    from .testing import FakeKoreServer

__all__ = ["main"]

PROG = "kore-cases"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# Kore's documented limits for runtime public APIs, per bot.
KORE_RATE_LIMITS = ((600, 60.0), (18000, 3600.0))
_CLI_EXTRA = "the kore-cases command needs rich for {what}: pip install 'kore-cases[cli]'"

# CaseFilter names its fields; a user of the command typed flags.
_FLAG_OF_FIELD = {
    "search_text": "--search",
    "my_case": "--mine",
    "unresolved": "--unresolved",
    "unassigned": "--unassigned",
    "priority": "--priority",
    "status": "--status",
    "channel": "--channel",
    "queues": "--queue",
    "start_date": "--since",
    "end_date": "--until",
    "due_date": "--due",
    "sort_by": "--sort",
}
_FIELD_WORD = re.compile(r"\b(" + "|".join(_FLAG_OF_FIELD) + r")\b")


class UsageError(Exception):
    """A bad flag value found after parsing (exit code 2)."""


# -- entry point --------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run ``kore-cases`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version, or a usage error
        return _exit_status(exc)
    if getattr(args, "run", None) is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: choose a command: demo, export, count or serve", file=sys.stderr)
        return EXIT_USAGE
    with _library_logging(args.debug):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """Run the command; turn every expected failure into one line and an exit code."""
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except UsageError as exc:
        _report(args, f"{exc} (see '{PROG} {args.command} --help')")
        return EXIT_USAGE
    except MissingExtraError as exc:
        _report(args, str(exc))
        return EXIT_ERROR
    except KoreCasesError as exc:
        _report(args, _api_error_message(args, exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _report(args, "interrupted", prefix="")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly; stdout can no longer be flushed.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except OSError as exc:
        _report(args, _os_error_message(exc))
        return EXIT_ERROR
    except Exception as exc:
        _report(args, f"internal error: {type(exc).__name__}: {exc} (please report it)")
        return EXIT_ERROR


def _exit_status(exc: SystemExit) -> int:
    if exc.code is None:
        return EXIT_OK
    return exc.code if isinstance(exc.code, int) else EXIT_ERROR


def _report(args: argparse.Namespace, message: str, *, prefix: str = "error: ") -> None:
    """Print one line on stderr; with ``--debug`` the traceback first."""
    if args.debug:
        traceback.print_exc()
    line = " ".join(message.split())  # one line, whatever the message holds
    print(f"{PROG}: {prefix}{line}", file=sys.stderr, flush=True)


def _api_error_message(args: argparse.Namespace, exc: KoreCasesError) -> str:
    message = exc.message
    hint = _cli_hint(exc)
    if hint:
        message += f"; {hint}"
    # Only worth saying once pages were written: resuming at the start page is a rerun.
    resume = exc.resume_page
    if args.command == "export" and resume is not None and resume > args.start_page:
        message += f"; to resume, run the same export with --start-page {exc.resume_page}"
    return message


def _cli_hint(exc: KoreCasesError) -> str | None:
    """What to fix, in flags, where the library's message names no remedy."""
    if isinstance(exc, APITimeoutError):
        return "the server did not answer in time: raise --timeout or lower --concurrency"
    if isinstance(exc, APIConnectionError):  # refused, reset, or an answer that is not JSON
        return "check --host (or KORE_HOST) and the network"
    if isinstance(exc, RateLimitError):
        return "the rate limit is shared by the bot: wait a minute, or lower --concurrency"
    return None


def _os_error_message(exc: OSError) -> str:
    what = exc.strerror or str(exc)
    if exc.filename is not None:
        return f"{exc.filename}: {what}"
    return what


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


@contextlib.contextmanager
def _library_logging(debug: bool) -> Iterator[None]:
    """Show the library's warnings (and with ``debug`` its debug log) while a command runs."""
    logger = logging.getLogger("kore_cases")
    handler = _StderrHandler()
    if not debug:
        handler.addFilter(_not_the_final_error)
    level = logger.level
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
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


# -- argument parsing ---------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Pull cases from the Kore.ai Case Management Get Cases API.",
        epilog=(
            "Start with '%(prog)s demo' (no account needed). Connection settings come from "
            "flags or the KORE_HOST, KORE_STREAM_ID, KORE_ACCOUNT_ID, KORE_CLIENT_ID, "
            "KORE_CLIENT_SECRET (or KORE_JWT) environment variables."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and the library's debug log"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common_options()
    _add_demo(commands, common)
    _add_export(commands, common)
    _add_count(commands, common)
    _add_serve(commands, common)
    return parser


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: the top-level --debug stays in force unless the flag is repeated here.
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks and the library's debug log",
    )
    return common


def _add_demo(commands: Any, common: argparse.ArgumentParser) -> None:
    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="pull every case from an embedded fake server (no account, no network)",
        description=(
            "Start a fake Kore.ai server on 127.0.0.1 with realistic latency and Kore's "
            "rate limits, pull every case through the SDK with a live progress bar, and "
            "print a summary."
        ),
    )
    _option(demo, "--cases", _non_negative, 5000, "N", "cases on the fake server")
    _option(
        demo, "--latency-ms", _non_negative_float, 60.0, "L", "mean server latency, +/- 20%% jitter"
    )
    _option(demo, "--page-size", _positive, 50, "N", "cases per page")
    _option(demo, "--concurrency", _positive, 8, "N", "requests in flight at once")
    _option(
        demo, "--fault-rate", _probability, 0.0, "P", "share of requests that fail and are retried"
    )
    demo.add_argument(
        "--no-rate-limit",
        action="store_true",
        help="lift Kore's 600/60 s and 18000/h request limits",
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of the fake data")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=_cmd_demo)


def _add_export(commands: Any, common: argparse.ArgumentParser) -> None:
    export = commands.add_parser(
        "export",
        parents=[common, _connection_options(), _filter_options()],
        help="write every matching case to JSONL, CSV or Parquet",
        description=(
            "Write every case matching the filters to a file, or to standard output with "
            "'-o -'. JSONL keeps every field as the API sent it; CSV and Parquet have flat "
            "columns: id, ref_id, name, status, priority, assignee_type, created_at, "
            "updated_at, due_at, is_breached, channel, queues, tags, then one "
            "'field:<name>' column per case field (e.g. field:dueDate). The file appears "
            "only when the export is complete."
        ),
    )
    out = export.add_argument_group("output")
    out.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="FILE",
        help="file to write, '-' for standard output (default)",
    )
    out.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: from the file suffix, else jsonl)",
    )
    _option(out, "--max-items", _positive, None, "N", "stop after N cases")
    _option(out, "--start-page", _positive, 1, "N", "first page to fetch: resumes a failed export")
    out.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar and no summary line"
    )
    export.set_defaults(run=_cmd_export)


def _add_count(commands: Any, common: argparse.ArgumentParser) -> None:
    count = commands.add_parser(
        "count",
        parents=[common, _connection_options(), _filter_options()],
        help="print how many cases match (totalResults)",
        description="Print how many cases match the filters, with one small request.",
    )
    count.set_defaults(run=_cmd_count)


def _add_serve(commands: Any, common: argparse.ArgumentParser) -> None:
    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="run the fake Kore.ai server for your integration tests",
        description=(
            "Run a fake Kore.ai Get Cases endpoint in the foreground and print its URL and "
            "credentials, until Ctrl-C (exit 130) or SIGTERM (exit 0)."
        ),
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=8080,
        help="port to listen on, 0 for any free one (default: %(default)s)",
    )
    _option(serve, "--cases", _non_negative, 5000, "N", "cases on the server")
    _option(serve, "--latency-ms", _non_negative_float, 0.0, "L", "latency of every answer")
    _option(serve, "--jitter-ms", _non_negative_float, 0.0, "J", "plus a random 0..J ms")
    serve.add_argument(
        "--rate",
        type=_rate,
        action="append",
        metavar="N/SECONDS",
        help="answer 429 beyond N requests per SECONDS, e.g. 600/60 (repeatable)",
    )
    _option(serve, "--fault-rate", _probability, 0.0, "P", "share of requests given a random fault")
    _option(serve, "--max-page-size", _positive, 100, "N", "clamp 'limit' to N")
    serve.add_argument(
        "--cache-pages", action="store_true", help="cache encoded pages (for client benchmarks)"
    )
    serve.add_argument("--seed", type=int, default=0, help="seed of the data and the faults")
    serve.add_argument(
        "--json",
        action="store_true",
        help="print one JSON line with url, credentials and endpoint, nothing else",
    )
    serve.set_defaults(run=_cmd_serve)


def _connection_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group(
        "connection",
        "Each flag defaults to its KORE_* environment variable. Prefer the environment for "
        "secrets: command lines are visible to other users of the machine.",
    )
    group.add_argument("--host", metavar="URL", help="e.g. https://platform.kore.ai (KORE_HOST)")
    group.add_argument(
        "--stream-id", metavar="ID", help="the bot's stream id, st-... (KORE_STREAM_ID)"
    )
    group.add_argument("--account-id", metavar="ID", help="the account id (KORE_ACCOUNT_ID)")
    group.add_argument(
        "--client-id", metavar="ID", help="the app's client id, cs-... (KORE_CLIENT_ID)"
    )
    group.add_argument(
        "--client-secret", metavar="SECRET", help="the app's client secret (KORE_CLIENT_SECRET)"
    )
    group.add_argument(
        "--jwt", metavar="TOKEN", help="a ready-made token instead of id and secret (KORE_JWT)"
    )
    _option(group, "--page-size", _positive, 50, "N", "cases per request")
    _option(group, "--concurrency", _positive, 8, "N", "requests in flight at once")
    _option(group, "--max-retries", _non_negative, 5, "N", "retries of a failed request")
    _option(group, "--timeout", _positive_float, 30.0, "SECONDS", "limit on one request")
    group.add_argument(
        "--rate-limit",
        type=_rate,
        action="append",
        metavar="N/SECONDS",
        help="stay under N requests per SECONDS (repeatable; default: Kore's 600/60 and "
        "18000/3600, per bot)",
    )
    group.add_argument(
        "--no-rate-limit", action="store_true", help="send as fast as --concurrency allows"
    )
    group.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow http:// to a host other than this machine",
    )
    return options


def _filter_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group(
        "filters", "Repeat a list flag for several values: --status open --status new."
    )
    group.add_argument("--status", action="append", metavar="NAME", help="status (repeatable)")
    group.add_argument("--priority", action="append", metavar="NAME", help="priority (repeatable)")
    group.add_argument("--channel", action="append", metavar="NAME", help="channel (repeatable)")
    group.add_argument("--queue", action="append", metavar="NAME", help="queue (repeatable)")
    group.add_argument("--search", metavar="TEXT", help="free-text search")
    group.add_argument("--unresolved", action="store_true", help="only unresolved cases")
    group.add_argument("--unassigned", action="store_true", help="only unassigned cases")
    group.add_argument("--mine", action="store_true", help="only cases assigned to the caller")
    group.add_argument("--since", metavar="DATE", help="created at or after, ISO-8601 (2025-01-01)")
    group.add_argument("--until", metavar="DATE", help="created at or before, ISO-8601")
    group.add_argument("--due", metavar="DATE", help="due date, ISO-8601")
    group.add_argument(
        "--sort", metavar="FIELD[:asc|desc]", help="sort order, e.g. createdDate:desc"
    )
    return options


def _option(
    group: Any, flag: str, kind: Callable[[str], Any], default: Any, metavar: str, help: str
) -> None:
    """Add an option that takes a value; its help ends with the default, if any."""
    if default is not None:
        help += " (default: %(default)s)"
    group.add_argument(flag, type=kind, default=default, metavar=metavar, help=help)


def _positive(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, not {text!r}")
    return value


def _non_negative(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, not {text!r}")
    return value


def _port(text: str) -> int:
    value = _integer(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0..65535, not {text!r}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None


def _non_negative_float(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, not {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, not {text!r}")
    return value


def _probability(text: str) -> float:
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, not {text!r}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
    return value


def _rate(text: str) -> tuple[int, float]:
    count, slash, seconds = text.partition("/")
    try:
        parsed = (int(count), float(seconds))
    except ValueError:
        parsed = (0, 0.0)
    if not slash or parsed[0] < 1 or not parsed[1] > 0:
        raise argparse.ArgumentTypeError(
            f"must be REQUESTS/SECONDS such as 600/60, not {text!r}"
        ) from None
    return parsed


# -- building the SDK objects from flags --------------------------------------------


def _case_filter(args: argparse.Namespace) -> CaseFilter:
    """The filter flags as a :class:`CaseFilter`; its complaints become usage errors."""
    try:
        return CaseFilter(
            search_text=args.search,
            unresolved=args.unresolved or None,
            unassigned=args.unassigned or None,
            my_case=args.mine or None,
            priority=args.priority,
            status=args.status,
            channel=args.channel,
            queues=args.queue,
            start_date=args.since,
            end_date=args.until,
            due_date=args.due,
            sort_by=_sort(args.sort),
        )
    except (ValueError, TypeError) as exc:
        raise UsageError(_FIELD_WORD.sub(lambda m: _FLAG_OF_FIELD[m.group(1)], str(exc))) from exc


def _sort(text: str | None) -> str | dict[str, str] | None:
    """``createdDate:desc`` -> ``{"createdDate": "desc"}``; ``createdDate`` stays a name."""
    if text is None:
        return None
    name, colon, direction = text.partition(":")
    return {name: direction} if colon else name


def _client(args: argparse.Namespace) -> CasesClient:
    """A client from the connection flags, each defaulting to its KORE_* variable."""
    env = os.environ
    host = args.host or env.get("KORE_HOST")
    stream_id = args.stream_id or env.get("KORE_STREAM_ID")
    account_id = args.account_id or env.get("KORE_ACCOUNT_ID")
    missing = [
        f"{flag} (or {var})"
        for flag, var, value in (
            ("--host", "KORE_HOST", host),
            ("--stream-id", "KORE_STREAM_ID", stream_id),
            ("--account-id", "KORE_ACCOUNT_ID", account_id),
        )
        if not value
    ]
    auth = _auth(args, missing)
    if missing or auth is None or not host or not stream_id or not account_id:
        raise UsageError(f"missing connection settings: {', '.join(missing)}")
    try:
        return CasesClient(
            host,
            stream_id,
            account_id,
            auth,
            page_size=args.page_size,
            concurrency=args.concurrency,
            max_retries=args.max_retries,
            timeout=args.timeout,
            allow_insecure_http=args.allow_insecure_http,
            rate_limit=_rate_limit(args),
        )
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from exc


def _rate_limit(args: argparse.Namespace) -> RateLimit | None:
    if args.no_rate_limit:
        if args.rate_limit:
            raise UsageError("--rate-limit and --no-rate-limit contradict each other")
        return None
    return RateLimit(*(args.rate_limit or KORE_RATE_LIMITS))


def _auth(args: argparse.Namespace, missing: list[str]) -> Auth | None:
    """Flags first, then the environment: --jwt, --client-id/--client-secret, KORE_*."""
    env = os.environ
    try:
        if args.jwt:
            return StaticToken(args.jwt)
        if args.client_id or args.client_secret:
            client_id = args.client_id or env.get("KORE_CLIENT_ID")
            secret = args.client_secret or env.get("KORE_CLIENT_SECRET")
            if not client_id:
                missing.append("--client-id (or KORE_CLIENT_ID)")
            if not secret:
                missing.append("--client-secret (or KORE_CLIENT_SECRET)")
            return JwtAuth(client_id, secret) if client_id and secret else None
        if env.get("KORE_CLIENT_ID") and env.get("KORE_CLIENT_SECRET"):
            return JwtAuth(env["KORE_CLIENT_ID"], env["KORE_CLIENT_SECRET"])
        if env.get("KORE_JWT"):
            return StaticToken(env["KORE_JWT"])
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    missing.append(
        "--client-id and --client-secret (or KORE_CLIENT_ID and KORE_CLIENT_SECRET), "
        "or --jwt (or KORE_JWT)"
    )
    return None


# -- presentation -------------------------------------------------------------------


def _rich(what: str) -> ModuleType:
    """Import rich, or explain which extra to install."""
    try:
        import rich
        import rich.console
        import rich.progress
        import rich.table
    except ImportError:
        raise MissingExtraError(_CLI_EXTRA.format(what=what)) from None
    return rich


class _Bar:
    """A live progress bar on stderr (cases of total, pages, cases/s, ETA), or nothing."""

    def __init__(self, enabled: bool, description: str, total: int | None) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if enabled:
            self._progress = _make_progress()
            self._task = self._progress.add_task(
                description, total=total, pages=0, rate=0.0, start=True
            )
        self._pages = -1
        self._total = total

    def __enter__(self) -> _Bar:
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

    def update(self, stats: PullStats, *, final: bool = False) -> None:
        """Redraw from the pull's counters; cheap to call for every case."""
        if (
            self._progress is None
            or self._task is None
            or (stats.pages == self._pages and not final)
        ):
            return
        self._pages = stats.pages
        self._progress.update(
            self._task,
            completed=stats.cases,
            # The total was an estimate (a count before the pull): the end is exact.
            total=stats.cases if final else self._total,
            pages=stats.pages,
            rate=stats.cases_per_second,
        )


def _make_progress() -> Progress:
    _rich("the progress bar")
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} cases"),
        TextColumn("· {task.fields[pages]:,} pages"),
        TextColumn("· {task.fields[rate]:,.0f} cases/s · ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        auto_refresh=True,
        refresh_per_second=10,
    )


def _plural(count: int, noun: str) -> str:
    if count == 1:
        return f"1 {noun}"
    return f"{count:,} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"


def _progress_wanted(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


# -- demo ---------------------------------------------------------------------------


@dataclass
class _Tally:
    """What the demo counts while it pulls."""

    status: Counter[str] = field(default_factory=Counter)
    priority: Counter[str] = field(default_factory=Counter)


def _cmd_demo(args: argparse.Namespace) -> int:
    _rich("the demo's progress bar and tables")
    from .testing import FakeKoreServer

    latency = args.latency_ms / 1000
    server = FakeKoreServer(
        cases=args.cases,
        seed=args.seed,
        # The mean stays at --latency-ms; the jitter reorders answers, as a real network does.
        latency=latency * 0.8,
        latency_jitter=latency * 0.4,
        rate_limits=() if args.no_rate_limit else KORE_RATE_LIMITS,
        fault_rate=args.fault_rate,
    )
    return asyncio.run(_demo(args, server))


async def _demo(args: argparse.Namespace, server: FakeKoreServer) -> int:
    tally = _Tally()
    async with server:
        client = CasesClient(
            server.url,
            server.stream_id,
            server.account_id,
            JwtAuth(server.client_id, server.client_secret),
            page_size=args.page_size,
            concurrency=args.concurrency,
            rate_limit=None if args.no_rate_limit else RateLimit(*KORE_RATE_LIMITS),
        )
        async with client, client.iter_cases() as cases:
            with _Bar(_progress_wanted(args), "Pulling", server.total_cases) as bar:
                async for case in cases:
                    tally.status[_name(case.status)] += 1
                    tally.priority[_name(case.priority)] += 1
                    bar.update(cases.stats)
                bar.update(cases.stats, final=True)
    _print_demo_summary(cases.stats, tally, args)
    return EXIT_OK


def _name(part: Any) -> str:
    name = getattr(part, "name", None)
    return name if isinstance(name, str) and name else "(none)"


def _print_demo_summary(stats: PullStats, tally: _Tally, args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    console.print(
        f"[bold]Pulled {_plural(stats.cases, 'case')}[/] in {_plural(stats.pages, 'page')} in "
        f"{stats.elapsed:.2f} s: [bold]{stats.cases_per_second:,.0f} cases/s[/]"
    )
    console.print(_traffic(stats))
    limits = "no rate limits" if args.no_rate_limit else "Kore's rate limits"
    console.print(
        f"[dim]fake server: {args.latency_ms:g} ms ± 20%, {limits}; "
        f"concurrency {args.concurrency}, page size {args.page_size}[/]"
    )
    grid = Table.grid(padding=(0, 4))
    grid.add_row(
        _count_table("Status", tally.status, stats.cases),
        _count_table("Priority", tally.priority, stats.cases),
    )
    console.print(grid)


def _traffic(stats: PullStats) -> str:
    """Requests and what slowed them down, leaving out what did not happen."""
    parts = [_plural(stats.requests, "request"), _plural(stats.retries, "retry")]
    if stats.rate_limited:
        parts.append(f"{stats.rate_limited:,} answered 429")
    # Seconds rather than the number of waits, and only when they add up: the library
    # also counts the moments a request queues behind another for the rate windows.
    if stats.throttled_seconds >= 1.0:
        parts.append(f"{stats.throttled_seconds:,.1f} s waiting for rate limits")
    return ", ".join(parts)


def _count_table(title: str, counts: Counter[str], total: int) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column(title)
    table.add_column("Cases", justify="right")
    table.add_column("Share", justify="right")
    for name, count in counts.most_common():
        share = count / total if total else 0.0
        table.add_row(name, f"{count:,}", f"{share:.1%}")
    return table


# -- export -------------------------------------------------------------------------


def _cmd_export(args: argparse.Namespace) -> int:
    case_filter = _case_filter(args)
    client = _client(args)
    fmt = _export_format(args)
    to_stdout = args.output == "-"
    if to_stdout and fmt == "parquet" and sys.stdout.isatty():
        raise UsageError("Parquet is binary: write it to a file with -o FILE, or pipe it")
    progress = _progress_wanted(args)
    if progress:
        try:
            _rich("the progress bar")
        except MissingExtraError as exc:
            print(f"{PROG}: note: no progress bar: {exc}", file=sys.stderr)
            progress = False
    if to_stdout:
        sys.stdout.flush()  # anything printed before must come before the cases
        export = CaseExport(None, fmt, stream=sys.stdout.buffer)
    else:
        export = CaseExport(args.output, fmt)
    return asyncio.run(_export(args, client, case_filter, export, progress))


def _export_format(args: argparse.Namespace) -> ExportFormat:
    if args.format is not None:
        fmt: ExportFormat = args.format
        return fmt
    if args.output != "-":
        return format_for_path(args.output) or "jsonl"
    return "jsonl"


async def _export(
    args: argparse.Namespace,
    client: CasesClient,
    case_filter: CaseFilter,
    export: CaseExport,
    progress: bool,
) -> int:
    with export:  # the target is opened before any request: a bad path fails first
        async with client:
            total = await _expected(client, case_filter, args) if progress else None
            pull = client.iter_cases(
                case_filter, model=dict, max_items=args.max_items, start_page=args.start_page
            )
            async with pull:
                with _Bar(progress, "Exporting", total) as bar:
                    await _copy(pull, export, bar)
    if not args.quiet:
        where = "standard output" if export.path is None else str(export.path)
        stats = pull.stats
        print(
            f"{PROG}: wrote {_plural(export.count, 'case')} ({_plural(stats.pages, 'page')}) "
            f"to {where} in "
            f"{stats.elapsed:.2f} s ({stats.cases_per_second:,.0f} cases/s)",
            file=sys.stderr,
        )
    return EXIT_OK


async def _copy(pull: CaseIterator[dict[str, Any]], export: CaseExport, bar: _Bar) -> None:
    async for case in pull:
        export.write(case)
        bar.update(pull.stats)
    bar.update(pull.stats, final=True)


async def _expected(client: CasesClient, case_filter: CaseFilter, args: argparse.Namespace) -> int:
    """How many cases the export will write, for the progress bar (one small request)."""
    total: int = await client.count(case_filter)
    total = max(0, total - (args.start_page - 1) * args.page_size)
    return total if args.max_items is None else min(total, args.max_items)


# -- count --------------------------------------------------------------------------


def _cmd_count(args: argparse.Namespace) -> int:
    case_filter = _case_filter(args)
    client = _client(args)
    print(asyncio.run(_count(client, case_filter)))
    return EXIT_OK


async def _count(client: CasesClient, case_filter: CaseFilter) -> int:
    async with client:
        total: int = await client.count(case_filter)
    return total


# -- serve --------------------------------------------------------------------------


def _cmd_serve(args: argparse.Namespace) -> int:
    from .testing import FakeKoreServer

    try:
        server = FakeKoreServer(
            cases=args.cases,
            seed=args.seed,
            host=args.host,
            port=args.port,
            latency=args.latency_ms / 1000,
            latency_jitter=args.jitter_ms / 1000,
            max_page_size=args.max_page_size,
            rate_limits=args.rate or (),
            fault_rate=args.fault_rate,
            cache_pages=args.cache_pages,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    return asyncio.run(_serve(args, server))


async def _serve(args: argparse.Namespace, server: FakeKoreServer) -> int:
    stop = asyncio.Event()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        stop.set()

    loop = asyncio.get_running_loop()
    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Unavailable off the main thread and on Windows: Ctrl-C then arrives as
        # KeyboardInterrupt, which main() turns into exit code 130 as well.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, on_signal, signum)
            handled.append(signum)
    try:
        try:
            await server.start()
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
                "pick another --port (0 picks a free one)",
            ) from exc
        try:
            _announce(server, args, sys.stdout)
            await stop.wait()
        finally:
            await server.close()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
    print(
        f"{PROG}: fake server stopped after {_plural(server.stats.requests, 'request')}",
        file=sys.stderr,
    )
    return EXIT_INTERRUPTED if signal.SIGINT in received else EXIT_OK


def _announce(server: FakeKoreServer, args: argparse.Namespace, out: TextIO) -> None:
    """Say where the server listens: one JSON line with ``--json``, else for people."""
    settings = {
        "url": server.url,
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "stream_id": server.stream_id,
        "account_id": server.account_id,
        "endpoint": server.endpoint,
    }
    if args.json:
        print(json.dumps(settings), file=out, flush=True)
        return
    env = {
        "KORE_HOST": server.url,
        "KORE_STREAM_ID": server.stream_id,
        "KORE_ACCOUNT_ID": server.account_id,
        "KORE_CLIENT_ID": server.client_id,
        "KORE_CLIENT_SECRET": server.client_secret,
    }
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())
    lines = [
        f"Fake Kore.ai server on {server.url} with {server.total_cases:,} cases (Ctrl-C to stop)",
        f"  {'endpoint':<14} {server.endpoint}",
        *(
            f"  {key.replace('_', ' '):<14} {value}"
            for key, value in settings.items()
            if key not in ("url", "endpoint")
        ),
        "",
        "Point kore-cases (or CasesClient.from_env) at it:",
        f"  export {exports}",
    ]
    print("\n".join(lines), file=out, flush=True)
