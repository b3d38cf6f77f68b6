"""The small commands: ``count`` (one number) and ``serve`` (the fake server, for tests)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shlex
import signal
import sys
from typing import TYPE_CHECKING, Any, TextIO

from .. import CaseFilter, CasesClient
from . import _flags
from ._common import EXIT_INTERRUPTED, EXIT_OK, PROG, UsageError, plural

if TYPE_CHECKING:
    from ..testing import FakeKoreServer

__all__ = ["announce", "cmd_count", "cmd_serve"]


def cmd_count(args: argparse.Namespace) -> int:
    """Print how many cases match the filter flags."""
    case_filter = _flags.case_filter(args)
    client = _flags.client(args)
    print(asyncio.run(_count(client, case_filter)))
    return EXIT_OK


async def _count(client: CasesClient, case_filter: CaseFilter) -> int:
    async with client:
        total: int = await client.count(case_filter)
    return total


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the fake server in the foreground until Ctrl-C or SIGTERM."""
    from ..testing import FakeKoreServer

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
            announce(server, args, sys.stdout)
            async with _churn(server, args.churn):
                await stop.wait()
        finally:
            await server.close()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
    print(
        f"{PROG}: fake server stopped after {plural(server.stats.requests, 'request')}",
        file=sys.stderr,
    )
    return EXIT_INTERRUPTED if signal.SIGINT in received else EXIT_OK


def _admin_url(server: FakeKoreServer) -> str:
    from ..testing import ADMIN_PREFIX

    return server.url + ADMIN_PREFIX


def _churn(
    server: FakeKoreServer, per_second: float
) -> contextlib.AbstractAsyncContextManager[Any]:
    """``--churn``: change cases in the background while serving (nothing when 0)."""
    from ..testing import Churn

    return Churn(server, per_second) if per_second > 0 else contextlib.nullcontext()


def announce(server: FakeKoreServer, args: argparse.Namespace, out: TextIO) -> None:
    """Say where the server listens: one JSON line with ``--json``, else for people."""
    settings = {
        "url": server.url,
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "stream_id": server.stream_id,
        "account_id": server.account_id,
        "endpoint": server.endpoint,
        "admin": _admin_url(server),
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
        f"  {'admin':<14} {_admin_url(server)}/cases (create, change, resolve, delete)",
        *(
            f"  {key.replace('_', ' '):<14} {value}"
            for key, value in settings.items()
            if key not in ("url", "endpoint", "admin")
        ),
        "",
        "Point kore-cases (or CasesClient.from_env) at it:",
        f"  export {exports}",
    ]
    print("\n".join(lines), file=out, flush=True)
