"""``kore-cases sync``: the dataset, the summary, the progress bar, the usage errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sync_scenario import server_set
from test_cli import _no_kore_environment, connection, run_main  # noqa: F401 (autouse)
from test_sync import dataset_set

from kore_cases import RateLimit, SyncProgress, SyncSummary
from kore_cases.cli import _sync_command
from kore_cases.testing import FakeKoreServer

FAST = ["--rate-limit", "6000/60"]


@pytest.fixture
async def server() -> AsyncIterator[FakeKoreServer]:
    async with FakeKoreServer(cases=600, max_page_size=50) as srv:
        yield srv


async def test_sync_writes_the_dataset_and_a_summary(
    server: FakeKoreServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "cases"
    assert await run_main("sync", str(target), *connection(server), *FAST) == 0
    assert dataset_set(target) == server_set(server)
    first = capsys.readouterr().err
    assert f"synced {target} (first sync)" in first
    assert "600 in the dataset: 600 new" in first
    assert "requests  13 (a full pull: 13; 100%)" in first  # 1 for the newest case + 12 pages

    server.update_case(server.case_ids()[0], priority="Critical")
    assert await run_main("sync", str(target), *connection(server), *FAST) == 0
    second = capsys.readouterr().err
    assert "(update)" in second
    assert "1 changed" in second
    assert dataset_set(target) == server_set(server)


async def test_sync_keeps_to_its_filter_until_a_full_refresh(
    server: FakeKoreServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = str(tmp_path)
    assert await run_main("sync", target, *connection(server), *FAST, "--status", "open") == 0
    assert await run_main("sync", target, *connection(server), *FAST, "--status", "new") == 2
    assert "--full-refresh" in capsys.readouterr().err
    argv = ["sync", target, *connection(server), *FAST, "--status", "new", "--full-refresh"]
    assert await run_main(*argv) == 0
    assert dataset_set(tmp_path) == server_set(server, {"status": ["new"]})


async def test_sync_refuses_a_sort_and_a_damaged_state_file(
    server: FakeKoreServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["sync", str(tmp_path), *connection(server), *FAST]
    assert await run_main(*argv, "--sort", "createdDate") == 2
    assert "drop --sort" in capsys.readouterr().err
    (tmp_path / "_sync_state.json").write_text("{")
    assert await run_main(*argv) == 2
    assert "damaged" in capsys.readouterr().err
    assert server.stats.requests == 0
    assert await run_main(*argv, "--full-refresh", "--quiet") == 0
    assert capsys.readouterr().err == ""


async def test_sync_with_a_progress_bar(
    server: FakeKoreServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(_sync_command._output, "progress_wanted", lambda args: True)
    assert await run_main("sync", str(tmp_path), *connection(server), *FAST) == 0
    err = capsys.readouterr().err
    assert "Sync: writing" in err  # the last phase, drawn as the bar stops
    assert "13/13 requests" in err
    assert "months" in err


def test_the_eta_comes_from_the_budget() -> None:
    progress = SyncProgress(requests=10, requests_planned=130, elapsed=1.0)
    # 120 requests left at 60 a minute, although the first ten went out at once.
    assert _sync_command.eta_seconds(progress, RateLimit((60, 60.0))) == 120.0
    # Without a budget, the pace so far.
    assert _sync_command.eta_seconds(progress, None) == 12.0
    assert _sync_command.eta_seconds(SyncProgress(), None) is None


def test_the_summary_compares_with_a_full_pull() -> None:
    summary = SyncSummary(
        directory="data",
        first=False,
        new=5,
        changed=3,
        unchanged=40,
        removed=1,
        total=100_000,
        months_written=2,
        requests=90,
        full_pull_requests=1_001,
        probes=4,
        elapsed=12.0,
        high_water="2025-06-01T00:00:00.000Z",
    )
    lines = _sync_command.summary_lines(summary, RateLimit((60, 60.0)))
    assert lines == [
        "kore-cases: synced data (update) in 12.0 s",
        "  cases     100,000 in the dataset: 5 new, 3 changed, 40 unchanged, 1 removed",
        "  files     2 months written",
        "  requests  90 (a full pull: 1,001; 9%), of which 4 probes for resolved cases",
        "  budget    1:30 at 60 requests/min (a full pull: 16:41)",
        "  newest    2025-06-01T00:00:00.000Z (server time)",
    ]
