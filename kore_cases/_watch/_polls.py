"""One poll of a watch: which requests to send and what their answers mean (no sleeping).

Each function takes ``read_page(filter, page, page_size)``, a one-page read (the client's
``get_page``, with its retries and the account's shared limiter), so a test can drive it
with canned pages.

``mode="new"`` reads the window from ``high_water - overlap`` on and stops as soon as the
cases it found plus the boundary it already knows account for ``totalResults``: an idle
poll is one request, N new cases about ``ceil(N / page_size)``. ``mode="set"`` reads the
whole filtered set and says whether the read was *complete* (the total held still and every
case was seen), which is what a removal may be concluded from.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from ..filters import CaseFilter, _as_utc
from ..models import Case, CasesPage
from ._cursor import NewState, SetState, created_order
from ._events import CaseAdded, WatchEvent

__all__ = [
    "NewPoll",
    "ReadPage",
    "SetRead",
    "poll_new",
    "poll_set",
    "prime_new",
    "read_set",
    "start_new_poll",
    "window_filter",
]

ReadPage = Callable[[CaseFilter, int, "int | None"], Awaitable[CasesPage[Case]]]
"""``read_page(filter, page, page_size)``: one page; ``page_size=None`` is the client's."""

_MAX_STEP_BACKS = 3  # re-reads after cases left the window mid-poll, per poll


def window_filter(base: CaseFilter, start: datetime | None) -> CaseFilter | None:
    """``base`` asking only for cases created at ``start`` or later (``None``: none can match).

    The user's own ``start_date`` wins when it is later.
    """
    if start is None:
        return base
    if base.start_date is not None and _as_utc(base.start_date) >= start:
        return base
    try:
        return dataclasses.replace(base, start_date=start)
    except ValueError:  # the window begins after the filter's end_date: nothing can match
        return None


async def prime_new(read_page: ReadPage, base: CaseFilter, state: NewState) -> int:
    """Find "now": the newest matching case and the boundary around it. Returns requests.

    Nothing is reported. With no matching case yet, the newest case of the whole stream
    anchors the mark, so a case that only later comes to match is not taken for new.
    """
    answer = await read_page(base, 1, None)
    requests = 1
    if not answer.results:
        probe = await read_page(CaseFilter(), 1, 1)
        requests += 1
        stamps = [c.created_at for c in probe.results if c.created_at is not None]
        state.high_water = max(stamps, default=None)
        state.primed = True
        return requests
    if not _descending(answer.results) and answer.total_pages > 1:
        return requests + await _prime_from_the_end(read_page, base, state, answer)
    page = 1
    while True:
        for case in answer.results:
            state.take(case)
        start = state.window_start()
        oldest = min((c.created_at for c in answer.results if c.created_at), default=None)
        beyond = oldest is not None and start is not None and oldest < start
        if beyond or not answer.results or page * max(answer.limit, 1) >= answer.total_results:
            break
        page += 1  # the whole first page lies within the overlap: the boundary goes on
        answer = await read_page(base, page, None)
        requests += 1
    state.trim()
    state.primed = True
    return requests


async def _prime_from_the_end(
    read_page: ReadPage, base: CaseFilter, state: NewState, first: CasesPage[Case]
) -> int:
    """Prime from a listing that is oldest first (a custom ``sort_by``): "now" is on the
    last page; read backwards while the pages lie within the overlap."""
    for case in first.results:
        state.take(case)
    requests, page = 0, first.total_pages
    while page > 1:
        answer = await read_page(base, page, None)
        requests += 1
        for case in answer.results:
            state.take(case)
        start = state.window_start()
        oldest = min((c.created_at for c in answer.results if c.created_at), default=None)
        if not answer.results or (oldest is not None and start is not None and oldest < start):
            break
        page -= 1
    state.trim()
    state.primed = True
    return requests


@dataclass
class NewPoll:
    """Where a ``mode="new"`` poll is: kept across a failed attempt, so that the next one
    goes on from the page that failed instead of starting over (under 429s a poll of many
    pages that always restarted might never finish)."""

    query: CaseFilter | None
    known: int
    newest_first: bool
    found: dict[str, Case] = field(default_factory=dict)
    page: int = 1
    requests: int = 0
    step_backs: int = 0
    total: int | None = None


def start_new_poll(base: CaseFilter, state: NewState) -> NewPoll:
    """A fresh poll from the mark (the boundary trimmed to the window first)."""
    state.trim()
    # Kore lists newest first: new cases lead, the known ones follow. A custom sort (or a
    # page that is not newest first) makes the poll read the whole window instead.
    return NewPoll(
        window_filter(base, state.window_start()), len(state.boundary), base.sort_by is None
    )


async def poll_new(
    read_page: ReadPage, base: CaseFilter, state: NewState, poll: NewPoll | None = None
) -> tuple[list[Case], int]:
    """The cases created since the mark, oldest first, and the requests it took.

    Pass the ``poll`` of an attempt that failed to go on where it stopped.
    """
    p = poll or start_new_poll(base, state)
    if p.query is None:
        return [], 0
    while True:
        answer = await read_page(p.query, p.page, None)
        p.requests += 1
        for case in answer.results:
            if state.is_new(case):
                p.found.setdefault(case.id, case)
        p.newest_first = p.newest_first and _descending(answer.results)
        # A page that ends on a new case may be followed by more: read on, whatever the
        # count says (a known case that left the window would make it lie).
        more_new = bool(answer.results) and state.is_new(answer.results[-1])
        limit = max(answer.limit, 1)
        next_page, stepped = p.page + 1, False
        total = p.total
        if total is not None and answer.total_results < total and p.step_backs < _MAX_STEP_BACKS:
            # Cases left the window before this page was read: the ones after them moved
            # up, onto pages already read. Read again from as many pages back as it spans,
            # then to the end: the count cannot tell any more (some found may be gone).
            p.step_backs += 1
            next_page = max(1, p.page - math.ceil((total - answer.total_results) / limit))
            stepped = True
        p.total = total = answer.total_results
        # What is left unread can only be known cases or cases listed late: when the count
        # says none is late, stop (a known case gone and a late one in the same poll
        # would hide the late one: the documented limit of an idle poll costing 1 request).
        counted = p.newest_first and not more_new and p.step_backs == 0
        counted = counted and len(p.found) + p.known >= total
        if not stepped and (counted or not answer.results or next_page > -(-total // limit)):
            break
        p.page = next_page
    return sorted(p.found.values(), key=created_order), p.requests


def _descending(cases: list[Case]) -> bool:
    """Whether ``cases`` are newest first (equal times in any order)."""
    stamps = [c.created_at for c in cases if c.created_at is not None]
    return all(a >= b for a, b in itertools.pairwise(stamps))


@dataclass
class SetRead:
    """Where a ``mode="set"`` read is, kept across a failed attempt (see :class:`NewPoll`)."""

    cases: dict[str, Case] = field(default_factory=dict)
    page: int = 0
    first_total: int = 0
    stable: bool = True
    requests: int = 0


async def read_set(
    read_page: ReadPage,
    base: CaseFilter,
    on_first: Callable[[int, int], None],
    read: SetRead | None = None,
) -> tuple[list[Case], bool, int]:
    """Every case of the filtered set, whether the read was complete, and the requests.

    ``on_first(total, limit)`` sees page 1's numbers before any other page is asked
    (the budget check). Pass the ``read`` of an attempt that failed to go on from there.
    """
    r = read or SetRead()
    while True:
        answer = await read_page(base, r.page + 1, None)
        r.requests += 1
        r.page += 1
        if r.page == 1:
            on_first(answer.total_results, answer.limit)
            r.first_total = answer.total_results
        r.stable = r.stable and answer.total_results == r.first_total
        r.cases.update((case.id, case) for case in answer.results)
        if not answer.results or r.page * max(answer.limit, 1) >= answer.total_results:
            break
    complete = r.stable and len(r.cases) == r.first_total
    return list(r.cases.values()), complete, r.requests


async def poll_set(
    read_page: ReadPage,
    base: CaseFilter,
    state: SetState,
    on_first: Callable[[int, int], None],
    read: SetRead | None = None,
) -> tuple[list[WatchEvent], int]:
    """The changes of the filtered set since the recorded versions, and the requests.

    The first poll of a new watch records the set and reports nothing (or, with
    ``since``, the cases created since then, as added).
    """
    cases, complete, requests = await read_set(read_page, base, on_first, read)
    events = state.diff(cases, complete)
    if not state.primed:
        state.primed = True
        since = state.since
        kept: list[WatchEvent] = []
        for event in events:  # all CaseAdded: nothing was recorded before
            created = event.case.created_at if isinstance(event, CaseAdded) else None
            if since is not None and created is not None and created >= since:
                kept.append(event)
            else:
                state.take(event)  # already there when the watch began: not news
        events = kept
    return events, requests
