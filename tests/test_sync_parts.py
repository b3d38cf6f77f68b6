"""The parts of a sync run without I/O: its meter and the unresolved-set bookkeeping."""

from __future__ import annotations

from typing import Any

from kore_cases import CasesPage
from kore_cases._sync._dataset import MonthChanges
from kore_cases._sync._keys import month_start, next_month_start
from kore_cases._sync._merge import track_unresolved
from kore_cases._sync._meter import RunMeter
from kore_cases._sync._plan import Range
from kore_cases._sync._report import SyncProgress, SyncSummary

MAY = "2025-05"


def page(cases: int, *, total: int, limit: int) -> CasesPage[Any]:
    return CasesPage(
        results=[{}] * cases,
        page=1,
        limit=limit,
        has_more=cases < total,
        total_pages=-(-total // limit),
        total_results=total,
    )


class TestRunMeter:
    def meter(
        self, asked: int | str = 50, reports: list[SyncProgress] | None = None
    ) -> tuple[RunMeter, list[float]]:
        now = [100.0]
        seen = reports if reports is not None else []
        meter = RunMeter(
            SyncSummary(directory="d", first=True),
            seen.append,
            asked_page_size=asked,
            max_page_size=1000,
            clock=lambda: now[0],
        )
        return meter, now

    def test_pages_count_into_the_summary_and_the_progress(self) -> None:
        reports: list[SyncProgress] = []
        meter, now = self.meter(reports=reports)
        meter.plan_requests("newest", 1)
        meter.count_requests(1)
        now[0] = 102.5
        meter.note_page("recent", page(40, total=130, limit=40), requests=2)
        assert meter.summary.requests == meter.progress.requests == 3
        assert meter.progress.cases == 40
        # The first page says the pull holds 4 pages; with "newest", 5 requests planned.
        assert reports[-1].requests_planned == 5
        assert reports[-1].elapsed == 2.5

    def test_the_plan_is_never_less_than_what_was_sent(self) -> None:
        reports: list[SyncProgress] = []
        meter, _ = self.meter(reports=reports)
        meter.plan_requests("probes", 2)
        meter.count_requests(7)
        meter.report("probes")
        assert (reports[-1].phase, reports[-1].requests_planned) == ("probes", 7)

    def test_the_page_limit_is_the_servers_else_what_was_asked(self) -> None:
        assert self.meter(asked=50)[0].page_limit() == 50
        assert self.meter(asked="max")[0].page_limit() == 1000
        meter, _ = self.meter(asked="max")
        meter.note_page("recent", page(200, total=900, limit=200), requests=1)
        assert meter.page_limit() == 200


class TestTrackUnresolved:
    def test_a_month_read_whole_keeps_only_the_cases_said_unresolved(self) -> None:
        start, after = month_start(MAY), next_month_start(MAY)
        unresolved = {
            "gone-or-resolved": start + 10,
            "still-open": start + 20,
            "on-the-edge": start,  # not strictly inside the range read: kept
            "next-month": after + 5,
        }
        changes = MonthChanges(covered=[Range(start, None)], unresolved={"still-open": start + 20})
        track_unresolved(unresolved, MAY, changes, removed=set())
        assert unresolved == {
            "still-open": start + 20,
            "on-the-edge": start,
            "next-month": after + 5,
        }

    def test_removed_and_resolved_cases_leave_and_new_ones_join(self) -> None:
        start = month_start(MAY)
        unresolved = {"removed": start + 1, "resolved": start + 2, "kept": start + 3}
        changes = MonthChanges(unresolved={"new": start + 4}, resolved={"resolved"})
        track_unresolved(unresolved, MAY, changes, removed={"removed"})
        assert unresolved == {"kept": start + 3, "new": start + 4}
