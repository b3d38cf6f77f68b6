"""``kore-cases export --window DAYS|auto``: an export by creation-date windows, resumable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers import listing
from test_cli import (
    CASES,
    PAGE,
    connection,
    read_ids,
    record,
    resume_argv,
    run_main,
    settled,
)

from kore_cases.testing import FakeKoreServer


@pytest.fixture
async def server() -> AsyncIterator[FakeKoreServer]:
    # A "slow" fault stalls 0 s: a normal answer that uses up a scheduled fault.
    async with FakeKoreServer(cases=CASES, seed=3, slow_seconds=0.0) as srv:
        yield srv


def windowed_export(server: FakeKoreServer, target: Path | str, *more: str) -> list[str]:
    flags = ["--page-size", str(PAGE), "--no-rate-limit", "-o", str(target), "-q"]
    return ["export", *connection(server), *flags, "--window", "60", *more]


def windows_asked(server: FakeKoreServer, since: int = 0) -> list[tuple[str | None, str | None]]:
    """The (startDate, endDate) of each page request since ``since``, in order sent."""
    return [
        (r.body.get("startDate"), r.body.get("endDate"))
        for r in server.request_log[since:]
        if r.body.get("limit") == PAGE
    ]


@pytest.mark.parametrize("window", ["60", "auto"])
async def test_a_windowed_export_writes_every_case_once_in_order(
    server: FakeKoreServer, tmp_path: Path, window: str
) -> None:
    target = tmp_path / "cases.jsonl"
    argv = windowed_export(server, target)
    argv[-1] = window
    assert await run_main(*argv) == 0
    assert read_ids(target, "jsonl") == server.case_ids()
    # 60 days: the pull is split; auto: 237 cases are less than one automatic window.
    assert len(set(windows_asked(server))) == (1 if window == "auto" else 4)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_a_failed_windowed_export_resumes_at_its_window_and_page(
    server: FakeKoreServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    target = tmp_path / f"cases.{fmt}"
    # One window at a time: the newest one's page 3 comes, the next window's fails.
    server.schedule_faults(3, "slow", "500")
    flags = ("--max-retries", "0", "--concurrency", "1")
    assert await run_main(*windowed_export(server, target, *flags)) == 1
    kept = record(target)
    start, end = kept["window"]
    assert kept["next_page"] == 3
    assert windows_asked(server).index((start, end)) > 0
    err = capsys.readouterr().err
    command = resume_argv(err, monkeypatch, server)
    assert command[command.index("--window") + 1] == "60"

    before = await settled(server)
    assert await run_main(*command) == 0
    assert read_ids(target, fmt) == server.case_ids()  # in order, none twice, none missing
    assert listing(tmp_path) == [target.name]
    # It went on with the window and page it stopped at, not from the first window.
    first = next(r for r in server.request_log[before:] if r.body.get("limit") == PAGE)
    assert (first.body.get("startDate"), first.body.get("endDate"), first.body["page"]) == (
        start,
        end,
        3,
    )
    assert windows_asked(server)[0] not in windows_asked(server, before)


async def test_resuming_with_another_window_is_a_usage_error(
    server: FakeKoreServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "cases.jsonl"
    server.schedule_faults(3, "500")
    assert await run_main(*windowed_export(server, target, "--max-retries", "0")) == 1
    capsys.readouterr()
    argv = windowed_export(server, target, "--resume")
    argv[argv.index("60")] = "30"
    assert await run_main(*argv) == 2
    assert "--window 60 then, 30 now" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--window", "0"], "--window: must be a number of days > 0 (e.g. 30) or 'auto'"),
        (["--window", "monthly"], "not 'monthly'"),
        (["--window", "30", "--start-page", "2"], "--start-page counts the pages of one window"),
        # The windows are cut by creation date: another order was an "internal error".
        (["--window", "30", "--sort", "priority:asc"], "--window cuts the export by creation"),
        (["--window", "auto", "--sort", "createdDate"], "--sort createdDate:asc (or :desc)"),
    ],
)
async def test_bad_window_flags_fail_before_any_request(
    server: FakeKoreServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    argv = ["export", *connection(server), "-o", str(tmp_path / "c.jsonl"), *flags]
    assert await run_main(*argv) == 2
    assert message in capsys.readouterr().err
    assert server.stats.requests == 0
    assert listing(tmp_path) == []


async def test_a_failed_windowed_export_to_stdout_says_to_export_to_a_file(
    server: FakeKoreServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.schedule_faults(3, "500")
    assert await run_main(*windowed_export(server, "-", "--max-retries", "0")) == 1
    err = capsys.readouterr().err
    assert "a windowed export to standard output cannot continue where it stopped" in err
    assert "-o FILE" in err
