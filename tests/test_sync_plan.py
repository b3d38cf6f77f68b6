"""The sync plan (pure): which ranges a run reads, and the probe windows."""

from __future__ import annotations

import pytest

from kore_cases._sync._keys import case_key, month_of, month_start, next_month_start
from kore_cases._sync._plan import DAY_MS, PROBE_PAD_MS, Range, plan_probes, plan_run

H = 1_748_736_000_000  # 2025-06-01T00:00:00Z


def test_a_first_run_reads_everything_from_the_filters_start() -> None:
    plan = plan_run(high_water_ms=None, since_ms=None, refresh_ms=DAY_MS, overlap_ms=0, full=False)
    assert plan.first
    assert plan.recent_start_ms is None
    assert plan.unresolved is None

    since = H - 100 * DAY_MS
    plan = plan_run(high_water_ms=None, since_ms=since, refresh_ms=0, overlap_ms=0, full=False)
    assert (plan.recent_start_ms, plan.settle_start_ms) == (since, since)


def test_a_later_run_reads_the_refresh_window_then_older_unresolved_cases() -> None:
    plan = plan_run(
        high_water_ms=H, since_ms=None, refresh_ms=30 * DAY_MS, overlap_ms=60_000, full=False
    )
    assert not plan.first
    assert plan.recent_start_ms == plan.settle_start_ms == H - 30 * DAY_MS
    assert plan.unresolved == Range(None, H - 30 * DAY_MS)


def test_without_a_refresh_window_the_overlap_still_reads_just_before_the_mark() -> None:
    plan = plan_run(high_water_ms=H, since_ms=None, refresh_ms=0, overlap_ms=300_000, full=False)
    assert plan.recent_start_ms == H - 300_000


def test_a_filter_starting_inside_the_window_is_read_whole() -> None:
    since = H - 5 * DAY_MS
    plan = plan_run(
        high_water_ms=H, since_ms=since, refresh_ms=30 * DAY_MS, overlap_ms=0, full=False
    )
    assert plan.recent_start_ms == since
    assert plan.unresolved is None


def test_a_full_refresh_reads_and_settles_everything() -> None:
    since = H - 5 * DAY_MS
    plan = plan_run(high_water_ms=H, since_ms=since, refresh_ms=DAY_MS, overlap_ms=0, full=True)
    assert plan.first
    assert plan.recent_start_ms == since
    assert plan.settle_start_ms is None  # stored cases older than since are dropped too


def test_negative_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="refresh"):
        plan_run(high_water_ms=H, since_ms=None, refresh_ms=-1, overlap_ms=0, full=False)


def test_a_range_holds_only_what_is_strictly_inside() -> None:
    window = Range(10, 20)
    assert [t for t in range(8, 23) if window.holds(t)] == list(range(11, 20))
    assert Range(None, 20).holds(-(10**12))
    assert not window.holds(None)
    assert Range(None, None).holds(None)


def test_each_probe_window_holds_its_case_strictly_inside() -> None:
    stored = list(range(0, 10_000, 100))
    windows = plan_probes([500, 5_000], stored, page_limit=1)
    assert windows == [
        Range(500 - PROBE_PAD_MS, 500 + PROBE_PAD_MS),
        Range(5_000 - PROBE_PAD_MS, 5_000 + PROBE_PAD_MS),
    ]
    assert all(w.holds(c) for w, c in zip(windows, [500, 5_000], strict=True))


def test_neighbours_share_a_window_while_it_holds_at_most_a_page() -> None:
    stored = list(range(0, 10_000, 100))  # a stored case every 100 ms
    # 500..900 holds 5 stored cases: one window with a page of 5, two with a page of 4.
    assert plan_probes([500, 700, 900], stored, page_limit=5) == [Range(498, 902)]
    assert plan_probes([500, 700, 900], stored, page_limit=4) == [Range(498, 702), Range(898, 902)]
    # Duplicates and disorder do not matter.
    assert plan_probes([900, 500, 500], stored, page_limit=100) == [Range(498, 902)]
    assert plan_probes([], stored, page_limit=10) == []


def test_probe_planning_refuses_an_empty_page() -> None:
    with pytest.raises(ValueError, match="page_limit"):
        plan_probes([1], [1], page_limit=0)


def test_month_arithmetic_is_utc_and_exact() -> None:
    assert month_of(H - 1) == "2025-05"
    assert month_of(H) == "2025-06"
    assert month_start("2025-06") == H
    assert next_month_start("2025-05") == H
    assert next_month_start("2024-12") == month_start("2025-01")


def test_a_case_key_reads_id_times_and_whether_it_is_resolved() -> None:
    key = case_key(
        b'{"_id":"c1","createdAt":"2025-05-31T23:59:59.999Z","updatedAt":"2025-06-01T00:00:00Z",'
        b'"status":{"name":"Closed","statusCategory":"closed"},"other":[1,2]}'
    )
    assert (key.id, key.created_ms, key.updated_ms) == ("c1", H - 1, H)
    assert not key.unresolved
    assert key.month == "2025-05"
    assert key.raw.endswith(b'"other":[1,2]}')
    odd = case_key(b'{"_id":"c2","createdAt":"yesterday","status":"Open"}')
    assert odd.created_ms is None
    assert odd.unresolved  # nothing says it is resolved: it is watched
    assert odd.month == "__HIVE_DEFAULT_PARTITION__"


def test_a_refresh_window_reaching_back_before_1970_reads_everything_again() -> None:
    plan = plan_run(
        high_water_ms=H, since_ms=None, refresh_ms=10**9 * DAY_MS, overlap_ms=0, full=False
    )
    assert (plan.recent_start_ms, plan.settle_start_ms, plan.unresolved) == (None, None, None)
    assert not plan.first
