"""client.sync against the fake server: a dataset equal to the server's set, for few requests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from helpers import client_for
from sync_scenario import age, churn, newest_created, second_sync_needs, server_set

from kore_cases import (
    CaseFilter,
    CasesClient,
    PaginationError,
    Response,
    ServerError,
    SyncProgress,
)
from kore_cases._sync._dataset import Dataset, MonthChanges
from kore_cases._sync._keys import case_key
from kore_cases.testing import FakeKoreServer, MockTransport

REFRESH = timedelta(days=30)


def dataset_set(directory: Path) -> dict[str, str]:
    """id -> raw JSON of every row, read as any reader would (pyarrow.dataset, hive)."""
    table = pads.dataset(directory, format="parquet", partitioning="hive").to_table(
        columns=["id", "raw"]
    )
    ids = table.column("id").to_pylist()
    assert len(ids) == len(set(ids)), "a case is stored twice"
    return dict(zip(ids, table.column("raw").to_pylist(), strict=True))


def _listing(directory: Path) -> tuple[list[str], list[str]]:
    """The directories and the files in ``directory``."""
    entries = sorted(directory.iterdir())
    return [p.name for p in entries if p.is_dir()], [p.name for p in entries if p.is_file()]


def state(directory: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((directory / "_sync_state.json").read_text())
    return loaded


async def test_a_first_sync_reads_every_case_in_about_one_request_per_page(
    tmp_path: Path,
) -> None:
    async with FakeKoreServer(cases=3_000, max_page_size=40) as server:
        async with client_for(server, page_size="max") as client:
            summary = await client.sync(tmp_path)
        assert server.stats.requests <= 1.05 * math.ceil(3_000 / 40)
        assert summary.requests == server.stats.requests
    assert dataset_set(tmp_path) == server_set(server)
    assert (summary.first, summary.new, summary.total) == (True, 3_000, 3_000)
    # One file per creation month, hive style, and nothing else but the state file.
    months, files = _listing(tmp_path)
    assert len(months) == 24
    assert all(m.startswith("created_month=20") for m in months)
    assert files == ["_sync_state.json"]
    assert state(tmp_path)["high_water"] == summary.high_water


async def test_a_second_sync_reads_only_what_the_refresh_rules_need(tmp_path: Path) -> None:
    limit = 50
    async with FakeKoreServer(cases=10_000, max_page_size=limit) as server:
        age(server, older_than=REFRESH, keep_every=100)
        async with client_for(server, page_size="max") as client:
            first = await client.sync(tmp_path, refresh_days=30)
            first_requests = server.stats.requests
            high_water = newest_created(server)
            changes = churn(
                server, refresh=REFRESH, new=50, recent=30, old_unresolved=15, old_resolved=5
            )
            assert changes.total == 100  # 1% of the cases
            server.reset_stats()
            second = await client.sync(tmp_path, refresh_days=30)
        needs = second_sync_needs(server, high_water, REFRESH, limit, left=5)
        assert server.stats.requests == second.requests
        assert second.requests <= needs
        assert second.requests <= 0.10 * first_requests
        assert dataset_set(tmp_path) == server_set(server)
    assert first.requests == first_requests
    assert (second.first, second.new, second.changed) == (False, 50, 30 + 15 + 5)
    assert second.total == 10_050
    assert 1 <= second.probes <= 5


async def test_cases_deleted_or_leaving_the_filter_leave_the_dataset(tmp_path: Path) -> None:
    async with FakeKoreServer(cases=2_000, max_page_size=50) as server:
        age(server, older_than=REFRESH, keep_every=10)
        async with client_for(server, page_size="max") as client:
            unresolved = CaseFilter(unresolved=True)
            await client.sync(tmp_path, unresolved)
            assert dataset_set(tmp_path) == server_set(server, {"unresolved": True})
            recent = server.case_ids({"unresolved": True})[:3]
            old = server.case_ids({"unresolved": True})[-3:]
            server.delete_case(recent[0])
            server.resolve_case(recent[1])  # leaves the filter's set
            server.resolve_case(old[0])
            server.delete_case(old[1])
            summary = await client.sync(tmp_path, unresolved)
        assert dataset_set(tmp_path) == server_set(server, {"unresolved": True})
    assert summary.removed == 4


async def test_a_sync_of_a_filter_with_dates_keeps_to_them(tmp_path: Path) -> None:
    async with FakeKoreServer(cases=1_500, max_page_size=50) as server:
        since, until = "2025-03-01T00:00:00.000Z", "2025-05-01"
        flt = CaseFilter(start_date=since, end_date=until, priority=["high"])
        body = flt.to_body()
        async with server.client(page_size="max") as client:
            await client.sync(tmp_path, flt)
            assert dataset_set(tmp_path) == server_set(server, body)
            # The newest case, and the oldest unresolved one, leave the filter's set.
            server.update_case(server.case_ids(body)[0], priority="Low")
            server.update_case(server.case_ids({**body, "unresolved": True})[-1], priority="Low")
            summary = await client.sync(tmp_path, flt, refresh_days=10)
        assert dataset_set(tmp_path) == server_set(server, body)
    assert (summary.removed, summary.probes) == (2, 1)


async def test_a_full_refresh_rebuilds_even_after_a_filter_change(tmp_path: Path) -> None:
    async with FakeKoreServer(cases=800, max_page_size=50) as server:
        async with client_for(server, page_size="max") as client:
            await client.sync(tmp_path, CaseFilter(priority=["low"]))
            with pytest.raises(ValueError, match=r"another filter.*full refresh"):
                await client.sync(tmp_path, CaseFilter(priority=["high"]))
            summary = await client.sync(tmp_path, CaseFilter(priority=["high"]), full_refresh=True)
        assert dataset_set(tmp_path) == server_set(server, {"priority": ["high"]})
    assert summary.first
    assert summary.removed > 0  # the low-priority cases


async def test_bad_arguments_are_refused_before_any_request(tmp_path: Path) -> None:
    async with FakeKoreServer(cases=10) as server:
        async with client_for(server) as client:
            with pytest.raises(ValueError, match="sort_by"):
                await client.sync(tmp_path, CaseFilter(sort_by="createdDate"))
            with pytest.raises(ValueError, match="refresh_days"):
                await client.sync(tmp_path, refresh_days=-1)
            with pytest.raises(TypeError, match="on_progress"):
                await client.sync(tmp_path, on_progress="print")  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="CaseFilter"):
                await client.sync(tmp_path, {"status": ["open"]})  # type: ignore[arg-type]
            (tmp_path / "file").write_text("")
            with pytest.raises(NotADirectoryError):
                await client.sync(tmp_path / "file")
        assert server.stats.requests == 0


@pytest.mark.parametrize("refresh_days", [1e9, 1e300])
async def test_a_huge_refresh_window_reads_everything_again(
    tmp_path: Path, refresh_days: float
) -> None:
    async with FakeKoreServer(cases=300, max_page_size=50) as server:
        async with client_for(server, page_size="max") as client:
            await client.sync(tmp_path)
            server.delete_case(server.case_ids()[-1])  # the oldest case
            summary = await client.sync(tmp_path, refresh_days=refresh_days)
        assert dataset_set(tmp_path) == server_set(server)
    assert (summary.removed, summary.total) == (1, 299)


async def test_a_second_sync_of_a_directory_being_synced_is_refused(tmp_path: Path) -> None:
    async with FakeKoreServer(cases=600, max_page_size=50, latency=0.02) as server:
        async with client_for(server, page_size="max") as client:
            running = asyncio.Event()
            first = asyncio.create_task(
                client.sync(tmp_path, on_progress=lambda _progress: running.set())
            )
            await running.wait()
            with pytest.raises(OSError, match=r"another sync .* is updating this dataset"):
                await client.sync(tmp_path)
            assert not first.done()
            await first
            await client.sync(tmp_path)  # the lock went with the first run
        assert dataset_set(tmp_path) == server_set(server)
    assert _listing(tmp_path)[1] == ["_sync_state.json"]


async def test_progress_is_reported_page_by_page(tmp_path: Path) -> None:
    seen: list[tuple[str, int, int, int]] = []

    def note(progress: SyncProgress) -> None:
        seen.append((progress.phase, progress.requests, progress.requests_planned, progress.cases))

    async with (
        FakeKoreServer(cases=500, max_page_size=50) as server,
        client_for(server, page_size="max", concurrency=2) as client,
    ):
        await client.sync(tmp_path, on_progress=note)
    assert len(seen) >= 10
    assert seen[-1][1] == server.stats.requests
    assert all(planned >= 10 for _, _, planned, _ in seen)  # 1 + 10 pages, known early
    assert [cases for *_, cases in seen] == sorted(cases for *_, cases in seen)


def _case(case_id: str, created: str, field: str) -> bytes:
    return msgspec.json.encode(
        {
            "_id": case_id,
            "createdAt": created,
            "updatedAt": created,
            "fields": [{"metaData": {"name": field}, "selectedValue": 1}],
        }
    )


def test_a_new_field_column_reaches_every_file(tmp_path: Path) -> None:
    dataset = Dataset(tmp_path)
    old = case_key(_case("a", "2025-01-05T00:00:00.000Z", "first"))
    new = case_key(_case("b", "2025-02-05T00:00:00.000Z", "second"))
    _, fields = dataset.settle("2025-01", MonthChanges(incoming={"a": old}), [])
    _, fields = dataset.settle("2025-02", MonthChanges(incoming={"b": new}), fields)
    assert fields == ["field:first", "field:second"]
    assert dataset.conform_all(fields) == 1  # January's file lacked field:second
    schemas = [pq.read_schema(dataset.path(m)) for m in dataset.months()]
    assert schemas[0].equals(schemas[1])
    assert schemas[0].names[-3:] == ["field:first", "field:second", "raw"]
    assert dataset.conform_all(fields) == 0


async def test_duckdb_reads_the_dataset_with_its_partition_column(tmp_path: Path) -> None:
    async with FakeKoreServer(cases=1_200, max_page_size=100) as server:
        async with client_for(server, page_size="max") as client:
            await client.sync(tmp_path)
        expected = server_set(server)
    glob = str(tmp_path / "**" / "*.parquet")
    rows = duckdb.sql(
        f"SELECT id, raw, created_month, strftime(created_at AT TIME ZONE 'UTC', '%Y-%m'), "
        f"typeof(created_at), typeof(queues) "
        f"FROM read_parquet('{glob}', hive_partitioning=true)"
    ).fetchall()
    assert {row[0]: row[1] for row in rows} == expected
    assert all(row[2] == row[3] for row in rows)  # the partition is the creation month
    assert {row[4:] for row in rows} == {("TIMESTAMP WITH TIME ZONE", "VARCHAR[]")}


_SYNC_SCRIPT = """
import asyncio, sys
from kore_cases import CasesClient, JwtAuth

async def main(url, stream_id, account_id, client_id, secret, directory):
    auth = JwtAuth(client_id, secret)
    async with CasesClient(
        url, stream_id, account_id, auth, page_size="max", concurrency=2, rate_limit=None
    ) as client:
        await client.sync(directory)

asyncio.run(main(*sys.argv[1:]))
"""


async def _sync_killed_after(server: FakeKoreServer, directory: Path, requests: int | None) -> bool:
    """Run a sync in a child process; SIGKILL it once the server saw ``requests`` more
    requests. Returns whether it was killed (it may finish first)."""
    start = server.stats.requests
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _SYNC_SCRIPT,
        server.url,
        server.stream_id,
        server.account_id,
        server.client_id,
        server.client_secret,
        str(directory),
    )
    while child.returncode is None:
        if requests is not None and server.stats.requests - start >= requests:
            child.kill()
            await child.wait()
            return True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(child.wait(), 0.002)
    assert child.returncode == 0
    return False


def _assert_whole(directory: Path) -> None:
    """Every file a reader would pick up is whole, and so is the state file; no
    temporary file is left behind... but by a run that was killed."""
    for path in directory.glob("**/*.parquet"):
        pq.read_table(path)
    if (directory / "_sync_state.json").exists():
        state(directory)


async def test_a_sync_killed_at_random_points_ends_with_the_servers_set(tmp_path: Path) -> None:
    rng = random.Random(13)
    async with FakeKoreServer(cases=2_000, max_page_size=20, latency=0.002) as server:
        age(server, older_than=REFRESH, keep_every=5)
        killed_mid_run = 0
        for _ in range(6):  # the first sync: about 100 requests
            if await _sync_killed_after(server, tmp_path, rng.randint(1, 90)):
                _assert_whole(tmp_path)
                killed_mid_run += state(tmp_path).get("pending") is not None
        assert not await _sync_killed_after(server, tmp_path, None)
        assert dataset_set(tmp_path) == server_set(server)
        churn(server, refresh=REFRESH, new=40, recent=20, old_unresolved=10, old_resolved=5)
        for _ in range(4):  # a second sync: a few dozen requests
            if await _sync_killed_after(server, tmp_path, rng.randint(1, 20)):
                _assert_whole(tmp_path)
                killed_mid_run += state(tmp_path).get("pending") is not None
        assert not await _sync_killed_after(server, tmp_path, None)
        assert dataset_set(tmp_path) == server_set(server)
    assert killed_mid_run >= 5
    assert _leftovers(tmp_path) == []


def _leftovers(directory: Path) -> list[Path]:
    return list(directory.glob("**/.*.part"))


async def test_a_server_listing_oldest_first_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    cases = [
        {"_id": f"c{n}", "createdAt": f"2025-0{n}-01T00:00:00.000Z", "status": {"name": "Open"}}
        for n in (1, 2, 3)
    ]

    def oldest_first(request: Any) -> Response:
        limit = request.json()["limit"]
        answer = {"results": cases[:limit], "page": 1, "limit": limit, "hasMore": limit < 3}
        return Response(200, json={**answer, "totalPages": 3 // limit, "totalResults": 3})

    client = CasesClient(
        "https://kore.example", "st-1", "acc-1", "token", transport=MockTransport(oldest_first)
    )
    async with client:
        with pytest.raises(PaginationError, match="newest first"):
            await client.sync(tmp_path)
    assert _listing(tmp_path)[0] == []  # no month written


async def test_a_failed_first_sync_continues_from_the_month_in_progress(tmp_path: Path) -> None:
    async with FakeKoreServer(cases=2_000, max_page_size=50) as server:
        server.schedule_faults(30, "500")  # page 30 of 40 fails, with no retry left
        async with server.client(page_size="max", max_retries=0, concurrency=1) as client:
            with pytest.raises(ServerError):
                await client.sync(tmp_path)
            pending = state(tmp_path)["pending"]
            assert pending["next_end_ms"] < pending["end_ms"]  # some months are complete
            months_before, _ = _listing(tmp_path)
            assert 0 < len(months_before) < 24
            server.reset_stats()
            summary = await client.sync(tmp_path)
        # Only the months not yet complete are read again: about 11 pages and change.
        assert summary.resumed
        assert server.stats.requests <= 40 - 29 + 3
        assert dataset_set(tmp_path) == server_set(server)
    assert state(tmp_path)["pending"] is None
