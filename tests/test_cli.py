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
import shlex
import signal
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pyarrow.parquet as pq
import pytest
import trustme
from aiohttp import web
from helpers import listing, serve, until

from kore_cases import CaseFilter, CasesClient, JwtAuth
from kore_cases._export import CaseExport, TargetLock
from kore_cases.cli import _commands, _export_command, main
from kore_cases.testing import FakeKoreServer

CASES = 237  # not a multiple of the page sizes used
PAGE = 20
SUBPROCESS_TIMEOUT = 20.0
# The secret came with --client-secret: the resume command names its variable.
SET_SECRET = "set KORE_CLIENT_SECRET to the value of --client-secret (not printed here), then "


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


async def settled(server: FakeKoreServer) -> int:
    """The number of requests logged once the stragglers of a stopped pull arrived.

    A pull that fails cancels its other fetches, but requests already on the wire can
    still reach the server a moment later.
    """
    count = -1
    while count != len(server.request_log) or server.stats.in_flight:
        count = len(server.request_log)
        await asyncio.sleep(0.05)
    return count


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


async def test_the_command_imports_and_helps_without_rich() -> None:
    code = (
        "import sys; sys.modules['rich'] = None; from kore_cases.cli import main; "
        "sys.exit(main(['export', '--help']))"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_clean_env(),
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), SUBPROCESS_TIMEOUT)
    assert proc.returncode == 0, err
    assert b"--resume" in out


# -- export ---------------------------------------------------------------------------


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
    # 12 pages, paced faster than Kore's default (the fake server's 60 a minute holds them).
    argv = ["export", *connection(server, **{"--rate-limit": "100/1"}), "--page-size", str(PAGE)]
    argv += ["-o", str(target), *flags]
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
        "startDate": "2024-01-01T00:00:00.000Z",
        "endDate": "2025-02-01T00:00:00.000Z",
        "dueDate": "2025-01-15T00:00:00.000Z",
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


async def test_interrupting_an_export_before_a_page_is_complete_leaves_nothing(
    server: FakeKoreServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write = CaseExport.write

    def write_then_interrupt(self: Any, case: dict[str, Any]) -> None:
        write(self, case)
        if self.count == 50:  # the last case of page 1, before the page is marked complete
            raise KeyboardInterrupt

    monkeypatch.setattr(CaseExport, "write", write_then_interrupt)
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
    monkeypatch.setattr(_export_command._output, "progress_wanted", lambda args: True)
    target = tmp_path / "cases.jsonl"
    argv = ["export", *connection(server), "--page-size", "50", "--start-page", "2"]
    argv += ["--max-items", "60"]
    assert await run_main(*argv, "-o", str(target)) == 0
    assert read_ids(target, "jsonl") == server.case_ids()[50:110]
    assert "Exporting" in capsys.readouterr().err


async def test_export_asks_the_largest_page_by_default(
    server: FakeKoreServer, tmp_path: Path
) -> None:
    target = tmp_path / "cases.jsonl"
    assert await run_main("export", *connection(server), "-q", "-o", str(target)) == 0
    assert read_ids(target, "jsonl") == server.case_ids()
    # 1000 asked once; the fake server's clamp (100) for every page after it.
    limits = [record.limit for record in server.request_log]
    assert limits[0] == 1000
    assert set(limits[1:]) == {100}
    assert len(limits) == -(-CASES // 100)


async def test_export_to_a_link_to_dev_null_leaves_the_link(
    server: FakeKoreServer, tmp_path: Path
) -> None:
    link = tmp_path / "null.jsonl"
    link.symlink_to(os.devnull)
    assert await run_main(*export_argv(server, link)) == 0
    assert os.readlink(link) == os.devnull
    assert listing(tmp_path) == [link.name]


async def test_export_csv_neutralises_formulas_unless_csv_raw(tmp_path: Path) -> None:
    formula = '=HYPERLINK("http://evil.example","open me")'

    async def handler(request: web.Request) -> web.Response:
        case = {"_id": "c-1", "name": formula, "tags": ["@SUM(1)"]}
        page = {"page": 1, "limit": 50, "hasMore": False, "totalPages": 1, "totalResults": 1}
        return web.json_response({**page, "results": [case]})

    safe, raw = tmp_path / "safe.csv", tmp_path / "raw.csv"
    async with serve(handler) as url:
        argv = ["export", "--host", url, "--stream-id", "st-1", "--account-id", "a"]
        argv += ["--jwt", "token", "--no-rate-limit", "-q"]
        assert await run_main(*argv, "-o", str(safe)) == 0
        assert await run_main(*argv, "-o", str(raw), "--csv-raw") == 0
    with safe.open(newline="") as f_safe, raw.open(newline="") as f_raw:
        row, raw_row = next(csv.DictReader(f_safe)), next(csv.DictReader(f_raw))
    assert (row["name"], row["tags"]) == ("'" + formula, "'@SUM(1)")
    assert (raw_row["name"], raw_row["tags"]) == (formula, "@SUM(1)")


# -- resuming a file export -----------------------------------------------------------


def export_argv(server: FakeKoreServer, target: Path, *more: str) -> list[str]:
    """An export to ``target`` in pages of PAGE."""
    flags = ["--page-size", str(PAGE), "--no-rate-limit", "-o", str(target)]
    return ["export", *connection(server), *flags, *more]


def side_file(target: Path, suffix: str) -> Path:
    return target.with_name(target.name + suffix)


def partial_ids(target: Path, fmt: str) -> list[str]:
    """The ids in FILE.partial: raw cases for JSONL, flat rows for CSV and Parquet."""
    key = "_id" if fmt == "jsonl" else "id"
    lines = side_file(target, ".partial").read_bytes().splitlines()
    return [msgspec.json.decode(line)[key] for line in lines]


def record(target: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(side_file(target, ".partial.json").read_text())
    return data


def resume_argv(err: str, monkeypatch: pytest.MonkeyPatch, server: FakeKoreServer) -> list[str]:
    """The command the error line says to type, split and expanded as a shell would."""
    command = err.split("resume with: ", 1)[1].strip()
    monkeypatch.setenv("KORE_CLIENT_SECRET", server.client_secret)  # the user's shell has it
    words = [os.path.expandvars(word) for word in shlex.split(command)]
    assert words[:2] == ["kore-cases", "export"]
    assert words[-1] == "--resume"
    return words[1:]


async def fail_at_page_3(
    server: FakeKoreServer, target: Path, *more: str, retries: int = 0
) -> None:
    """The export fails at page 3: every attempt it makes there gets a 500, the next succeed."""
    server.schedule_faults(3, *["500"] * (retries + 1))
    argv = export_argv(server, target, "--max-retries", str(retries), *more)
    assert await run_main(*argv) == 1


def fetched_pages(server: FakeKoreServer, since: int) -> list[int]:
    """The pages of PAGE cases asked for since request ``since`` (count() asks for 1 case)."""
    return [r.body["page"] for r in server.request_log[since:] if r.body.get("limit") == PAGE]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
async def test_a_failed_export_keeps_its_complete_pages_and_the_command_resumes_it(
    server: FakeKoreServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    target = tmp_path / f"cases.{fmt}"
    await fail_at_page_3(server, target, retries=1)
    assert listing(tmp_path) == [f"cases.{fmt}.partial", f"cases.{fmt}.partial.json"]
    assert partial_ids(target, fmt) == server.case_ids()[: 2 * PAGE]
    assert record(target)["next_page"] == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("kore-cases: error: HTTP 500")
    assert (
        f"; failed at page 3; 40 cases kept in {target}.partial; "
        f"{SET_SECRET}resume with: kore-cases export --host "
    ) in err
    assert server.client_secret not in err  # the command names $KORE_CLIENT_SECRET instead

    before = await settled(server)
    assert await run_main(*resume_argv(err, monkeypatch, server)) == 0
    assert read_ids(target, fmt) == server.case_ids()  # in order, none twice, none missing
    assert listing(tmp_path) == [target.name]
    # Nothing kept is fetched again (the pages arrive in any order).
    assert sorted(fetched_pages(server, before)) == list(range(3, 13))
    summary = capsys.readouterr().err
    assert f"wrote {CASES} cases to {target}: 40 from {target}.partial, 197 fetched" in summary


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
async def test_ctrl_c_mid_page_keeps_only_the_complete_pages(
    server: FakeKoreServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    write = CaseExport.write

    def write_then_interrupt(self: Any, case: dict[str, Any]) -> None:
        write(self, case)
        if self.count == 2 * PAGE + 5:  # five cases into page 3
            raise KeyboardInterrupt

    monkeypatch.setattr(CaseExport, "write", write_then_interrupt)
    target = tmp_path / f"cases.{fmt}"
    assert await run_main(*export_argv(server, target)) == 130
    # The five cases of page 3 were cut off: the resume fetches page 3 whole.
    assert partial_ids(target, fmt) == server.case_ids()[: 2 * PAGE]
    assert record(target)["next_page"] == 3
    err = capsys.readouterr().err
    assert err.startswith(
        f"kore-cases: interrupted at page 3; 40 cases kept in {target}.partial; "
        f"{SET_SECRET}resume with: kore-cases export "
    )

    monkeypatch.setattr(CaseExport, "write", write)
    assert await run_main(*resume_argv(err, monkeypatch, server)) == 0
    assert read_ids(target, fmt) == server.case_ids()


async def test_a_real_ctrl_c_keeps_the_complete_pages(tmp_path: Path) -> None:
    target = tmp_path / "cases.jsonl"
    async with FakeKoreServer(cases=CASES, seed=3, latency=0.05) as server:
        argv = export_argv(server, target, "--concurrency", "1")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kore_cases", *argv,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_clean_env(),
        )  # fmt: skip
        try:
            # Pages 1 to 3 are in.
            await until(lambda: len(server.request_log) >= 4, SUBPROCESS_TIMEOUT)
            proc.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(proc.communicate(), SUBPROCESS_TIMEOUT)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 130, err
        kept = partial_ids(target, "jsonl")
        assert kept == server.case_ids()[: len(kept)]
        assert kept
        assert len(kept) % PAGE == 0  # whole pages only
        pages = len(kept) // PAGE
        message = f"interrupted at page {pages + 1}; {len(kept)} cases kept in {target}.partial"
        assert err.decode().startswith(f"kore-cases: {message}; {SET_SECRET}resume with: ")

        assert await run_main(*export_argv(server, target, "--resume")) == 0
        assert read_ids(target, "jsonl") == server.case_ids()


async def test_the_resume_command_repeats_every_flag(
    server: FakeKoreServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "open cases.csv"  # a name the shell must get quoted
    flags = ["--status", "open", "--status", "in progress", "--since", "2023-01-01"]
    flags += ["--timeout", "5", "--rate-limit", "1000/1", "--unresolved", "-q"]
    query = {
        "status": ["open", "in progress"],
        "startDate": "2023-01-01T00:00:00.000Z",
        "unresolved": True,
    }
    assert len(server.case_ids(query)) > 2 * PAGE
    server.schedule_faults(3, "500")
    argv = ["export", *connection(server), "--page-size", str(PAGE), "--max-retries", "0"]
    assert await run_main(*argv, "-o", str(target), *flags) == 1
    err = capsys.readouterr().err
    command = err.split("resume with: ", 1)[1]
    assert '--client-secret "$KORE_CLIENT_SECRET" --page-size 20 --max-retries 0' in command
    assert "--timeout 5 --rate-limit 1000/1 --status open --status 'in progress'" in command
    assert "--unresolved --since 2023-01-01 --output " in command
    assert f"--output {shlex.quote(str(target))} --quiet --resume" in command
    assert await run_main(*resume_argv(err, monkeypatch, server)) == 0
    assert read_ids(target, "csv") == server.case_ids(query)
    assert capsys.readouterr().err == ""  # --quiet was repeated


async def test_an_earlier_partial_is_neither_overwritten_nor_reused_silently(
    server: FakeKoreServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "cases.csv"
    await fail_at_page_3(server, target)
    kept = side_file(target, ".partial").read_bytes()
    capsys.readouterr()
    before = await settled(server)

    assert await run_main(*export_argv(server, target)) == 2
    err = capsys.readouterr().err
    assert (
        f"{target}.partial holds 40 cases of an earlier export that stopped at page 3: add "
        "--resume to continue it, or --restart to discard it and start over"
    ) in err
    assert side_file(target, ".partial").read_bytes() == kept
    assert not target.exists()
    assert len(server.request_log) == before

    # --start-page at the page it stopped at continues it, as the old hint said.
    assert await run_main(*export_argv(server, target, "--start-page", "3")) == 0
    assert read_ids(target, "csv") == server.case_ids()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--status", "open"], 'the filters {} then, {"status":["open"]} now'),
        (["--page-size", "25"], "--page-size 20 then, 25 now"),
        (["--format", "jsonl"], "--format csv then, jsonl now"),
        (["--max-items", "100"], "--max-items none then, 100 now"),
        (["--start-page", "2"], "it continues at page 3, not --start-page 2"),
    ],
)
async def test_resuming_with_other_settings_is_a_usage_error(
    server: FakeKoreServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    target = tmp_path / "cases.csv"
    await fail_at_page_3(server, target)
    kept = side_file(target, ".partial").read_bytes()
    capsys.readouterr()
    assert await run_main(*export_argv(server, target, *flags, "--resume")) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kore-cases: error: {target}.partial is from an export with other")
    assert message in err
    assert "or --restart to discard it" in err
    assert side_file(target, ".partial").read_bytes() == kept


async def test_restart_discards_the_partial(
    server: FakeKoreServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "cases.parquet"
    await fail_at_page_3(server, target)
    before = await settled(server)
    assert await run_main(*export_argv(server, target, "--restart")) == 0
    assert read_ids(target, "parquet") == server.case_ids()
    assert listing(tmp_path) == [target.name]
    # Fetched concurrently: the order in which the pages reached the server is free.
    assert sorted(fetched_pages(server, before)) == list(range(1, 13))
    assert f"wrote {CASES} cases (12 pages) to {target}" in capsys.readouterr().err


async def test_resume_needs_a_partial_and_a_file(
    server: FakeKoreServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "cases.jsonl"
    assert await run_main(*export_argv(server, target, "--resume")) == 2
    assert f"nothing to resume: there is no {target}.partial" in capsys.readouterr().err
    assert await run_main("export", *connection(server), "-o", "-", "--restart") == 2
    assert "--start-page N >> FILE" in capsys.readouterr().err
    assert await run_main("export", "--resume", "--restart") == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert server.request_log == []


async def test_resuming_after_new_cases_arrived_repeats_and_loses_nothing(
    server: FakeKoreServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "cases.jsonl"
    expected = server.case_ids()
    await fail_at_page_3(server, target)
    err = capsys.readouterr().err
    # Newest first: five new cases push every kept case five places down, so the
    # first cases of page 3 now are the last ones the partial holds.
    server.add_cases(5)
    before = await settled(server)
    assert await run_main(*resume_argv(err, monkeypatch, server)) == 0
    assert read_ids(target, "jsonl") == expected
    err = capsys.readouterr().err
    assert f"237 cases matched when {target}.partial was written, 242 now" in err
    assert fetched_pages(server, before)[0] == 2  # one page earlier: the change spans 5 cases


async def test_a_partial_longer_than_its_record_is_cut_back_on_resume(
    server: FakeKoreServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As a killed export leaves it: bytes written after the last record are dropped."""
    target = tmp_path / "cases.jsonl"
    await fail_at_page_3(server, target)
    with side_file(target, ".partial").open("ab") as partial:
        partial.write(b'{"_id": "half a ca')
    assert await run_main(*export_argv(server, target, "--resume")) == 0
    assert read_ids(target, "jsonl") == server.case_ids()


async def test_a_damaged_partial_names_restart(
    server: FakeKoreServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "cases.jsonl"
    await fail_at_page_3(server, target)
    partial = side_file(target, ".partial")
    partial.write_bytes(b"#" + partial.read_bytes()[1:])
    capsys.readouterr()
    assert await run_main(*export_argv(server, target, "--resume")) == 2
    err = capsys.readouterr().err
    assert f"{partial} is damaged at line 1; --restart discards it and starts over" in err
    assert await run_main(*export_argv(server, target, "--restart")) == 0
    assert read_ids(target, "jsonl") == server.case_ids()


@pytest.mark.parametrize(
    ("fmt", "hint"),
    [
        (
            "jsonl",
            "run the same export with --start-page 3 --max-items 60 and append its output (>>)",
        ),
        (
            "csv",
            "nothing was written (a table is written at the end); "
            "export to a file with -o FILE to be able to resume",
        ),
    ],
)
async def test_a_failed_export_to_stdout_says_what_was_written(
    server: FakeKoreServer, capsys: pytest.CaptureFixture[str], fmt: str, hint: str
) -> None:
    await fail_at_page_3(server, Path("-"), "--format", fmt, "--max-items", "100")
    out, err = capsys.readouterr()
    expected = server.case_ids()[: 2 * PAGE] if fmt == "jsonl" else []
    assert [json.loads(line)["_id"] for line in out.splitlines()] == expected
    assert err.count("\n") == 1
    assert err.rstrip().endswith(hint)


async def test_a_second_export_to_a_file_in_use_names_the_holder_and_touches_nothing(
    server: FakeKoreServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "cases.jsonl"
    await fail_at_page_3(server, target)
    kept = side_file(target, ".partial").read_bytes()
    capsys.readouterr()
    before = await settled(server)
    with TargetLock(target):  # an export of another process still runs
        for flag in ("--restart", "--resume"):
            assert await run_main(*export_argv(server, target, flag)) == 1
            err = capsys.readouterr().err
            assert f"another export (pid {os.getpid()}) is writing this file" in err
            assert str(target) in err
    assert side_file(target, ".partial").read_bytes() == kept
    assert len(server.request_log) == before


async def test_the_resume_hint_says_to_set_a_secret_given_as_a_flag(
    server: FakeKoreServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "cases.jsonl"
    await fail_at_page_3(server, target)  # the secret came with --client-secret
    err = capsys.readouterr().err
    assert "set KORE_CLIENT_SECRET to the value of --client-secret (not printed here)" in err
    assert server.client_secret not in err
    # Done as told, the command works.
    assert await run_main(*resume_argv(err, monkeypatch, server)) == 0
    monkeypatch.setenv("KORE_CLIENT_SECRET", server.client_secret)
    await fail_at_page_3(server, target, "--restart")
    assert "set KORE_CLIENT_SECRET" not in capsys.readouterr().err  # it already holds it


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
        (["count", "--rate-limit", "1/inf"], "length must be a finite number of seconds > 0"),
        (["count", "--page-size", "0"], "--page-size: must be a whole number >= 1 or 'max'"),
        (["count", "--page-size", "2.5"], "whole number >= 1 or 'max', not '2.5'"),
        (["count", "--max-retries", "-1"], "--max-retries: must be a whole number >= 0, not '-1'"),
        (["serve", "--port", "70000"], "--port: must be a port number 0..65535, not '70000'"),
        (["count", "--timeout", "0"], "--timeout: must be a number > 0, not '0'"),
        (["count", "--timeout", "soon"], "--timeout: must be a number, not 'soon'"),
        (["count", "--timeout", "inf"], "--timeout: must be a finite number, not 'inf'"),
        (["serve", "--latency-ms", "-1"], "--latency-ms: must be a number >= 0, not '-1'"),
        (["demo", "--fault-rate", "1.5"], "--fault-rate: must be a number from 0 to 1, not '1.5'"),
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
    assert f"{target}: No such file or directory" in capsys.readouterr().err
    assert server.request_log == []


def test_ctrl_c_while_starting_is_one_line_and_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted() -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("kore_cases.cli.build_parser", interrupted)
    assert main(["count"]) == 130
    assert capsys.readouterr().err == "kore-cases: interrupted\n"


async def test_a_private_ca_named_in_ssl_cert_file_is_trusted(tmp_path: Path) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))

    async def handler(request: web.Request) -> web.Response:
        page = {"page": 1, "limit": 1, "hasMore": False, "totalPages": 1, "totalResults": 7}
        return web.json_response({**page, "results": []})

    async with serve(handler, ssl_context=server_context) as url:
        argv = ["count", "--host", url, "--stream-id", "st-1", "--account-id", "a"]
        argv += ["--jwt", "token", "--no-rate-limit"]
        code, _, err = await run_cli(*argv)
        assert code == 1
        assert "127.0.0.1" in err
        assert "SSL_CERT_FILE" in err
        code, out, err = await run_cli(*argv, env={"SSL_CERT_FILE": str(bundle)})
        assert (code, out.strip()) == (0, "7"), err


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
        keys = {"url", "client_id", "client_secret", "stream_id", "account_id", "endpoint", "admin"}
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
    _commands.announce(server, argparse.Namespace(json=False), out)
    text = out.getvalue()
    assert text.startswith(f"Fake Kore.ai server on {server.url} with {CASES} cases")
    assert f"client secret  {server.client_secret}" in text
    assert f"export KORE_HOST={server.url} KORE_STREAM_ID={server.stream_id}" in text
