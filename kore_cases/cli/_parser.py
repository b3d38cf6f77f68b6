"""The command line: commands, flags, and the checks of each flag's value."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any, TypeVar

from .. import __version__
from .._export import FORMATS
from .._ratelimit import parse_rate_window
from ._commands import cmd_count, cmd_serve
from ._common import PROG
from ._demo import DEMO_RATE_LIMITS, cmd_demo
from ._export_command import cmd_export
from ._sync_command import cmd_sync
from ._watch_command import cmd_watch

__all__ = ["build_parser"]

_N = TypeVar("_N", int, float)


def build_parser() -> argparse.ArgumentParser:
    """The ``kore-cases`` parser; each command sets ``run``, the function that runs it."""
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
    _add_sync(commands, common)
    _add_count(commands, common)
    _add_serve(commands, common)
    _add_watch(commands, common)
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
            "Start a fake Kore.ai server on 127.0.0.1 with realistic latency and a rate "
            "limit (ten times Kore's 60 a minute, so that it takes seconds), pull every case "
            "through the SDK with a live progress bar, and print a summary."
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
        help="lift the demo's rate limit ("
        + ", ".join(f"{count}/{seconds:g} s" for count, seconds in DEMO_RATE_LIMITS)
        + ")",
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of the fake data")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=cmd_demo)


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
            "only when the export is complete. Until then the cases go to FILE.partial "
            "beside it; after a failure or Ctrl-C it holds every complete page, and "
            "the same command with --resume continues from there."
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
    _export_pull_options(out)
    out.add_argument(
        "--csv-raw",
        action="store_true",
        help="write CSV cells as they are; by default a cell starting with = + - @ tab or "
        "CR gets a ' in front, so that a spreadsheet does not run case text as a formula",
    )
    out.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar and no summary line"
    )
    # The resume command repeats the flags of this parser.
    export.set_defaults(run=cmd_export, command_parser=export)


def _export_pull_options(out: Any) -> None:
    """How much of the pull an export writes, where it starts, how it is split."""
    _option(out, "--max-items", _positive, None, "N", "stop after N cases")
    _option(
        out,
        "--start-page",
        _positive,
        None,
        "N",
        "first page to fetch (default: 1); with FILE.partial, the page it continues at",
    )
    _option(
        out,
        "--window",
        _window,
        None,
        "DAYS|auto",
        "pull by creation-date windows of DAYS days (e.g. 30, or 0.5), or 'auto' (sized "
        "from the counts): each window is paged on its own, so pages stay shallow and "
        "cases created meanwhile only touch the newest window; --resume continues at "
        "the window and page where the export stopped",
    )
    partial = out.add_mutually_exclusive_group()
    partial.add_argument(
        "--resume",
        action="store_true",
        help="continue the export that left FILE.partial (same flags as before)",
    )
    partial.add_argument(
        "--restart", action="store_true", help="discard FILE.partial and start over"
    )


def _add_sync(commands: Any, common: argparse.ArgumentParser) -> None:
    sync = commands.add_parser(
        "sync",
        parents=[common, _connection_options(), _filter_options()],
        help="keep a local Parquet dataset of the matching cases up to date",
        description=(
            "Keep DIR equal to the server's set of cases matching the filters: one Parquet "
            "file per creation month (DIR/created_month=2025-05/part-0.parquet, hive style), "
            "with the export's flat columns plus 'raw', each case's JSON as the API sent it, "
            "and a small state file. The first run reads every case and writes each month as "
            "soon as it is complete; a run that stops continues when run again. Later runs "
            "read only new cases, those created in the --refresh-days before the newest one "
            "seen, unresolved cases of any age, and the cases that left the unresolved set. "
            "This assumes that a resolved case older than the refresh window does not "
            "change: widen the window, or --full-refresh, to drop that assumption. Read the "
            "dataset with DuckDB: SELECT * FROM read_parquet('DIR/**/*.parquet', "
            "hive_partitioning=true)."
        ),
    )
    sync.add_argument("directory", metavar="DIR", help="the dataset directory (created if missing)")
    out = sync.add_argument_group("sync")
    _option(
        out,
        "--refresh-days",
        _non_negative_float,
        30.0,
        "DAYS",
        "read again the cases created this long before the newest one seen",
    )
    out.add_argument(
        "--full-refresh",
        action="store_true",
        help="read everything again and rebuild the dataset (also after a filter change)",
    )
    out.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    sync.set_defaults(run=cmd_sync)


def _add_count(commands: Any, common: argparse.ArgumentParser) -> None:
    count = commands.add_parser(
        "count",
        parents=[common, _connection_options(), _filter_options()],
        help="print how many cases match (totalResults)",
        description="Print how many cases match the filters, with one small request.",
    )
    count.set_defaults(run=cmd_count)


def _add_watch(commands: Any, common: argparse.ArgumentParser) -> None:
    watch = commands.add_parser(
        "watch",
        parents=[common, _connection_options(), _filter_options()],
        help="print a JSON line for each new (or changed, removed) case until Ctrl-C",
        description=(
            "Poll for cases matching the filters and print one JSON line per event "
            '({"event": "added", "case": {...}}) until Ctrl-C. --mode new (default) reports '
            "cases created from now on (or from --since) with one request per idle poll; "
            "--mode set also reports changed and removed cases, reading the whole set each "
            "poll. With --state FILE a restart continues where the last run stopped."
        ),
    )
    _option(watch, "--every", _positive_float, 30.0, "SECONDS", "seconds between polls")
    watch.add_argument(
        "--mode",
        choices=("new", "set"),
        default="new",
        help="new: cases created from now on; set: also changes and removals (default: new)",
    )
    watch.add_argument(
        "--state", metavar="FILE", help="keep the position in FILE and resume from it"
    )
    watch.add_argument("-q", "--quiet", action="store_true", help="no status line")
    watch.set_defaults(run=cmd_watch)


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
    _option(
        serve,
        "--churn",
        _non_negative_float,
        0.0,
        "N",
        "create, change or resolve N cases a second while serving (for watch demos and tests)",
    )
    serve.add_argument(
        "--cache-pages", action="store_true", help="cache encoded pages (for client benchmarks)"
    )
    serve.add_argument("--seed", type=int, default=0, help="seed of the data and the faults")
    serve.add_argument(
        "--json",
        action="store_true",
        help="print one JSON line with url, credentials and endpoint, nothing else",
    )
    serve.set_defaults(run=cmd_serve)


def _connection_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group(
        "connection",
        "Each flag defaults to its KORE_* environment variable. Prefer the environment for "
        "secrets: command lines are visible to other users of the machine.",
    )
    _add_account_flags(group)
    _add_request_flags(group)
    _add_rate_flags(group)
    group.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow http:// to a host other than this machine",
    )
    return options


def _add_account_flags(group: Any) -> None:
    """Where the API is and who calls it."""
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


def _add_request_flags(group: Any) -> None:
    """How each request is made: page size, concurrency, retries, timeout."""
    _option(
        group,
        "--page-size",
        _page_size,
        "max",
        "N|max",
        "cases per request; 'max' asks 1000 once and keeps what the server accepts",
    )
    _option(group, "--concurrency", _positive, 8, "N", "requests in flight at once")
    _option(
        group,
        "--max-retries",
        _non_negative,
        None,
        "N",
        "retries of a failed request (default: KORE_MAX_RETRIES, else 5)",
    )
    _option(
        group,
        "--timeout",
        _positive_float,
        None,
        "SECONDS",
        "limit on one request (default: KORE_TIMEOUT, else 30)",
    )


def _add_rate_flags(group: Any) -> None:
    """The account's request budget."""
    group.add_argument(
        "--rate-limit",
        type=_rate,
        action="append",
        metavar="N/SECONDS",
        help="stay under N requests per SECONDS (repeatable; default: KORE_RATE_LIMIT, "
        "else Kore's documented 60/60, per account)",
    )
    group.add_argument(
        "--rate-store",
        metavar="URL",
        help="share the account's budget across processes and machines through Redis or "
        "Valkey, e.g. redis://host:6379/0 (KORE_RATE_STORE; needs kore-cases[redis])",
    )
    group.add_argument(
        "--no-rate-limit", action="store_true", help="send as fast as --concurrency allows"
    )


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


def _integer(text: str) -> int:
    try:
        return int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
    return value


def _checked(
    parse: Callable[[str], _N], accept: Callable[[_N], bool], wanted: str
) -> Callable[[str], _N]:
    """A flag type: ``parse`` the text, then refuse a value ``accept`` rejects."""

    def check(text: str) -> _N:
        value = parse(text)
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {wanted}, not {text!r}")
        return value

    return check


_positive = _checked(_integer, lambda n: n >= 1, "a whole number >= 1")
_non_negative = _checked(_integer, lambda n: n >= 0, "a whole number >= 0")
_port = _checked(_integer, lambda n: 0 <= n <= 65535, "a port number 0..65535")
_positive_float = _checked(_number, lambda x: x > 0, "a number > 0")
_non_negative_float = _checked(_number, lambda x: x >= 0, "a number >= 0")
_probability = _checked(_number, lambda x: 0 <= x <= 1, "a number from 0 to 1")


def _page_size(text: str) -> int | str:
    """``--page-size``: a whole number >= 1, or ``max``."""
    if text.strip().lower() == "max":
        return "max"
    try:
        return _positive(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be a whole number >= 1 or 'max', not {text!r}"
        ) from None


def _window(text: str) -> float | str:
    """``--window``: a number of days (at least a millisecond's worth), or ``auto``."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        days = _window_days(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be a number of days > 0 (e.g. 30) or 'auto', not {text!r}"
        ) from None
    return int(days) if days.is_integer() else days  # 30, as typed, in messages


_window_days = _checked(_number, lambda days: days * 86_400_000 >= 1, "a number of days > 0")


def _rate(text: str) -> tuple[int, float]:
    """``--rate`` and ``--rate-limit``: ``REQUESTS/SECONDS``, checked as the library checks it."""
    try:
        return parse_rate_window(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
