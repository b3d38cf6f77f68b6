"""The watch's pure parts, without sockets: polls over canned pages, schedule, budget, state."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

from kore_cases import Case, CaseAdded, CaseFilter, CaseRemoved, CasesPage, RateLimit, WatchCursor
from kore_cases._watch._cursor import NewState
from kore_cases._watch._polls import (
    SetRead,
    poll_new,
    prime_new,
    read_set,
    start_new_poll,
    window_filter,
)
from kore_cases._watch._schedule import PollSchedule, set_budget
from kore_cases._watch._state_file import StateFile

T0 = datetime(2025, 6, 1, tzinfo=timezone.utc)


def case(n: int, *, ms: int | None = None) -> Case:
    created = T0 + timedelta(milliseconds=n if ms is None else ms)
    return Case(id=f"c{n}", created_at=created, updated_at=created)


class Listing:
    """A server's newest-first listing that can change between requests."""

    def __init__(self, cases: list[Case], *, oldest_first: bool = False) -> None:
        self.cases = cases
        self.oldest_first = oldest_first
        self.asked: list[tuple[int, str | None]] = []
        self.before_request: list[callable] = []  # type: ignore[valid-type]

    async def read_page(self, query: CaseFilter, page: int, size: int | None) -> CasesPage[Case]:
        if self.before_request:
            self.before_request.pop(0)()
        body = query.to_body()
        self.asked.append((page, body.get("startDate")))
        start = body.get("startDate")
        chosen = sorted(
            (
                c
                for c in self.cases
                if start is None or (c.created_at and c.created_at.isoformat() >= _iso(start))
            ),
            key=lambda c: c.created_at or T0,
            reverse=not self.oldest_first,
        )
        limit = size or 3
        items = chosen[(page - 1) * limit : page * limit]
        pages = -(-len(chosen) // limit)
        return CasesPage(
            results=items,
            page=page,
            limit=limit,
            has_more=page < pages,
            total_pages=pages,
            total_results=len(chosen),
        )


def _iso(text: str) -> str:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()


def state(high_water_ms: int, known: list[Case], overlap_ms: int = 5) -> NewState:
    s = NewState(
        WatchCursor("new", "k", high_water=T0 + timedelta(milliseconds=high_water_ms)),
        timedelta(milliseconds=overlap_ms),
    )
    for c in known:
        s.take(c)
    return s


# -- polls --------------------------------------------------------------------------------


async def test_idle_poll_is_one_request_even_when_the_boundary_spans_pages() -> None:
    known = [case(n) for n in range(100, 108)]  # 8 cases inside the overlap, 3 a page
    listing = Listing(known)
    found, requests = await poll_new(listing.read_page, CaseFilter(), state(107, known, 10))
    assert (found, requests) == ([], 1)


async def test_new_cases_are_read_as_far_as_they_go_oldest_first() -> None:
    known = [case(n) for n in range(100, 103)]
    new = [case(n) for n in range(103, 110)]  # 7 new, 3 a page
    listing = Listing(known + new)
    found, requests = await poll_new(listing.read_page, CaseFilter(), state(102, known))
    assert [c.id for c in found] == [c.id for c in new]
    assert requests == 3  # ceil(7/3)
    assert listing.asked[0][1] == "2025-06-01T00:00:00.097Z"  # high water - overlap


async def test_cases_leaving_mid_poll_make_the_poll_step_back() -> None:
    known = [case(n) for n in range(100, 102)]
    new = [case(n) for n in range(102, 110)]
    listing = Listing(known + new)
    # After page 1 is read, the three newest cases are deleted: everything moves up a page.
    listing.before_request = [lambda: None, lambda: _drop(listing, 3)]
    found, requests = await poll_new(listing.read_page, CaseFilter(), state(101, known))
    assert {c.id for c in new} <= {c.id for c in found}  # the deleted ones were seen first
    assert [page for page, _ in listing.asked] == [1, 2, 1, 2, 3]
    assert requests == 5


def _drop(listing: Listing, n: int) -> None:
    newest = sorted(listing.cases, key=lambda c: c.created_at or T0)[-n:]
    listing.cases = [c for c in listing.cases if c not in newest]


async def test_a_late_case_inside_the_overlap_is_new_and_an_old_one_is_not() -> None:
    known = [case(100), case(105)]
    late = case(103)  # created before the mark, listed only now
    too_old = case(90, ms=90)  # older than the window: a server ignoring startDate
    listing = Listing([*known, late, too_old])
    s = state(105, known, overlap_ms=5)
    found, _ = await poll_new(listing.read_page, CaseFilter(), s)
    assert [c.id for c in found] == ["c103"]


def test_boundary_keeps_only_the_overlap() -> None:
    s = state(0, [case(n) for n in range(20)], overlap_ms=5)
    s.trim()
    assert sorted(s.boundary) == sorted(f"c{n}" for n in range(14, 20))
    assert s.window_start() == T0 + timedelta(milliseconds=14)


def test_window_filter_keeps_a_later_user_start_and_knows_when_nothing_can_match() -> None:
    later = CaseFilter(start_date=T0 + timedelta(days=1))
    assert window_filter(later, T0) is later
    assert window_filter(CaseFilter(end_date=T0), T0 + timedelta(days=1)) is None
    assert window_filter(CaseFilter(), T0).start_date == T0  # type: ignore[union-attr]


async def test_known_cases_gone_from_the_window_cannot_hide_new_ones() -> None:
    known = [case(n) for n in range(100, 108)]
    new = [case(n) for n in range(108, 113)]  # 5 new, 3 a page
    listing = Listing([*known[2:], *new])  # 2 known cases deleted (or resolved away)
    found, requests = await poll_new(listing.read_page, CaseFilter(), state(107, known, 10))
    assert [c.id for c in found] == [c.id for c in new]
    assert requests == 2  # ceil(5/3): reads on while a page ends on a new case


async def test_a_custom_sort_reads_the_whole_window() -> None:
    known = [case(n) for n in range(100, 108)]
    listing = Listing(known)
    found, requests = await poll_new(
        listing.read_page, CaseFilter(sort_by="priority"), state(107, known, 10)
    )
    assert (found, requests) == ([], 3)  # no order to rely on: every page of the window


async def test_priming_finds_the_newest_case_when_the_listing_is_oldest_first() -> None:
    listing = Listing([case(n) for n in range(100, 110)], oldest_first=True)
    s = NewState(WatchCursor("new", "k", primed=False), timedelta(milliseconds=2))
    requests = await prime_new(listing.read_page, CaseFilter(sort_by={"createdDate": "asc"}), s)
    assert s.high_water == T0 + timedelta(milliseconds=109)
    assert sorted(s.boundary) == ["c107", "c108", "c109"]
    assert requests == 3  # page 1, then back from the last page while within the overlap


async def test_a_poll_that_fails_part_way_goes_on_from_the_failed_page() -> None:
    known = [case(n) for n in range(100, 102)]
    new = [case(n) for n in range(102, 112)]  # 10 new, 3 a page: 4 pages
    listing = Listing(known + new)
    attempts = {"n": 0}

    async def flaky(query: CaseFilter, page: int, size: int | None) -> CasesPage[Case]:
        attempts["n"] += 1
        if attempts["n"] == 3:  # page 3 of the first attempt fails (a 429, say)
            raise OSError("connection reset")
        return await listing.read_page(query, page, size)

    s = state(101, known)
    poll = start_new_poll(CaseFilter(), s)
    with pytest.raises(OSError, match="connection reset"):
        await poll_new(flaky, CaseFilter(), s, poll)
    found, requests = await poll_new(flaky, CaseFilter(), s, poll)
    assert [c.id for c in found] == [c.id for c in new]
    assert [page for page, _ in listing.asked] == [1, 2, 3, 4]  # no page read twice
    assert requests == 4


async def test_a_set_read_that_fails_part_way_goes_on_from_the_failed_page() -> None:
    listing = Listing([case(n) for n in range(100, 110)])
    calls = {"n": 0}

    async def flaky(query: CaseFilter, page: int, size: int | None) -> CasesPage[Case]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("connection reset")
        return await listing.read_page(query, page, size)

    read = SetRead()
    with pytest.raises(OSError, match="connection reset"):
        await read_set(flaky, CaseFilter(), lambda total, limit: None, read)
    cases, complete, _ = await read_set(flaky, CaseFilter(), lambda total, limit: None, read)
    assert complete
    assert len(cases) == 10
    assert [page for page, _ in listing.asked] == [1, 2, 3, 4]


# -- schedule and budget ------------------------------------------------------------------


def test_schedule_jitters_backs_off_and_warns_at_doublings() -> None:
    schedule = PollSchedule(10.0, 0.1, random.Random(1))
    assert all(9.0 <= schedule.succeeded() <= 11.0 for _ in range(100))
    delays, warned = [], []
    for _ in range(9):
        delays.append(schedule.failed())
        warned.append(schedule.worth_a_warning())
    assert all(d >= 10.0 for d in delays)  # never faster than every
    assert max(delays) <= 44.0  # at most 4 x every (+ jitter)
    assert warned == [True, True, False, True, False, False, False, True, False]
    assert schedule.failed(retry_after=100.0) == 100.0
    schedule.succeeded()
    assert schedule.failures == 0


def test_set_budget_arithmetic() -> None:
    budget = set_budget(730, 50, 10.0, None)
    assert (budget.per_poll, budget.per_minute, budget.allowed_per_minute) == (15, 90.0, 60.0)
    assert "every=15" in budget.explain()
    roomy = set_budget(730, 50, 10.0, RateLimit((600, 60.0), (18000, 3600.0)))
    assert roomy.allowed_per_minute == 300.0  # the tighter of the client's windows
    assert set_budget(0, 50, 1.0, None).per_poll == 1  # an empty set still costs a request


# -- cursor and state file ----------------------------------------------------------------


def test_cursor_json_is_small_and_exact() -> None:
    cursor = WatchCursor(
        "new", "abc", high_water=T0, boundary={"c1": T0 - timedelta(milliseconds=1)}
    )
    text = cursor.to_json()
    assert WatchCursor.from_json(text) == cursor
    assert msgspec.json.decode(text)["v"] == 1
    with pytest.raises(ValueError, match="format 9 is not supported"):
        WatchCursor.from_json(text.replace('"v":1', '"v":9'))


def test_state_file_journal_survives_a_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state_file = StateFile(path)
    state_file.snapshot(WatchCursor("new", "k", high_water=T0))
    state_file.journal([CaseAdded(case(5)), CaseAdded(case(7))], "new")
    with open(path, "ab") as handle:
        handle.write(b'["new","c9","2025-06')  # a crash in the middle of a write
    loaded = state_file.load()
    assert loaded is not None
    assert loaded.high_water == T0 + timedelta(milliseconds=7)
    assert set(loaded.boundary) == {"c5", "c7"}


def test_state_file_journal_in_set_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state_file = StateFile(path)
    state_file.snapshot(WatchCursor("set", "k", versions={"c1": "v1", "c2": "v2"}))
    state_file.journal([CaseRemoved("c1", None), CaseAdded(case(3))], "set")
    loaded = state_file.load()
    assert loaded is not None
    assert set(loaded.versions) == {"c2", "c3"}
    assert StateFile(tmp_path / "missing.json").load() is None


def test_a_cursor_from_a_newer_version_says_so() -> None:
    text = '{"v": 2, "mode": "stream", "filter": 7, "highWater": 12}'
    with pytest.raises(ValueError, match="format 2"):
        WatchCursor.from_json(text)


@pytest.mark.parametrize("text", ["", "null", "[]", "{}", '"x"', "\xff", '{"v": 1}'])
def test_a_corrupt_cursor_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="watch cursor"):
        WatchCursor.from_json(text)


@pytest.mark.parametrize("value", ['"garbage"', '"2025-05-26T18:30:00"'])
def test_a_corrupt_journal_line_names_the_state_file(tmp_path: Path, value: str) -> None:
    cursor = WatchCursor("new", "k", high_water=None)
    path = tmp_path / "bot.json"
    path.write_text(
        cursor.to_json()
        + '\n["new", "a", "2025-05-26T18:30:00+00:00"]\n'
        + f'["new", "b", {value}]\n["new", "c", "2025-05-26T18:31:00+00:00"]\n'
    )
    with pytest.raises(ValueError, match=r"bot\.json"):
        StateFile(path).load()
