"""The pure parts of a pull, driven directly: no sockets, no event loop.

``ContinuityTracker`` decides whether a page continues the pages before it;
``PrefetchWindow`` decides which pages are fetched ahead.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kore_cases import PaginationError
from kore_cases._continuity import MAX_REWINDS, ContinuityTracker, PageFacts, Rewind
from kore_cases._prefetch import PREFETCH_MAX_BYTES, PrefetchWindow, pages_within


def facts(
    page: int, total: int, count: int = 10, *, more: bool = False, keys: list[int] | None = None
) -> PageFacts:
    """A page of ``count`` cases whose keys are ``page * 100 + i`` unless given."""
    if keys is None:
        keys = [page * 100 + i for i in range(count)]
    return PageFacts(page, total, count, more, keys)


def read(tracker: ContinuityTracker, *pages: PageFacts) -> list[Rewind | None]:
    return [tracker.check(p) for p in pages]


class TestContinuity:
    def test_pages_of_one_snapshot_are_accepted_up_to_the_total(self) -> None:
        tracker = ContinuityTracker(first=1, served_page_size=10)
        assert read(tracker, facts(1, 35)) == [None]
        assert tracker.last_page == 4
        assert read(tracker, facts(2, 35), facts(3, 35), facts(4, 35, 5)) == [None] * 3
        assert (tracker.checked, tracker.total, tracker.resume_page) == (4, 35, 5)
        assert tracker.shortfall(35) == 0

    def test_total_pages_is_not_the_plan_total_results_is(self) -> None:
        # A server announcing totalPages=1e9 is not believed: 30 cases are 3 pages.
        tracker = ContinuityTracker(first=1, served_page_size=10)
        tracker.check(facts(1, 30))
        assert tracker.last_page == 3

    @pytest.mark.parametrize("count", [0, 4])
    def test_a_short_or_empty_page_ends_the_data(self, count: int) -> None:
        tracker = ContinuityTracker(first=1, served_page_size=10)
        read(tracker, facts(1, 10**9), facts(2, 10**9, count))
        assert tracker.last_page == 2
        assert tracker.shortfall(10 + count) == 10**9 - 10 - count

    def test_has_more_leads_past_the_total_only_while_pages_are_new(self) -> None:
        tracker = ContinuityTracker(first=1, served_page_size=2)
        read(tracker, facts(1, 2, 2, more=True))
        assert tracker.last_page == 2
        read(tracker, facts(2, 2, 2, more=True))
        assert tracker.last_page == 3
        # Page 3 repeats a case of page 2: no further than page 3 on hasMore's word.
        verdict = tracker.check(facts(3, 2, 2, more=True, keys=[201, 300]))
        assert verdict is not None
        assert verdict.keep
        assert tracker.last_page == 3

    def test_has_more_without_ids_leads_no_further_than_the_total_and_one(self) -> None:
        tracker = ContinuityTracker(first=1, served_page_size=2)
        read(tracker, facts(1, 2, 2, more=True, keys=[]), facts(2, 2, 2, more=True, keys=[]))
        assert tracker.last_page == 2

    def test_a_page_repeating_the_one_before_is_a_pagination_error(self) -> None:
        tracker = ContinuityTracker(first=1, served_page_size=3)
        tracker.check(facts(1, 100, 3, keys=[1, 2, 3]))
        with pytest.raises(PaginationError, match=r"same 3 cases as page 1.*paging='skip'") as e:
            tracker.check(facts(2, 100, 3, keys=[1, 2, 3]))
        assert e.value.page == 2

    def test_a_changed_total_rewinds_as_far_as_the_shift_spans(self) -> None:
        tracker = ContinuityTracker(first=1, served_page_size=10)
        read(tracker, facts(1, 100), facts(2, 100), facts(3, 100), facts(4, 100))
        verdict = tracker.check(facts(5, 88))  # 12 cases gone: two pages back
        assert verdict is not None
        assert (verdict.to, verdict.keep) == (3, False)
        assert "100, then 88 at page 5" in verdict.reason
        assert tracker.resume_page == 3  # pages 3-4 may have lost cases to earlier pages

    def test_a_reread_starting_too_late_goes_further_back(self) -> None:
        tracker = ContinuityTracker(first=1, served_page_size=10)
        read(tracker, facts(1, 100), facts(2, 100), facts(3, 100))
        assert tracker.check(facts(4, 99)) == Rewind(3, False, _r(99))
        # The data moved again before the re-read: 30 away from the pages handed out.
        verdict = tracker.check(facts(3, 70))
        assert verdict is not None
        assert verdict.to == 1
        assert read(tracker, facts(1, 70), facts(2, 70)) == [None, None]

    def test_a_reread_close_enough_is_accepted(self) -> None:
        tracker = ContinuityTracker(first=1, served_page_size=10)
        read(tracker, facts(1, 100), facts(2, 100), facts(3, 100))
        tracker.check(facts(4, 101))
        assert tracker.check(facts(3, 101)) is None
        assert tracker.total == 101

    def test_a_seam_overlap_with_an_unchanged_total_reads_the_pages_after_again(self) -> None:
        # Page 2 starts with the last case of page 1: one case was created and one
        # resolved between the two reads. Page 2 is kept, pages after it read again.
        tracker = ContinuityTracker(first=1, served_page_size=10)
        tracker.check(facts(1, 50))
        verdict = tracker.check(facts(2, 50, keys=[109] + [200 + i for i in range(9)]))
        assert verdict is not None
        assert (verdict.to, verdict.keep) == (3, True)
        assert "page 2 repeats 1 case of page 1" in verdict.reason
        assert tracker.resume_page == 3
        assert tracker.check(facts(3, 50)) is None
        assert tracker.moves == 1

    def test_any_case_of_the_page_before_shows_the_overlap(self) -> None:
        # Two created, and c109 (the last case of page 1) resolved: c108 still shows it.
        tracker = ContinuityTracker(first=1, served_page_size=10)
        tracker.check(facts(1, 50))
        verdict = tracker.check(facts(2, 50, keys=[108] + [200 + i for i in range(9)]))
        assert verdict is not None
        assert verdict.keep

    def test_the_first_page_of_a_reread_is_not_a_seam(self) -> None:
        tracker = ContinuityTracker(first=1, served_page_size=10)
        read(tracker, facts(1, 100), facts(2, 100))
        tracker.check(facts(3, 105))
        # Re-read page 2 overlaps page 1 by design (5 cases slid onto it): accepted.
        assert tracker.check(facts(2, 105, keys=[105, 106, 107, 108, 109, *range(5)])) is None

    def test_rewinds_without_progress_end_in_a_pagination_error(self) -> None:
        # Each re-read finds the data moved by one page more: it never gets past page 15.
        tracker = ContinuityTracker(first=1, served_page_size=10)
        read(tracker, *(facts(p, 1000) for p in range(1, 16)))
        total = 1000
        with pytest.raises(PaginationError, match="pin end_date") as caught:
            for _ in range(MAX_REWINDS + 1):
                total += 10
                verdict = tracker.check(facts(tracker.checked + 1, total))
                assert verdict is not None
        assert caught.value.page == 16

    def test_unordered_arrivals_are_checked_in_page_order(self) -> None:
        tracker = ContinuityTracker(first=1, served_page_size=10)
        tracker.check(facts(1, 40))
        assert tracker.arrive(facts(3, 40)) is None
        assert tracker.checked == 1
        assert tracker.arrive(facts(4, 40)) is None
        assert tracker.arrive(facts(2, 40)) is None
        assert tracker.checked == 4

    def test_an_unordered_arrival_with_another_total_rewinds_once_its_turn_comes(self) -> None:
        tracker = ContinuityTracker(first=1, served_page_size=10)
        tracker.check(facts(1, 40))
        assert tracker.arrive(facts(3, 41)) is None
        verdict = tracker.arrive(facts(2, 40))
        assert verdict is not None
        assert verdict.to == 2

    def test_shortfall_counts_from_the_start_page_and_the_least_total(self) -> None:
        tracker = ContinuityTracker(first=3, served_page_size=10)
        read(tracker, facts(3, 50), facts(4, 50), facts(5, 50))
        assert tracker.shortfall(30) == 0
        assert tracker.shortfall(28) == 2
        grown = ContinuityTracker(first=1, served_page_size=10)
        read(grown, facts(1, 20))
        grown.check(facts(2, 25))  # created during the pull: 20 are owed, not 25
        assert grown.least_total == 20

    def test_a_page_size_below_one_is_refused(self) -> None:
        with pytest.raises(ValueError, match="served_page_size"):
            ContinuityTracker(first=1, served_page_size=0)


def _r(total: int) -> str:
    return f"totalResults changed during the pull: 100, then {total} at page 4"


class TestPrefetchWindow:
    @staticmethod
    def starter(log: list[tuple[int, bool]]) -> Callable[[int, bool], str]:
        def start(page: int, again: bool) -> str:
            log.append((page, again))
            return f"h{page}"

        return start

    def test_schedules_in_order_up_to_its_size_and_the_last_page(self) -> None:
        log: list[tuple[int, bool]] = []
        window: PrefetchWindow[str, str] = PrefetchWindow(3, first=2)
        assert window.schedule(last=10, start=self.starter(log)) == [2, 3, 4]
        assert window.schedule(last=10, start=self.starter(log)) == []
        assert window.lowest_in_flight() == 2
        window.take(2)
        window.put_ready(2, "p2")
        assert window.schedule(last=10, start=self.starter(log)) == []  # p2 holds a place
        assert window.pop_ready() == "p2"
        assert window.schedule(last=4, start=self.starter(log)) == []  # nothing past 4
        assert log == [(2, False), (3, False), (4, False)]

    def test_a_budget_caps_what_is_started(self) -> None:
        window: PrefetchWindow[str, str] = PrefetchWindow(8, first=1)
        assert window.schedule(last=100, start=self.starter([]), budget=2) == [1, 2]

    def test_first_done_is_the_lowest_finished_page(self) -> None:
        window: PrefetchWindow[str, str] = PrefetchWindow(4, first=1)
        window.schedule(last=4, start=self.starter([]))
        finished = {"h3", "h4"}
        assert window.first_done(lambda h: h in finished) == 3
        assert window.first_done(lambda h: False) is None

    def test_restart_drops_what_is_in_flight_and_reads_again(self) -> None:
        log: list[tuple[int, bool]] = []
        window: PrefetchWindow[str, str] = PrefetchWindow(3, first=1)
        window.schedule(last=10, start=self.starter(log))
        window.put_ready(0, "p0")
        assert window.restart(2) == ["h1", "h2", "h3"]
        assert window.lowest_ready() == 0  # pages accepted before stay ready
        window.schedule(last=10, start=self.starter(log))
        assert log[3:] == [(2, True), (3, True)]
        assert window.high == 3

    def test_trim_forgets_the_pages_past_the_end(self) -> None:
        window: PrefetchWindow[str, str] = PrefetchWindow(4, first=1)
        window.schedule(last=10, start=self.starter([]))
        assert window.trim(2) == ["h3", "h4"]
        assert window.schedule(last=2, start=self.starter([])) == []
        assert window.next_page == 3

    def test_pause_stops_what_is_not_answered_and_schedules_it_again_first(self) -> None:
        log: list[tuple[int, bool]] = []
        window: PrefetchWindow[str, str] = PrefetchWindow(3, first=1)
        window.schedule(last=10, start=self.starter(log))
        assert window.pause(lambda h: h == "h2") == ["h1", "h3"]
        assert list(window.in_flight) == [2]
        assert window.schedule(last=10, start=self.starter(log)) == [1, 3]
        assert log[3:] == [(1, True), (3, True)]

    def test_clear_forgets_everything(self) -> None:
        window: PrefetchWindow[str, str] = PrefetchWindow(2, first=1)
        window.schedule(last=10, start=self.starter([]))
        window.put_ready(0, "p0")
        assert window.clear() == ["h1", "h2"]
        assert window.pop_ready() is None
        assert window.ready_items() == []

    def test_a_window_holds_at_least_one_page(self) -> None:
        with pytest.raises(ValueError, match="at least 1"):
            PrefetchWindow(0, first=1)

    def test_a_smaller_size_starts_nothing_until_pages_are_taken(self) -> None:
        window: PrefetchWindow[str, str] = PrefetchWindow(4, first=1)
        window.schedule(last=10, start=self.starter([]))
        window.size = 2
        window.take(1)
        window.take(2)
        assert window.schedule(last=10, start=self.starter([])) == []  # 3 and 4 still fly
        window.take(3)
        assert window.schedule(last=10, start=self.starter([])) == [5]


@pytest.mark.parametrize(
    ("concurrency", "page_bytes", "pages"),
    [
        (8, None, 8),  # nothing read yet: the concurrency
        (8, 150_000, 8),  # pages of 50 cases: the concurrency
        (8, PREFETCH_MAX_BYTES // 4, 4),  # four fill the cap
        (8, 3_000_000, PREFETCH_MAX_BYTES // 3_000_000),  # pages of 1,000 cases
        (8, PREFETCH_MAX_BYTES * 5, 2),  # huge pages: still one read while one arrives
        (1, PREFETCH_MAX_BYTES * 5, 1),  # never more than the concurrency
        (3, 1, 3),
    ],
)
def test_the_window_is_the_concurrency_or_what_fits_the_byte_cap(
    concurrency: int, page_bytes: int | None, pages: int
) -> None:
    assert pages_within(concurrency, page_bytes) == pages
