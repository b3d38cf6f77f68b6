"""The creation-time span a windowed pull cuts into windows, in epoch milliseconds.

:func:`planned_bounds` (pure) reads the filter's ``startDate``/``endDate`` and, for a
resumed pull, cuts off the windows before the one it resumes with. :func:`learn_span`
fills an open bound from the data: one request of one case gives the first case in
the pull's order and ``totalResults``; a second, of the last case
(``page=totalResults``), gives the other end. ``window="auto"`` always makes the first
request (it needs the count). :func:`edge_included` asks, the same way, how Kore reads
a bound. The error of a failed one says what it was learning, and names no page: its
page counts pages of one case, none of the pull's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import msgspec

from ._fetch import PageFetcher, decode_page
from ._stats import PullStats
from ._window_plan import TimeWindow
from ._wire import kore_time_from_ms, ms_from_kore_time
from .errors import KoreCasesError, with_note
from .models import CasesPage, page_decoder

__all__ = ["CreatedStamp", "Span", "edge_included", "learn_span", "planned_bounds"]

_MS = timedelta(milliseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_DAY_MS = 86_400_000

Bounds = tuple[int | None, int | None]
_TO_CUT = "creation date to cut the windows"
_OWN = "its own millisecond, to drop what the window before the resumed one yielded"


@dataclass(frozen=True)
class Span:
    """Creation times ``[lo, hi]`` to cut (``None``: unknown, no window can be cut), and
    the pull's ``totalResults`` if a request learnt it."""

    lo: int | None
    hi: int | None
    total: int | None = None


class CreatedStamp(msgspec.Struct, gc=False):
    """Just the creation time of a case: for learning a pull's span, and reading the
    time of a case kept as JSON (:mod:`kore_cases._window_resume`)."""

    created_at: str | None = msgspec.field(default=None, name="createdAt")


def planned_bounds(
    body: Mapping[str, Any], resumed: TimeWindow | None, *, descending: bool
) -> Bounds | None:
    """The filter's bounds in ms, after ``resumed`` if given; ``None``: nothing left."""
    lo = _bound_ms(body.get("startDate"), end=False)
    hi = _bound_ms(body.get("endDate"), end=True)
    if resumed is None:
        return lo, hi
    # Only the windows after the resumed one are left to plan.
    if descending:
        if resumed.start is None or resumed.start == body.get("startDate"):
            return None
        # It sent startDate = a - 1 ms: [lo, a - 1] is left.
        return lo, _bound_ms(resumed.start, end=False)
    if resumed.end is None or resumed.end == body.get("endDate"):
        return None
    # It sent endDate = b: [b, hi] is left.
    return _bound_ms(resumed.end, end=False), hi


async def learn_span(
    fetcher: PageFetcher,
    body: Mapping[str, Any],
    stats: PullStats,
    bounds: Bounds,
    *,
    descending: bool,
    need_count: bool,
) -> Span:
    """``bounds`` with the open ones learnt from the data (and the count, if asked)."""
    lo, hi = bounds
    if lo is not None and hi is not None and not need_count:
        return Span(lo, hi)
    ends = ("newest", "oldest") if descending else ("oldest", "newest")
    first = await _probe(fetcher, body, stats, 1, f"the {ends[0]} case's {_TO_CUT}")
    total = first.total_results
    if total == 0 or not first.results:
        return Span(None, None, total)
    one_end = ms_from_kore_time(first.results[0].created_at)
    other_end: int | None = None
    if (lo is None and descending) or (hi is None and not descending):
        last = await _probe(fetcher, body, stats, total, f"the {ends[1]} case's {_TO_CUT}")
        other_end = ms_from_kore_time(last.results[0].created_at) if last.results else None
    else:
        other_end = one_end
    newest, oldest = (one_end, other_end) if descending else (other_end, one_end)
    return Span(oldest if lo is None else lo, newest if hi is None else hi, total)


async def edge_included(
    fetcher: PageFetcher, body: Mapping[str, Any], stats: PullStats, at: int, start: bool
) -> bool:
    """Whether Kore includes a case created at ``at`` (ms) when ``at`` is the range's
    ``startDate`` (``start``) or its ``endDate``. Ask it knowing ``body`` has such a case.

    One request of one case: the range from ``at`` to the millisecond beyond it, ``at``
    first. An answer starting with a case created at ``at`` means the bound includes it.
    """
    lo, hi = (at, at + 1) if start else (at - 1, at)
    window = TimeWindow(kore_time_from_ms(lo), kore_time_from_ms(hi))
    asked = {**window.apply(body), "sortBy": {"createdDate": "asc" if start else "desc"}}
    bound = "startDate" if start else "endDate"
    found = await _probe(fetcher, asked, stats, 1, f"whether Kore's {bound} includes {_OWN}")
    return bool(found.results) and ms_from_kore_time(found.results[0].created_at) == at


async def _probe(
    fetcher: PageFetcher, body: Mapping[str, Any], stats: PullStats, page: int, learning: str
) -> CasesPage[CreatedStamp]:
    """One case of the pull (page ``page`` of size 1): its time and the count.

    Its error says it was ``learning`` (what the case is for) and has no ``page``.
    """
    decoder = page_decoder(CreatedStamp)
    try:
        result, _attempts = await fetcher.fetch(
            fetcher.request_body(body, page, 1),
            page=page,
            stats=stats,
            parse=lambda data: decode_page(data, decoder, page=page, path=fetcher.path),
        )
    except KoreCasesError as exc:
        note = f", while learning {learning} (page {page} at one case a page)"
        told = with_note(exc, note, page=None)
        raise told.with_traceback(exc.__traceback__) from exc.__cause__
    return result


def _bound_ms(text: object, *, end: bool) -> int | None:
    """A filter bound as sent (ISO date-time, or a date) in ms; a date's end is its last ms."""
    if not isinstance(text, str):
        return None
    if len(text) == 10:
        day = date.fromisoformat(text)
        start = (datetime(day.year, day.month, day.day, tzinfo=timezone.utc) - _EPOCH) // _MS
        return start + _DAY_MS - 1 if end else start
    return ms_from_kore_time(text)
