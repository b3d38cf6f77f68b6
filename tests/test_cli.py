"""The kore-cases command, through main(argv) and as `python -m kore_cases`, on a fake server.

``main()`` runs its own event loop, so it runs in a worker thread (``asyncio.to_thread``)
while the test's loop serves the FakeKoreServer; subprocess runs use
``asyncio.create_subprocess_exec`` for the same reason.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pyarrow.parquet as pq
import pytest

from kore_cases import CaseFilter, CasesClient, JwtAuth
from kore_cases import cli as cli_module
from kore_cases.cli import main
from kore_cases.testing import FakeKoreServer

CASES = 237  # not a multiple of the page sizes used
PAGE = 20
SUBPROCESS_TIMEOUT = 20.0


@pytest.fixture(autouse=True)
def _no_kore_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own KORE_* settings must not leak into these tests."""
    for name in list(os.environ):
        if name.startswith("KORE_"):
            monkeypatch.delenv(name)


@pytest.fixture
async def server() -> AsyncIterator[FakeKoreServer]:
    async with FakeKoreServer(cases=CASES, seed=3) as srv:
        yield srv


def connection(server: FakeKoreServer, **overrides: str) -> list[str]:
    flags = {
        "--host": server.url,
        "--stream-id": server.stream_id,
        "--account-id": server.account_id,
        "--client-id": server.client_id,
        "--client-secret": server.client_secret,
        **overrides,
    }
    return [item for pair in flags.items() for item in pair]


def kore_env(server: FakeKoreServer) -> dict[str, str]:
    return {
        "KORE_HOST": server.url,
        "KORE_STREAM_ID": server.stream_id,
        "KORE_ACCOUNT_ID": server.account_id,
        "KORE_CLIENT_ID": server.client_id,
        "KORE_CLIENT_SECRET": server.client_secret,
    }


async def run_main(*argv: str) -> int:
    """``main(argv)`` in a worker thread, so the test's loop keeps serving."""
    return await asyncio.to_thread(main, list(argv))


async def run_cli(
    *argv: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[int, str, str]:
    """``python -m kore_cases ...`` as a subprocess: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kore_cases",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**_clean_env(), **(env or {})},
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(proc.communicate(), SUBPROCESS_TIMEOUT)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KORE_")}
    env["PYTHONWARNINGS"] = "error"  # an unclosed session or transport fails the run
    return env


def body_filters(server: FakeKoreServer, index: int = 0) -> dict[str, Any]:
    """The filter part of a logged request body (paging removed)."""
    body = dict(server.request_log[index].body)
    for key in ("page", "limit", "skip"):
        body.pop(key, None)
    return body


# -- demo -----------------------------------------------------------------------------


async def test_demo_pulls_everything_and_prints_a_summary() -> None:
    code, out, err = await run_cli("demo", "--cases", "300", "--latency-ms", "1")
    assert code == 0, err
    assert "Pulled 300 cases" in out
    statuses = re.findall(r"\b(New|Open|In Progress|On Hold|Resolved|Closed)\s+([\d,]+)\s", out)
    priorities = re.findall(r"\b(Low|Medium|High|Critical)\s+([\d,]+)\s", out)
    assert len(statuses) == 6
    assert len(priorities) == 4
    assert sum(int(n.replace(",", "")) for _, n in statuses) == 300
    assert sum(int(n.replace(",", "")) for _, n in priorities) == 300
    assert "Traceback" not in err


async def test_demo_without_rich_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)  # makes `import rich` fail
    assert await run_main("demo", "--cases", "10") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "pip install 'kore-cases[cli]'" in err


# -- export ---------------------------------------------------------------------------


def listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def read_ids(path: Path, fmt: str) -> list[str]:
    if fmt == "jsonl":
        return [msgspec.json.decode(line)["_id"] for line in path.read_bytes().splitlines()]
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8") as f:
            return [row["id"] for row in csv.DictReader(f)]
    ids: list[str] = pq.read_table(path).column("id").to_pylist()
    return ids


@pytest.mark.parametrize(
    ("fmt", "flags"),
    [("jsonl", []), ("csv", []), ("parquet", ["--format", "parquet"])],
)
async def test_export_round_trips_in_server_order(
    server: FakeKoreServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    flags: list[str],
) -> None:
    # The parquet case names the format explicitly, the others by their suffix.
    target = tmp_path / ("cases.data" if flags else f"cases.{fmt}")
    argv = ["export", *connection(server), "--page-size", str(PAGE), "-o", str(target), *flags]
    assert await run_main(*argv) == 0
    assert read_ids(target, fmt) == server.case_ids()
    assert listing(tmp_path) == [target.name]
    err = capsys.readouterr().err
    assert f"wrote {CASES} cases (12 pages) to {target}" in err


async def test_export_jsonl_to_stdout_keeps_fields_and_sends_the_filter(
    server: FakeKoreServer,
) -> None:
    code, out, err = await run_cli(
        "export", "--status", "open", "--status", "new", "--max-items", "30", "-q", "-o", "-",
        env=kore_env(server),
    )  # fmt: skip
    assert code == 0, err
    assert err == ""  # --quiet
    cases = [json.loads(line) for line in out.splitlines()]
    expected = server.case_ids({"status": ["open", "new"]})[:30]
    assert [c["_id"] for c in cases] == expected
    assert {"refId", "createdAt", "fields", "ETA"} <= set(cases[0])  # every field as sent
    assert body_filters(server) == {"status": ["open", "new"]}


async def test_every_filter_flag_reaches_the_server(
    server: FakeKoreServer, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = [
        "--status", "open", "--status", "in progress", "--priority", "high",
        "--search", "refund", "--unresolved", "--unassigned", "--mine", "--channel", "email",
        "--queue", "VIP", "--since", "2024-01-01", "--until", "2025-02-01T00:00:00Z",
        "--due", "2025-01-15", "--sort", "createdDate:desc",
    ]  # fmt: skip
    assert await run_main("count", *connection(server), *flags) == 0
    expected = {
        "status": ["open", "in progress"],
        "priority": ["high"],
        "searchText": "refund",
        "unresolved": True,
        "unassigned": True,
        "mycase": True,
        "channel": ["email"],
        "queues": ["VIP"],
        "startDate": "2024-01-01",
        "endDate": "2025-02-01T00:00:00.000Z",
        "dueDate": "2025-01-15",
        "sortBy": {"createdDate": "desc"},
    }
    assert body_filters(server) == expected
    assert capsys.readouterr().out == f"{len(server.case_ids(expected))}\n"


async def test_count_prints_total_results(
    server: FakeKoreServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in kore_env(server).items():  # connection from the environment
        monkeypatch.setenv(name, value)
    assert await run_main("count", "--priority", "high", "--unresolved") == 0
    expected = server.case_ids({"priority": ["high"], "unresolved": True})
    assert capsys.readouterr().out == f"{len(expected)}\n"
    assert 0 < len(expected) < CASES


async def test_a_failed_export_leaves_nothing_and_says_how_to_resume(
    server: FakeKoreServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "cases.csv"
    argv = ["export", *connection(server), "--page-size", str(PAGE), "-o", str(target)]
    argv += ["--no-rate-limit"]
    # Two attempts per page with --max-retries 1: page 3 fails both, then recovers.
    server.schedule_faults(3, "503", "503")
    assert await run_main(*argv, "--max-retries", "1") == 1
    assert listing(tmp_path) == []
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("kore-cases: error: HTTP 503")
    assert "--start-page 3" in err

    assert await run_main(*argv, "--max-retries", "1", "--start-page", "3") == 0
    assert read_ids(target, "csv") == server.case_ids()[2 * PAGE :]


async def test_interrupting_an_export_removes_its_temporary_file(
    server: FakeKoreServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write = cli_module.CaseExport.write

    def write_then_interrupt(self: Any, case: dict[str, Any]) -> None:
        write(self, case)
        if self.count == 50:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli_module.CaseExport, "write", write_then_interrupt)
    target = tmp_path / "cases.jsonl"
    assert await run_main("export", *connection(server), "-o", str(target)) == 130
    assert listing(tmp_path) == []
    assert capsys.readouterr().err == "kore-cases: interrupted\n"


async def test_export_with_a_progress_bar(
    server: FakeKoreServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli_module, "_progress_wanted", lambda args: True)
    target = tmp_path / "cases.jsonl"
    argv = ["export", *connection(server), "--start-page", "2", "--max-items", "60"]
    assert await run_main(*argv, "-o", str(target)) == 0
    assert read_ids(target, "jsonl") == server.case_ids()[50:110]
    assert "Exporting" in capsys.readouterr().err


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export", "--bogus"], "unrecognized arguments: --bogus"),
        (["export", "--since", "last tuesday"], "--since must be an ISO-8601 date"),
        (["export", "--status"], "argument --status: expected one argument"),
        (["export", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
        (["count", "--sort", "createdDate:sideways"], "--sort direction must be 'asc' or 'desc'"),
        (["count", "--since", "2025-02-01", "--until", "2025-01-01"], "--since (2025-02-01) is"),
        (["count", "--host", "https://x.example"], "missing connection settings: --stream-id"),
        (["count", "--host", "x.example", "--stream-id", "st", "--account-id", "a", "--jwt", "t"],
         "host must be a URL with its scheme"),
        (["serve", "--rate", "600"], "must be REQUESTS/SECONDS such as 600/60"),
        (["count", "--host", "https://x.example", "--stream-id", "st", "--account-id", "a",
          "--jwt", "t", "--no-rate-limit", "--rate-limit", "5/1"], "contradict each other"),
        ([], "choose a command"),
    ],
)  # fmt: skip
async def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_main(*argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


async def test_bad_secret_is_one_line_without_traceback(server: FakeKoreServer) -> None:
    argv = ["count", *connection(server, **{"--client-secret": "not-the-secret"})]
    code, out, err = await run_cli(*argv)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert "HTTP 401" in err
    assert "check the client id and secret" in err
    assert "Traceback" not in err


async def test_debug_shows_the_traceback(
    server: FakeKoreServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["count", *connection(server, **{"--client-secret": "not-the-secret"}), "--debug"]
    assert await run_main(*argv) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "AuthenticationError" in err
    assert err.rstrip().splitlines()[-1].startswith("kore-cases: error: HTTP 401")


async def test_connection_errors_say_what_to_check(
    server: FakeKoreServer, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = connection(server)
    await server.close()  # nothing listens on its port any more
    assert await run_main("count", *flags, "--max-retries", "0") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.rstrip().endswith("check --host (or KORE_HOST) and the network")


async def test_unwritable_output_fails_before_any_request(
    server: FakeKoreServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing-dir" / "cases.jsonl"
    assert await run_main("export", *connection(server), "-o", str(target)) == 1
    assert "No such file or directory" in capsys.readouterr().err
    assert server.request_log == []


# -- serve ----------------------------------------------------------------------------


@pytest.mark.parametrize(("sig", "expected"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
async def test_serve_json_line_then_signal(sig: signal.Signals, expected: int) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kore_cases", "serve", "--port", "0", "--json", "--cases", "120",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_clean_env(),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), SUBPROCESS_TIMEOUT)
        info = json.loads(line)
        keys = {"url", "client_id", "client_secret", "stream_id", "account_id", "endpoint"}
        assert set(info) == keys
        auth = JwtAuth(info["client_id"], info["client_secret"])
        async with CasesClient(
            info["url"], info["stream_id"], info["account_id"], auth, rate_limit=None
        ) as client:
            ids = [case.id async for case in client.iter_cases(CaseFilter())]
        assert len(ids) == len(set(ids)) == 120
        proc.send_signal(sig)
        out, err = await asyncio.wait_for(proc.communicate(), SUBPROCESS_TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == expected, err
    assert out == b""  # nothing after the JSON line
    assert b"fake server stopped after" in err


async def test_serve_reports_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    async with FakeKoreServer(cases=1) as busy:
        port = busy.url.rsplit(":", 1)[1]
        assert await run_main("serve", "--port", port) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "pick another --port" in err


async def test_serve_tells_people_how_to_connect(server: FakeKoreServer) -> None:
    out = io.StringIO()
    cli_module._announce(server, argparse.Namespace(json=False), out)
    text = out.getvalue()
    assert text.startswith(f"Fake Kore.ai server on {server.url} with {CASES} cases")
    assert f"client secret  {server.client_secret}" in text
    assert f"export KORE_HOST={server.url} KORE_STREAM_ID={server.stream_id}" in text
