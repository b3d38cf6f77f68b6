"""Resuming a file export: an earlier partial, whether it fits, and the command to type.

An export to ``FILE`` records the settings that decide which cases it holds, in order
(connection target, filters as sent, page size, ``--max-items``, ``--window``), beside
the partial (see :mod:`kore_cases._export`), and the page (and, with ``--window``, the
window) where it continues. A later export to the same ``FILE`` must say what to do
with a partial it finds: ``--resume`` continues it, provided the settings and format are
the same; ``--restart`` discards it. ``--start-page N`` also continues it when ``N`` is
the page it stopped at, as the old hint said. Anything else is a usage error that names
both choices, so that no partial is ever silently reused or overwritten.
"""

from __future__ import annotations

import argparse
import os
import shlex
from typing import Any

import msgspec

from .. import CaseFilter, CasesClient, KoreCasesError
from .._export import (
    CaseExport,
    ExportFormat,
    Partial,
    PartialError,
    TargetLock,
    partial_path,
    read_partial,
    resolve_target,
)
from ._common import PROG, UsageError, plural

__all__ = ["earlier_partial", "resume_command", "settings", "stopped_note", "stream_hint"]

# The settings a resume must share with the export it continues, and their flags.
_SETTING_FLAGS = {
    "host": "--host",
    "stream_id": "--stream-id",
    "account_id": "--account-id",
    "filters": "the filters",
    "page_size": "--page-size",
    "max_items": "--max-items",
    "window": "--window",
}
# Flags the resume command leaves out: it adds --resume itself.
_NOT_REPEATED = frozenset({"help", "start_page", "resume", "restart"})
# Secrets are never printed: the command names their environment variable instead.
_SECRET_VARIABLES = {"client_secret": "KORE_CLIENT_SECRET", "jwt": "KORE_JWT"}


def settings(args: argparse.Namespace, client: CasesClient, flt: CaseFilter) -> dict[str, Any]:
    """What decides which cases an export holds, and in which order, as JSON values."""
    chosen = {
        "host": client.host,
        "stream_id": client.stream_id,
        "account_id": client.account_id,
        "filters": flt.to_body(),
        "page_size": args.page_size,
        "max_items": args.max_items,
        "window": args.window,
    }
    as_json: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(chosen))
    return as_json


def earlier_partial(
    args: argparse.Namespace, fmt: ExportFormat, chosen: dict[str, Any]
) -> Partial | None:
    """The partial this export continues, if any (``--restart``: none, the export
    discards it once it holds the file's lock).

    Raises:
        TargetBusyError: another export is writing the same file.
        UsageError: there is a partial and no choice was made, it does not fit the
            flags, or it cannot be read; or there is none to ``--resume``.
    """
    target = resolve_target(args.output)
    with TargetLock(target):  # another export running says so, not "a partial exists"
        pass
    name = partial_path(target)
    if args.restart:
        return None
    try:
        earlier = read_partial(target)
    except PartialError as exc:
        raise UsageError(f"{exc}; --restart discards it and starts over") from exc
    if earlier is None:
        if args.resume:
            raise UsageError(f"nothing to resume: there is no {name}")
        return None
    if not args.resume and args.start_page is None:
        raise UsageError(
            f"{name} holds {plural(earlier.cases, 'case')} of an earlier export that "
            f"stopped at page {earlier.next_page}: add --resume to continue it, or "
            "--restart to discard it and start over"
        )
    differences = _differences(earlier, fmt, chosen, args.start_page)
    if differences:
        raise UsageError(
            f"{name} is from an export with other settings ({'; '.join(differences)}): "
            "give the same flags as then with --resume, or --restart to discard it and "
            "start over"
        )
    return earlier


def _differences(
    earlier: Partial, fmt: ExportFormat, chosen: dict[str, Any], start_page: int | None
) -> list[str]:
    found = []
    if earlier.format != fmt:
        found.append(f"--format {earlier.format} then, {fmt} now")
    for key, flag in _SETTING_FLAGS.items():
        then, now = earlier.settings.get(key), chosen.get(key)
        if then != now:
            found.append(f"{flag} {_shown(then)} then, {_shown(now)} now")
    if start_page is not None and start_page != earlier.next_page:
        found.append(f"it continues at page {earlier.next_page}, not --start-page {start_page}")
    return found


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode()


def stopped_note(args: argparse.Namespace, export: CaseExport, exc: BaseException) -> str | None:
    """What was kept of a file export that failed, and the command that continues it."""
    kept = export.kept
    if kept is None:
        return None
    return (
        f"{_stopped_at(exc, kept)}{plural(kept.cases, 'case')} kept in {export.partial}; "
        f"{_set_secrets_first(args)}resume with: {resume_command(args)}"
    )


def _stopped_at(exc: BaseException, kept: Partial) -> str:
    """``failed at page N[ of the window ...]; ``: where a file export stopped.

    A page of a windowed export counts within its window, so the window is named. An
    error without a page (a windowed pull learning its creation dates) says in its own
    message what it was doing: nothing is added.
    """
    if isinstance(exc, KeyboardInterrupt):
        return f"interrupted at page {kept.next_page}{_of_window(kept.window)}; "
    if not isinstance(exc, KoreCasesError):
        return f"failed at page {kept.next_page}{_of_window(kept.window)}; "
    if exc.page is None:
        return "" if kept.window is not None else f"failed at page {kept.next_page}; "
    window = exc.resume_window
    bounds = None if window is None else (window.start, window.end)
    return f"failed at page {exc.page}{_of_window(bounds)}; "


def _of_window(window: tuple[str | None, str | None] | None) -> str:
    """`` of the window of cases created from A to B`` (``None``: not windowed)."""
    if window is None:
        return ""
    start, end = window
    if start is None:
        created = "at any time" if end is None else f"up to {end}"
    else:
        created = f"from {start}" + (" on" if end is None else f" to {end}")
    return f" of the window of cases created {created}"


def _set_secrets_first(args: argparse.Namespace) -> str:
    """The variables the resume command reads a secret from that do not hold it yet.

    A secret given as a flag is repeated as its variable (``"$KORE_CLIENT_SECRET"``),
    never printed: the user must set the variable first, or the command fails.
    """
    unset = [
        f"{variable} to the value of --{dest.replace('_', '-')}"
        for dest, variable in _SECRET_VARIABLES.items()
        if getattr(args, dest, None) and os.environ.get(variable) != getattr(args, dest)
    ]
    return f"set {' and '.join(unset)} (not printed here), then " if unset else ""


def stream_hint(args: argparse.Namespace, export: CaseExport, exc: BaseException) -> str | None:
    """How to continue an export to standard output that failed after some pages."""
    if not isinstance(exc, KoreCasesError) or exc.resume_page is None:
        return None
    if exc.resume_window is not None:
        return (
            "a windowed export to standard output cannot continue where it stopped; "
            "export to a file with -o FILE, which --resume continues at its window"
        )
    if exc.resume_page <= (args.start_page or 1):
        return None  # resuming at the start page is a rerun
    if export.format != "jsonl":
        return (
            "nothing was written (a table is written at the end); "
            "export to a file with -o FILE to be able to resume"
        )
    flags = f"--start-page {exc.resume_page}"
    if args.max_items is not None:
        flags += f" --max-items {args.max_items - export.count}"
    return f"to resume, run the same export with {flags} and append its output (>>)"


def resume_command(args: argparse.Namespace) -> str:
    """This command again with ``--resume``: every flag given, secrets as variables."""
    words = [PROG, args.command]
    parser: argparse.ArgumentParser = args.command_parser
    for action in parser._actions:
        if not action.option_strings or action.dest in _NOT_REPEATED:
            continue
        value = getattr(args, action.dest, None)
        if value is None or value is False or value == action.default:
            continue
        flag = next((o for o in action.option_strings if o.startswith("--")), action.dest)
        if action.nargs == 0:
            words.append(flag)
            continue
        for item in value if isinstance(value, list) else [value]:
            words += [flag, _shell_word(action.dest, item)]
    words.append("--resume")
    return " ".join(words)


def _shell_word(dest: str, value: Any) -> str:
    if dest in _SECRET_VARIABLES:
        return f'"${_SECRET_VARIABLES[dest]}"'
    if isinstance(value, tuple):  # a rate: (600, 60.0)
        text = f"{value[0]}/{value[1]:g}"
    elif isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value)
    return shlex.quote(text)
