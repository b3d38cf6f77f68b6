"""Time-windowed pulls: ``iter_cases(filter, window=...)`` and ``iter_pages(..., window=...)``.

The fake server reads ``startDate``/``endDate`` as inclusive; Kore does not document
it, so a server of the test's own (``WindowServer``) reads them every way, with cases
placed exactly on the window edges.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from aiohttp import web
from helpers import client_for, serve

from kore_cases import (
    Case,
    CaseFilter,
    CasesClient,
    KoreCasesError,
    ServerError,
    StaticToken,
    TimeWindow,
)
from kore_cases._window_plan import (
    AUTO_TARGET_PAGES,
    WindowCursor,
    WindowSchedule,
    auto_width,
    first_auto_width,
)
from kore_cases._window_resume import created_ms_reader
from kore_cases._window_span import planned_bounds
from kore_cases._windows import EdgeRepeats
from kore_cases.testing import FakeKoreServer
from kore_cases.testing._data import iso_ms, parse_iso

DAY = timedelta(days=1)
DAY_MS = 86_400_000
ASC = CaseFilter(sort_by={"createdDate": "asc"})


def window_bodies(server: FakeKoreServer) -> Counter[tuple[Any, Any]]:
    """Requests per (startDate, endDate) sent, leaving out the one-case span probes."""
    return Counter(
        (r.body.get("startDate"), r.body.get("endDate")) for r in server.request_log if r.limit != 1
    )


# -- pulls against the fake server -------------------------------------------------------


@pytest.mark.parametrize("flt", [None, ASC], ids=["newest-first", "oldest-first"])
async def test_a_windowed_pull_yields_every_case_once_in_creation_order(
    flt: CaseFilter | None,
) -> None:
    server = FakeKoreServer(cases=1500, seed=4)
    async with server, client_for(server, page_size=40, concurrency=4) as client:
        cases = client.iter_cases(flt, window=timedelta(days=45))
        got = [case async for case in cases]
    assert [c.id for c in got] == server.case_ids(flt.to_body() if flt else {})
    created = [c.created_at for c in got]
    assert created == sorted(created, reverse=flt is None)
    assert cases.stats.requests == server.stats.requests
    assert cases.stats.cases == 1500


async def test_each_window_is_paged_alone_and_an_empty_one_costs_one_request() -> None:
    server = FakeKoreServer(cases=600, seed=1)
    # Two years of data starting mid-2023, asked from 2021: the first windows are empty.
    flt = CaseFilter(
        start_date="2021-01-01T00:00:00Z",
        end_date="2025-06-01T00:00:00Z",
        sort_by={"createdDate": "asc"},
    )
    width = timedelta(days=60)
    async with server, client_for(server, page_size=25) as client:
        ids = [case.id async for case in client.iter_cases(flt, window=width)]
    assert ids == server.case_ids(flt.to_body())
    sent = window_bodies(server)
    span = datetime(2025, 6, 1, tzinfo=timezone.utc) - datetime(2021, 1, 1, tzinfo=timezone.utc)
    assert len(sent) == math.ceil((span + timedelta(milliseconds=1)) / width)
    empty = 0
    for (start, end), requests in sent.items():
        count = len(server.case_ids({**flt.to_body(), "startDate": start, "endDate": end}))
        assert requests == max(1, math.ceil(count / 25)), (start, end, count)
        empty += count == 0
    assert empty >= 5
    # Both bounds given, a fixed width: nothing to learn, no probe.
    assert server.stats.requests == sum(sent.values())


async def test_open_bounds_are_learnt_with_two_one_case_requests() -> None:
    server = FakeKoreServer(cases=300)
    async with server, client_for(server, page_size=50) as client:
        ids = [case.id async for case in client.iter_cases(window=timedelta(days=200))]
    assert ids == server.case_ids()
    probes = [r for r in server.request_log if r.limit == 1]
    assert [r.page for r in probes] == [1, 300]  # the newest, then the oldest
    # The outer windows send the filter's own (open) bounds: nothing is left out.
    sent = window_bodies(server)
    assert any(start is None for start, _ in sent)
    assert any(end is None for _, end in sent)


async def test_auto_windows_add_under_five_percent_to_the_requests() -> None:
    server = FakeKoreServer(cases=12_000, seed=7, cache_pages=True)
    async with server, client_for(server, page_size=20, concurrency=8) as client:
        cases = client.iter_cases(window="auto")
        ids = [case.id async for case in cases]
    assert ids == server.case_ids()
    pages = math.ceil(12_000 / 20)
    windows = len(window_bodies(server))
    assert windows >= 600 // AUTO_TARGET_PAGES // 2  # it did split the pull
    probes = server.stats.requests - sum(window_bodies(server).values())
    assert probes == 2
    assert server.stats.requests - probes < 1.05 * pages


async def test_to_arrow_by_windows_equals_the_plain_table() -> None:
    server = FakeKoreServer(cases=400, seed=3)
    async with server, client_for(server, page_size=30) as client:
        plain = await client.to_arrow()
        windowed = await client.to_arrow(window=timedelta(days=90))
    assert windowed.equals(plain)


async def test_iter_pages_numbers_pages_within_each_window() -> None:
    server = FakeKoreServer(cases=200)
    async with server, client_for(server, page_size=30) as client:
        pages = client.iter_pages(ASC, window=timedelta(days=365))
        numbers = [page.page async for page in pages]
    assert numbers.count(1) == pages.windows
    assert sum(1 for r in server.request_log if r.limit != 1) == len(numbers)


# -- resuming ---------------------------------------------------------------------------


async def test_an_error_names_the_window_and_page_to_resume_from() -> None:
    server = FakeKoreServer(cases=900, seed=9)
    width = timedelta(days=120)
    async with server, client_for(server, page_size=30, max_retries=0) as client:
        server.schedule_faults(3, "500")
        before: list[str] = []
        cases = client.iter_cases(ASC, window=width)
        with pytest.raises(ServerError) as failed:
            async for case in cases:
                before.append(case.id)
        error = failed.value
        assert isinstance(error.resume_window, TimeWindow)
        assert error.resume_page == 3
        assert "start_window=TimeWindow(" in str(error)
        after = [
            case.id
            async for case in client.iter_cases(
                ASC,
                window=width,
                start_window=error.resume_window,
                start_page=error.resume_page,
            )
        ]
    assert before + after == server.case_ids(ASC.to_body())


async def test_resuming_a_newest_first_pull_at_a_window_boundary() -> None:
    server = FakeKoreServer(cases=500, seed=2)
    width = timedelta(days=100)
    async with server, client_for(server, page_size=50) as client:
        first = client.iter_pages(window=width)
        taken: list[str] = []
        async for page in first:
            taken += [c.id for c in page.results]
            if first.windows >= 3 and page.page == 1:
                break
        # Where a new pull would continue: the window being read, from its page.
        resume = (first.resume_window, first.resume_page)
        await first.aclose()
        rest = client.iter_cases(window=width, start_window=resume[0], start_page=resume[1])
        # The page just taken was yielded whole: continue after it.
        assert resume[1] == 2
        taken += [case.id async for case in rest]
    assert taken == server.case_ids()


@pytest.mark.parametrize("flt", [None, ASC], ids=["newest-first", "oldest-first"])
async def test_a_windowed_table_pull_resumes_from_the_error(flt: CaseFilter | None) -> None:
    server = FakeKoreServer(cases=700, seed=5)
    width = timedelta(days=150)
    async with server, client_for(server, page_size=30, max_retries=0) as client:
        whole = await client.to_arrow(flt, window=width)
        server.schedule_faults(2, "500")
        before: list[str] = []
        batches = client.iter_record_batches(flt, window=width)
        with pytest.raises(ServerError) as failed:
            async for batch in batches:
                before += batch.column("id").to_pylist()
        error = failed.value
        assert isinstance(error.resume_window, TimeWindow)
        assert error.resume_page == 2
        rest = await client.to_arrow(
            flt, window=width, start_window=error.resume_window, start_page=error.resume_page
        )
    assert before
    assert before + rest.column("id").to_pylist() == whole.column("id").to_pylist()


async def test_a_windowed_table_pull_resumes_from_its_iterator() -> None:
    server = FakeKoreServer(cases=700, seed=5)
    width = timedelta(days=150)
    async with server, client_for(server, page_size=30) as client:
        whole = await client.to_arrow(ASC, window=width)
        before: list[str] = []
        batches = client.iter_record_batches(ASC, window=width)
        async for batch in batches:
            before += batch.column("id").to_pylist()
            if len(before) >= 200:
                break
        # Past the first window: resume_page alone would start the wrong one.
        assert isinstance(batches.resume_window, TimeWindow)
        assert batches.resume_window.start is not None
        resume = (batches.resume_window, batches.resume_page)
        await batches.aclose()
        rest = await client.to_arrow(
            ASC, window=width, start_window=resume[0], start_page=resume[1]
        )
    assert before + rest.column("id").to_pylist() == whole.column("id").to_pylist()


async def test_a_windowed_case_pull_resumes_from_its_iterator() -> None:
    server = FakeKoreServer(cases=500, seed=2)
    width = timedelta(days=100)
    async with server, client_for(server, page_size=50) as client:
        taken: list[str] = []
        cases = client.iter_cases(window=width)
        async for case in cases:
            taken.append(case.id)
            if len(taken) == 215:  # inside a page, past the first window
                break
        assert isinstance(cases.resume_window, TimeWindow)
        resume = (cases.resume_window, cases.resume_page)
        await cases.aclose()
        rest = client.iter_cases(window=width, start_window=resume[0], start_page=resume[1])
        again = [case.id async for case in rest]
    # The page it stopped in is read again: its first cases come twice, none is missed.
    assert set(taken) | set(again) == set(server.case_ids())
    assert again == server.case_ids()[-len(again) :]


@pytest.mark.parametrize(
    ("flt", "which"), [(None, "oldest"), (ASC, "newest")], ids=["newest-first", "oldest-first"]
)
async def test_a_failed_span_probe_says_what_it_was_learning(
    flt: CaseFilter | None, which: str
) -> None:
    server = FakeKoreServer(cases=300)
    async with server, client_for(server, page_size=50, max_retries=0) as client:
        # The second probe asks for the last case of the pull: page 300 of one case.
        server.schedule_faults(300, "500")
        with pytest.raises(ServerError) as failed:
            [case async for case in client.iter_cases(flt, window=timedelta(days=200))]
        error = failed.value
        assert f"while learning the {which} case's creation date" in error.message
        # Page 300 is no page of this pull (it has six): the error names none.
        assert error.page is None
        assert (error.resume_window, error.resume_page) == (None, 1)
        ids = [case.id async for case in client.iter_cases(flt, window=timedelta(days=200))]
    assert ids == server.case_ids(flt.to_body() if flt else {})


async def test_a_pull_without_windows_has_no_resume_window() -> None:
    server = FakeKoreServer(cases=60)
    async with server, client_for(server, page_size=20) as client:
        for pull in (
            client.iter_cases(),
            client.iter_pages(),
            client.iter_record_batches(),
        ):
            async with pull:
                await pull.__anext__()
                assert pull.resume_window is None


# -- the edges of windows, read every way --------------------------------------------------


def between(first_ms: int, last_ms: int, descending: bool) -> CaseFilter:
    """A filter of cases created from ``first_ms`` to ``last_ms``, in the order asked."""
    return CaseFilter(
        start_date=iso_ms(first_ms),
        end_date=iso_ms(last_ms),
        sort_by={"createdDate": "desc" if descending else "asc"},
    )


@asynccontextmanager
async def pages_of_three(server: WindowServer, **options: Any) -> AsyncIterator[CasesClient]:
    """A client of ``server`` (served on 127.0.0.1) asking for pages of three cases, with
    no rate limit (Kore's 60 a minute made each test wait seconds)."""
    options.setdefault("rate_limit", None)
    async with serve(server.handler) as url:
        token = StaticToken("a-static-test-token")
        async with CasesClient(url, "st-1", "acct", token, page_size=3, **options) as client:
            yield client


class WindowServer:
    """Cases at chosen instants; ``startDate``/``endDate`` read as the test says."""

    def __init__(self, created: list[int], *, start_inclusive: bool, end_inclusive: bool) -> None:
        self.cases = [{"_id": f"c{i:04d}", "createdAt": iso_ms(ms)} for i, ms in enumerate(created)]
        self.created = created
        self.start_inclusive = start_inclusive
        self.end_inclusive = end_inclusive

    def _matches(self, ms: int, body: dict[str, Any]) -> bool:
        if "startDate" in body:
            start = parse_iso(body["startDate"])[0]
            if ms < start or (ms == start and not self.start_inclusive):
                return False
        if "endDate" in body:
            end = parse_iso(body["endDate"])[0]
            if ms > end or (ms == end and not self.end_inclusive):
                return False
        return True

    async def handler(self, request: web.Request) -> web.Response:
        body = await request.json()
        chosen = [i for i, ms in enumerate(self.created) if self._matches(ms, body)]
        sort = body.get("sortBy") or {"createdDate": "desc"}
        chosen.sort(key=lambda i: self.created[i], reverse=sort["createdDate"] == "desc")
        page, limit = body["page"], body["limit"]
        total_pages = math.ceil(len(chosen) / limit)
        return web.json_response(
            {
                "results": [self.cases[i] for i in chosen[(page - 1) * limit : page * limit]],
                "page": page,
                "limit": limit,
                "hasMore": page < total_pages,
                "totalPages": total_pages,
                "totalResults": len(chosen),
            }
        )


class FailingWindowServer(WindowServer):
    """A :class:`WindowServer` whose ``fail_at``-th window fails its first page once, and
    whose first ``fail_questions`` requests of one case fail (HTTP 500)."""

    def __init__(
        self, created: list[int], *, fail_at: int, fail_questions: int = 0, **reading: bool
    ) -> None:
        super().__init__(created, **reading)
        self.fail_at = fail_at
        self.fail_questions = fail_questions
        self.windows: list[tuple[Any, Any]] = []
        self.one_case: list[dict[str, Any]] = []  # the bodies asking for one case

    async def handler(self, request: web.Request) -> web.Response:
        body = await request.json()
        down = web.json_response({"errors": [{"msg": "down"}]}, status=500)
        if body["limit"] == 1:
            self.one_case.append(body)
            if len(self.one_case) <= self.fail_questions:
                return down
        bounds = (body.get("startDate"), body.get("endDate"))
        if body["page"] == 1 and bounds not in self.windows:
            self.windows.append(bounds)
            if len(self.windows) == self.fail_at:
                return down
        return await super().handler(request)


def edge_cases(lo: int) -> list[int]:
    """Creation times on every edge of 1-day windows from ``lo``, 1 ms either side, and
    between."""
    return sorted({lo + day * DAY_MS + delta for day in range(6) for delta in (-1, 0, 1, 7)})


async def stop_after_a_windows_last_page(
    pages: Any, got: list[str]
) -> tuple[TimeWindow | None, int]:
    """Take the pages of the first three windows, and say where a pull would continue."""
    windows: list[TimeWindow] = []
    async for page in pages:
        got += [case["_id"] for case in page.results]
        if pages.resume_window not in windows:
            windows.append(pages.resume_window)
        if len(windows) == 3 and page.page == page.total_pages:
            break
    assert pages.resume_page == page.total_pages + 1  # past the window's last page
    return pages.resume_window, pages.resume_page


@pytest.mark.parametrize("stop", ["error", "end-of-window"])
@pytest.mark.parametrize("start_inclusive", [True, False])
@pytest.mark.parametrize("end_inclusive", [True, False])
@pytest.mark.parametrize("descending", [True, False])
async def test_a_resumed_pull_repeats_no_edge_case(
    start_inclusive: bool, end_inclusive: bool, descending: bool, stop: str
) -> None:
    lo = parse_iso("2025-01-01T00:00:00Z")[0]
    created = [ms for ms in edge_cases(lo) if ms >= lo]
    reading = {"start_inclusive": start_inclusive, "end_inclusive": end_inclusive}
    hostile = FailingWindowServer(created, fail_at=3 if stop == "error" else 0, **reading)
    flt = between(lo, created[-1], descending)
    async with pages_of_three(hostile, max_retries=0) as client:
        got: list[str] = []
        pages = client.iter_pages(flt, window=DAY, model=dict)
        if stop == "error":  # on the first page of the third window
            with pytest.raises(ServerError) as failed:
                async for page in pages:
                    got += [case["_id"] for case in page.results]
            resume = (failed.value.resume_window, failed.value.resume_page)
            assert resume == (TimeWindow(*hostile.windows[2]), 1)
        else:  # a break after the last page of the third window
            resume = await stop_after_a_windows_last_page(pages, got)
            await pages.aclose()
        rest = client.iter_cases(
            flt, window=DAY, model=dict, start_window=resume[0], start_page=resume[1]
        )
        got += [case["_id"] async for case in rest]
    kept = [i for i, ms in enumerate(created) if hostile._matches(ms, flt.to_body())]
    kept.sort(key=lambda i: created[i], reverse=descending)
    assert got == [f"c{i:04d}" for i in kept]
    # One question of one case, on the millisecond only the server's reading decides.
    [asked] = hostile.one_case
    assert asked["sortBy"] == {"createdDate": "asc" if descending else "desc"}


async def test_a_failed_question_at_a_resumed_edge_leaves_its_page_to_the_next_resume() -> None:
    lo = parse_iso("2025-01-01T00:00:00Z")[0]
    created = [ms for ms in edge_cases(lo) if ms >= lo]
    reading = {"start_inclusive": True, "end_inclusive": True}
    hostile = FailingWindowServer(created, fail_at=3, fail_questions=1, **reading)
    flt = between(lo, created[-1], descending=True)
    got: list[str] = []

    async def take(start_window: TimeWindow | None = None, start_page: int = 1) -> None:
        pull = client.iter_cases(
            flt, window=DAY, model=dict, start_window=start_window, start_page=start_page
        )
        async for case in pull:
            got.append(case["_id"])

    async with pages_of_three(hostile, max_retries=0) as client:
        with pytest.raises(ServerError) as failed:
            await take()
        resume = failed.value.resume_window
        with pytest.raises(ServerError) as asking:
            await take(resume)
        error = asking.value
        assert "while learning whether Kore's startDate includes its own" in error.message
        assert error.page is None
        # The page that raised the question was not handed out: it is read again.
        assert (error.resume_window, error.resume_page) == (resume, 1)
        await take(error.resume_window, error.resume_page)
    assert len(hostile.one_case) == 2
    assert got == [case["_id"] for case in reversed(hostile.cases)]


@pytest.mark.parametrize("start_inclusive", [True, False])
@pytest.mark.parametrize("end_inclusive", [True, False])
@pytest.mark.parametrize("descending", [True, False])
async def test_cases_on_window_edges_come_once_however_the_server_reads_the_bounds(
    start_inclusive: bool, end_inclusive: bool, descending: bool
) -> None:
    lo = parse_iso("2025-01-01T00:00:00Z")[0]
    created = [ms for ms in edge_cases(lo) if ms >= lo]
    hostile = WindowServer(created, start_inclusive=start_inclusive, end_inclusive=end_inclusive)
    flt = between(lo, created[-1], descending)
    async with pages_of_three(hostile) as client:
        cases = client.iter_cases(flt, window=DAY, model=dict)
        got = [case["_id"] async for case in cases]
    # The outer bounds are the filter's own: what this server's reading of them keeps.
    kept = [i for i, ms in enumerate(created) if hostile._matches(ms, flt.to_body())]
    kept.sort(key=lambda i: created[i], reverse=descending)
    assert got == [f"c{i:04d}" for i in kept]
    # An inclusive bound makes the overlap repeat the edge cases: dropped here.
    assert (cases.stats.duplicates_dropped > 0) == (start_inclusive or end_inclusive)


@pytest.mark.parametrize("descending", [True, False])
async def test_more_than_two_pages_of_cases_in_the_edge_millisecond_come_once(
    descending: bool,
) -> None:
    lo = parse_iso("2025-01-01T00:00:00Z")[0]
    edge = lo + DAY_MS  # where two 1-day windows meet; ten pages of cases created in it
    created = sorted([lo + 5, *[edge] * 30, edge + 5, lo + 2 * DAY_MS - 1])
    hostile = WindowServer(created, start_inclusive=True, end_inclusive=True)
    flt = between(lo, created[-1], descending)
    async with pages_of_three(hostile) as client:
        cases = client.iter_cases(flt, window=DAY, model=dict)
        got = [case["_id"] async for case in cases]
    assert sorted(got) == sorted(case["_id"] for case in hostile.cases)
    assert cases.stats.duplicates_dropped >= 30


class Stamped(msgspec.Struct):
    id: str = msgspec.field(name="_id")
    made: datetime | None = msgspec.field(default=None, name="createdAt")


MADE = datetime(2025, 1, 1, microsecond=7000, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("model", "case"),
    [
        (dict, {"_id": "a", "createdAt": "2025-01-01T00:00:00.007Z"}),
        (msgspec.Raw, msgspec.Raw(b'{"_id": "a", "createdAt": "2025-01-01T00:00:00.007Z"}')),
        (Case, Case(id="a", created_at=MADE)),
        (Stamped, Stamped(id="a", made=MADE)),
    ],
)
def test_a_resumed_window_reads_creation_times_of_any_model(model: Any, case: Any) -> None:
    read = created_ms_reader(model)
    assert read is not None
    assert read(case) == parse_iso("2025-01-01T00:00:00.007Z")[0]


def test_a_model_without_a_creation_time_keeps_every_case_of_a_resumed_window() -> None:
    assert created_ms_reader(NoId) is None
    read = created_ms_reader(msgspec.Raw)
    assert read is not None
    assert read(msgspec.Raw(b"[1]")) is None


# -- checks before any request ------------------------------------------------------------


class NoId(msgspec.Struct):
    name: str | None = None


@pytest.mark.parametrize(
    ("flt", "options", "error", "message"),
    [
        (None, {"window": timedelta(0)}, ValueError, "window must be a timedelta of at least"),
        (None, {"window": 30}, ValueError, "window must be a timedelta"),
        (
            CaseFilter(sort_by={"priority": "desc"}),
            {"window": DAY},
            ValueError,
            "sorted by it",
        ),
        (CaseFilter(sort_by="createdDate"), {"window": DAY}, ValueError, "sorted by it"),
        (
            None,
            {"start_window": TimeWindow(None, None)},
            ValueError,
            "start_window= resumes a windowed pull: pass window= too",
        ),
        (None, {"window": DAY, "start_window": (1, 2)}, TypeError, "resume_window"),
        (None, {"window": DAY, "start_page": 3}, ValueError, "start_page= counts the pages of"),
        (None, {"window": DAY, "model": NoId, "dedupe": False}, ValueError, "window="),
    ],
)
async def test_bad_window_arguments_fail_before_any_request(
    flt: CaseFilter | None, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    server = FakeKoreServer(cases=10)
    async with server, client_for(server) as client:
        with pytest.raises(error, match=message):
            client.iter_cases(flt, **options)
    assert server.stats.requests == 0


async def test_an_empty_result_costs_one_request() -> None:
    server = FakeKoreServer(cases=50)
    async with server, client_for(server) as client:
        flt = CaseFilter(search_text="no case has this text anywhere")
        assert [c async for c in client.iter_cases(flt, window=DAY)] == []
    assert server.stats.requests == 1


async def test_errors_outside_a_windowed_pull_carry_no_window() -> None:
    error = KoreCasesError("boom", page=2)
    error.resume_page = 2
    assert error.resume_window is None
    assert str(error) == "boom (resume with start_page=2)"


# -- the plan, without sockets ------------------------------------------------------------


def test_the_cursor_covers_the_span_without_gaps_in_either_direction() -> None:
    for descending in (False, True):
        cursor = WindowCursor(10, 99, descending=descending)
        windows = []
        while not cursor.done:
            windows.append(cursor.take(25))
        covered = sorted(ms for w in windows for ms in range(w.start, w.end))
        assert covered == list(range(10, 100))
        first, last = windows[0], windows[-1]
        assert (first.newest, last.oldest) if descending else (first.oldest, last.newest)
        assert sum(w.oldest for w in windows) == sum(w.newest for w in windows) == 1


def test_aligned_windows_are_the_same_in_both_directions() -> None:
    def cut(descending: bool) -> list[tuple[int, int]]:
        cursor = WindowCursor(10, 99, descending=descending)
        windows = []
        while not cursor.done:
            window = cursor.take(25, aligned=True)
            windows.append((window.start, window.end))
        return windows

    assert cut(False) == [(10, 35), (35, 60), (60, 85), (85, 100)]
    assert cut(True) == list(reversed(cut(False)))


def test_a_resumed_span_does_not_send_the_filters_bound_at_its_edge() -> None:
    ascending = WindowCursor(10, 99, descending=False, lo_is_edge=True)
    assert not ascending.take(25).oldest
    descending = WindowCursor(10, 99, descending=True, hi_is_edge=True)
    assert not descending.take(25).newest


def test_auto_widths_follow_the_counts_within_a_factor_of_four() -> None:
    page = 100
    target = AUTO_TARGET_PAGES * page
    assert first_auto_width(0, 999, total=target * 4, page=page) == 250
    assert first_auto_width(0, 999, total=10, page=page) == 1000
    assert auto_width(1000, target, page) == 1000
    assert auto_width(1000, target * 2, page) == 500
    assert auto_width(1000, 0, page) == 4000
    assert auto_width(1000, target * 100, page) == 250


class ShortWindowServer(WindowServer):
    """Each answer announces ``missing`` more cases than the window holds."""

    missing = 2

    async def handler(self, request: web.Request) -> web.Response:
        answer = msgspec.json.decode((await super().handler(request)).text)
        answer["totalResults"] += self.missing
        return web.json_response(answer)


@pytest.mark.parametrize("descending", [True, False])
async def test_the_shortfall_of_a_windowed_pull_is_the_sum_over_its_windows(
    descending: bool,
) -> None:
    lo = parse_iso("2025-01-01T00:00:00Z")[0]
    # Four 1-day windows of 7 cases each, none near an edge.
    created = [lo + day * DAY_MS + 3_600_000 * (1 + hour) for day in range(4) for hour in range(7)]
    hostile = ShortWindowServer(created, start_inclusive=True, end_inclusive=True)
    flt = between(lo, lo + 4 * DAY_MS - 1, descending)
    async with pages_of_three(hostile) as client:
        pages = client.iter_pages(flt, window=DAY, model=dict)
        got = [case["_id"] async for page in pages for case in page.results]
    assert len(got) == len(created)
    assert pages.windows == 4
    assert pages.stats.shortfall == 4 * ShortWindowServer.missing


def test_a_schedule_sends_the_filters_bounds_outside_and_overlaps_inside() -> None:
    schedule = WindowSchedule(
        WindowCursor(0, 2 * DAY_MS - 1, descending=False), (None, "2099-01-01"), width=DAY_MS
    )
    first, _ = schedule.take(page_size=50)
    second, nominal = schedule.take(page_size=50)
    assert schedule.done
    assert first == TimeWindow(None, iso_ms(DAY_MS))
    # The boundary is sent 1 ms early as startDate: a case at either edge is inside.
    assert second == TimeWindow(iso_ms(DAY_MS - 1), "2099-01-01")
    assert (nominal.start, nominal.end) == (DAY_MS, 2 * DAY_MS)


def test_an_auto_schedule_sizes_the_next_window_from_the_last_count() -> None:
    schedule = WindowSchedule(
        WindowCursor(0, 10**9, descending=True), (None, None), width=None, first_width=1000
    )
    _, first = schedule.take(page_size=10)
    assert first.end - first.start == 1000
    _, same = schedule.take(page_size=10)
    assert same.end - same.start == 1000  # no count yet: as wide as the last
    schedule.counted(first, 0)  # empty: the next is 4 times wider
    _, wider = schedule.take(page_size=10)
    assert wider.end - wider.start == 4000
    schedule.counted(wider, AUTO_TARGET_PAGES * 10 * 2)  # twice the target: half as wide
    _, narrower = schedule.take(page_size=10)
    assert narrower.end - narrower.start == 2000


def test_edge_repeats_drop_only_the_previous_windows_last_ids() -> None:
    edges = EdgeRepeats(lambda case: case["_id"], tail_pages=2)
    assert not edges.active
    tail = edges.tail()
    for page in (["a", "b"], ["c", "d"], ["e", "f"]):
        edges.note(tail, [{"_id": i} for i in page])
    edges.window_done(tail)
    assert edges.active
    kept = edges.drop([{"_id": i} for i in "abcfg"])
    assert [case["_id"] for case in kept] == ["a", "b", "g"]  # a, b: three pages back


def test_a_resumed_pull_plans_only_the_span_after_its_window() -> None:
    body = {"startDate": "2025-01-01", "endDate": "2025-01-31"}
    lo, hi = planned_bounds(body, None, descending=True) or (None, None)
    assert (lo, hi) == (
        parse_iso("2025-01-01T00:00:00Z")[0],
        parse_iso("2025-02-01T00:00:00Z")[0] - 1,
    )
    middle = TimeWindow(iso_ms(10**12 - 1), iso_ms(2 * 10**12))
    assert planned_bounds(body, middle, descending=True) == (lo, 10**12 - 1)
    assert planned_bounds(body, middle, descending=False) == (2 * 10**12, hi)
    # The window that sent the filter's own outer bound was the last one.
    assert planned_bounds(body, TimeWindow("2025-01-01", "x"), descending=True) is None
    assert planned_bounds(body, TimeWindow("x", "2025-01-31"), descending=False) is None
