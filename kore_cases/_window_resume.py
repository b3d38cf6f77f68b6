"""A resumed windowed pull: the cases it repeats from the windows an earlier pull yielded.

A pull resumed with ``start_window=resume_window`` (an error's or an iterator's)
continues one that handed out every window before that one whole, and its first window
shares an edge with the last of them; so does the next window, when the first was
resumed past its last case (a pull stopped at the end of a window). Within one pull
:class:`~kore_cases._windows.EdgeRepeats` drops such repeats by id; across pulls the
ids are gone, and :class:`ResumedEdges` drops them by creation time instead.
Neighbouring windows overlap by a millisecond on each side of their edge (see
:mod:`kore_cases._window_plan`). Newest first, a window sends ``endDate = E`` and the
window before it sent ``startDate = E - 1 ms``:

* a case created at ``E`` is strictly inside the range the window before sent, so it
  yielded it whichever way Kore reads the bounds: it is dropped;
* a case created at ``E - 1 ms`` came from the window before only if Kore reads
  ``startDate`` as inclusive, which it does not document. The first time such a case
  comes, one request of one case asks Kore how it reads the bound
  (:func:`~kore_cases._window_span.edge_included`); if inclusively, every case at
  ``E - 1 ms`` is dropped.

Oldest first mirrors it: the resumed window sends ``startDate = S``, the one before sent
``endDate = S + 1 ms``; cases at ``S`` are dropped, and those at ``S + 1 ms`` if Kore
reads ``endDate`` as inclusive. A window sending the filter's own bound there is the
first of the pull: there is no window before it. A model without a readable
``createdAt`` keeps every case (a repeat at the edge is possible). Like ``resume_page``,
this is exact for the data as it was: a case that came to match the filter between the
two pulls, created exactly at ``E`` (or ``E - 1 ms`` with an inclusive bound), is
dropped as if the earlier pull had yielded it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from ._window_plan import TimeWindow
from ._window_span import CreatedStamp
from ._wire import ms_from_datetime, ms_from_kore_time

__all__ = ["ResumedEdge", "ResumedEdges", "created_ms_reader", "resumed_edge"]

CreatedMs = Callable[[Any], int | None]
"""The creation time of a case of the pull's model, in ms (``None``: unknown)."""


_STAMP = msgspec.json.Decoder(CreatedStamp)


@dataclass(frozen=True)
class ResumedEdge:
    """Where a window meets the window before it, in ms: that window yielded the cases
    created at ``sure`` whichever way Kore reads the bounds, and those at ``unsure`` if
    the bound it sent there is inclusive."""

    sure: int
    unsure: int


def resumed_edge(
    body: Mapping[str, Any], window: TimeWindow, *, descending: bool
) -> ResumedEdge | None:
    """The edge ``window`` shares with the window before it (``None``: it is the first)."""
    bound, own = (window.end, "endDate") if descending else (window.start, "startDate")
    if bound is None or bound == body.get(own):
        return None  # the filter's own bound: the first window of the pull
    sure = ms_from_kore_time(bound)
    if sure is None:
        return None
    # Newest first, the window before sent startDate = sure - 1; oldest first, endDate
    # = sure + 1.
    return ResumedEdge(sure, sure - 1 if descending else sure + 1)


class ResumedEdges:
    """Drops what a resumed pull's windows repeat from windows an earlier pull yielded.

    That is the resumed window, and, when it was resumed past its last case (a pull
    stopped at the end of a window), the one after it too. ``ask(ms)`` says whether Kore
    includes a case created at ``ms`` when ``ms`` is the bound the window before sent
    (``startDate`` newest first, ``endDate`` oldest first); it is asked once a pull, and
    only if a case at an ``unsure`` millisecond comes.
    """

    def __init__(
        self,
        body: Mapping[str, Any],
        resumed: TimeWindow | None,
        start_page: int,
        *,
        descending: bool,
        created_ms: CreatedMs | None,
        ask: Callable[[int], Awaitable[bool]],
    ) -> None:
        self._body, self._descending = body, descending
        self._created_ms = created_ms
        self._ask = ask
        # Windows left to check: the resumed one, and the next if it has none left.
        self._windows = 0 if resumed is None or created_ms is None else 1 + (start_page > 1)
        self._edge: tuple[TimeWindow, ResumedEdge | None] | None = None
        self._unsure_yielded: bool | None = None  # not asked yet

    @property
    def active(self) -> bool:
        """Whether the window running now may repeat an earlier pull's cases."""
        return self._windows > 0

    async def drop(self, window: TimeWindow, results: list[Any]) -> list[Any]:
        """``results`` (of ``window``) without the cases the window before it yielded."""
        if not self.active or self._created_ms is None:
            return results
        if self._edge is None or self._edge[0] != window:
            self._edge = (window, resumed_edge(self._body, window, descending=self._descending))
        edge = self._edge[1]
        if edge is None:
            return results
        times = [self._created_ms(case) for case in results]
        if self._unsure_yielded is None and edge.unsure in times:
            self._unsure_yielded = await self._ask(edge.unsure)
        dropped = (edge.sure, edge.unsure) if self._unsure_yielded else (edge.sure,)
        return [case for case, ms in zip(results, times, strict=True) if ms not in dropped]

    def window_done(self, handed_out: bool) -> None:
        """A window ended; ``handed_out``: it yielded cases, which guard the next edge."""
        self._windows = 0 if handed_out else max(0, self._windows - 1)


def created_ms_reader(model: Any) -> CreatedMs | None:
    """How to read a case's ``createdAt`` in ms from a ``model`` instance, if it has one."""
    if model is dict:
        return lambda case: _ms(case.get("createdAt"))
    if model is msgspec.Raw:
        return _raw_ms
    if isinstance(model, type) and issubclass(model, msgspec.Struct):
        for field in msgspec.structs.fields(model):
            if field.encode_name == "createdAt":
                name = field.name
                return lambda case: _ms(getattr(case, name))
    return None


def _raw_ms(case: msgspec.Raw) -> int | None:
    try:
        return _ms(_STAMP.decode(case).created_at)
    except msgspec.DecodeError:  # not an object, or a createdAt that is not text
        return None


def _ms(value: Any) -> int | None:
    """A ``createdAt`` as decoded (an aware datetime or Kore's text) in ms."""
    if isinstance(value, str):
        return ms_from_kore_time(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return ms_from_datetime(value)
    return None
