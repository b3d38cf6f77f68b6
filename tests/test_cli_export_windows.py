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

from kore_cases._export import Partial
from kore_cases.cli._resume import _stopped_at
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


async def fail_in_the_second_window(server: FakeKoreServer, target: Path) -> None:
    """An export to ``target`` that fails at page 3 of its second window."""
    # One window at a time: the newest one's page 3 comes, the next window's fails.
    server.schedule_faults(3, "slow", "500")
    flags = ("--max-retries", "0", "--concurrency", "1")
    assert await run_main(*windowed_export(server, target, *flags)) == 1


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
    await fail_in_the_second_window(server, target)
    kept = record(target)
    start, end = kept["window"]
    assert kept["next_page"] == 3
    assert windows_asked(server).index((start, end)) > 0
    err = capsys.readouterr().err
    # The page number alone would not say which window: the line names its dates.
    assert f"failed at page 3 of the window of cases created from {start} to {end};" in err
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


async def test_a_resumed_export_failing_to_learn_the_oldest_case_says_so(
    server: FakeKoreServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "cases.jsonl"
    await fail_in_the_second_window(server, target)
    first = resume_argv(capsys.readouterr().err, monkeypatch, server)
    kept = record(target)
    # The resumed export learns the oldest case again (one case a page: page CASES).
    server.schedule_faults(CASES, "500")
    assert await run_main(*first) == 1
    err = capsys.readouterr().err
    assert "while learning the oldest case's creation date" in err
    assert "failed at page" not in err
    assert f"{kept['cases']} cases kept" in err
    assert record(target) == kept
    # The command it prints continues the export as the first one said.
    assert resume_argv(err, monkeypatch, server) == first
    await settled(server)
    assert await run_main(*first) == 0
    assert read_ids(target, "jsonl") == server.case_ids()


async def test_a_fresh_export_failing_to_learn_the_oldest_case_says_so(
    server: FakeKoreServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.schedule_faults(CASES, "500")
    target = tmp_path / "cases.jsonl"
    assert await run_main(*windowed_export(server, target, "--max-retries", "0")) == 1
    err = capsys.readouterr().err
    assert "while learning the oldest case's creation date" in err
    assert "failed at page" not in err


@pytest.mark.parametrize(
    ("window", "where"),
    [
        (
            ("2024-01-31T23:59:59.999Z", "2024-03-01T00:00:00.000Z"),
            "from 2024-01-31T23:59:59.999Z to 2024-03-01T00:00:00.000Z",
        ),
        ((None, "2024-03-01T00:00:00.000Z"), "up to 2024-03-01T00:00:00.000Z"),
        (("2024-01-31T23:59:59.999Z", None), "from 2024-01-31T23:59:59.999Z on"),
        ((None, None), "at any time"),
    ],
)
def test_an_interrupted_windowed_export_names_its_window(
    window: tuple[str | None, str | None], where: str
) -> None:
    kept = Partial(format="jsonl", next_page=4, cases=60, size=900, window=window)
    said = _stopped_at(KeyboardInterrupt(), kept)
    assert said == f"interrupted at page 4 of the window of cases created {where}; "


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
