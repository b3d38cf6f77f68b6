"""The SDK objects the flags ask for: a :class:`CaseFilter` and a :class:`CasesClient`.

Each connection flag defaults to its ``KORE_*`` environment variable; the auth those
variables name is chosen by the library's own rule (``_env.auth_from``). The library's
complaints about a value become usage errors that name the flag, not the field.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping

# The public API only, as a user's program would import it.
from .. import Auth, CaseFilter, CasesClient, EnvOptions, RateLimit
from .._env import auth_from
from ._common import KORE_RATE_LIMITS, UsageError

__all__ = ["case_filter", "client"]

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


def case_filter(args: argparse.Namespace) -> CaseFilter:
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


def client(
    args: argparse.Namespace,
    *,
    concurrency: int | None = None,
    page_size: int | None = None,
) -> CasesClient:
    """A client from the connection flags (the keywords override their flags)."""
    env = os.environ
    host = args.host or env.get("KORE_HOST")
    stream_id = args.stream_id or env.get("KORE_STREAM_ID")
    account_id = args.account_id or env.get("KORE_ACCOUNT_ID")
    missing = [
        _flag_or_variable(variable)
        for variable, value in (
            ("KORE_HOST", host),
            ("KORE_STREAM_ID", stream_id),
            ("KORE_ACCOUNT_ID", account_id),
        )
        if not value
    ]
    auth = _auth(args, missing)
    if missing or auth is None or not host or not stream_id or not account_id:
        raise UsageError(f"missing connection settings: {', '.join(missing)}")
    # from_env adds what the flags leave out: KORE_MAX_RETRIES, KORE_TIMEOUT, KORE_RATE_LIMIT.
    options: EnvOptions = {
        "host": host,
        "stream_id": stream_id,
        "account_id": account_id,
        "auth": auth,
        "page_size": args.page_size if page_size is None else page_size,
        "concurrency": args.concurrency if concurrency is None else concurrency,
        "allow_insecure_http": args.allow_insecure_http,
    }
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    if args.timeout is not None:
        options["timeout"] = args.timeout
    if args.no_rate_limit or args.rate_limit or args.rate_store:
        options["rate_limit"] = _rate_limit(args)
    try:
        return CasesClient.from_env(**options)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from exc


def _rate_limit(args: argparse.Namespace) -> RateLimit | None:
    if args.no_rate_limit:
        if args.rate_limit or args.rate_store:
            raise UsageError(
                "--rate-limit or --rate-store and --no-rate-limit contradict each other"
            )
        return None
    return RateLimit(*(args.rate_limit or KORE_RATE_LIMITS), store=args.rate_store or None)


def _auth(args: argparse.Namespace, missing: list[str]) -> Auth | None:
    """Flags first, then the environment: --jwt, --client-id/--client-secret, KORE_*.

    A flag of the id/secret pair takes the other half from its variable, never KORE_JWT.
    """
    env = os.environ
    variables: Mapping[str, str | None] = env
    if args.jwt:
        variables = {"KORE_JWT": args.jwt}
    elif args.client_id or args.client_secret:
        variables = {
            "KORE_CLIENT_ID": args.client_id or env.get("KORE_CLIENT_ID"),
            "KORE_CLIENT_SECRET": args.client_secret or env.get("KORE_CLIENT_SECRET"),
        }
    try:
        return auth_from(variables, missing, _flag_or_variable)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _flag_or_variable(variable: str) -> str:
    """``KORE_CLIENT_ID`` -> ``--client-id (or KORE_CLIENT_ID)``."""
    return f"--{variable.removeprefix('KORE_').lower().replace('_', '-')} (or {variable})"
