"""A resumed windowed pull: the cases its first window repeats from the window before.

A pull resumed with ``start_window=error.resume_window`` continues one that handed out
every window before that one whole, and its first window shares an edge with the last
of them. Neighbouring windows overlap by a millisecond on each side of their edge (see
:mod:`kore_cases._window_plan`). Newest first, the resumed window sends ``endDate = E``
and the window before it sent ``startDate = E - 1 ms``:

* a case created at ``E`` is strictly inside the range the window before sent, so it
  yielded it whichever way Kore reads the bounds: :class:`ResumedEdge` drops it;
* a case created at ``E - 1 ms`` came from the window before only if Kore reads
  ``startDate`` as inclusive, which it does not document. The first time the resumed
  window has such a case, one request of one case asks Kore how it reads the bound
  (:func:`~kore_cases._window_span.edge_included`); if inclusively, every case at
  ``E - 1 ms`` is dropped.

Oldest first mirrors it: the resumed window sends ``startDate = S``, the one before sent
``endDate = S + 1 ms``; cases at ``S`` are dropped, and those at ``S + 1 ms`` if Kore
reads ``endDate`` as inclusive. A window sending the filter's own bound there is the
first of the pull: there is no window before it. A model without a readable
``createdAt`` keeps every case (a repeat at the edge is possible, as without this).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import msgspec

from ._window_plan import TimeWindow
from ._wire import ms_from_datetime, parse_kore_time

__all__ = ["ResumedEdge", "created_ms_reader", "resumed_edge"]

CreatedMs = Callable[[Any], int | None]
"""The creation time of a case of the pull's model, in ms (``None``: unknown)."""


class _Stamp(msgspec.Struct, gc=False):
    created_at: Any = msgspec.field(default=None, name="createdAt")


_STAMP = msgspec.json.Decoder(_Stamp)


class ResumedEdge:
    """Drops the cases of a resumed pull's first window that the window before yielded.

    ``sure``: cases created there (ms) were yielded for sure; ``unsure``: they were if
    the bound the window before sent there is inclusive, which ``ask()`` finds out (once,
    and only if such a case comes).
    """

    def __init__(
        self, sure: int, unsure: int, created_ms: CreatedMs, ask: Callable[[int], Awaitable[bool]]
    ) -> None:
        self.sure, self.unsure = sure, unsure
        self._created_ms = created_ms
        self._ask = ask
        self._unsure_yielded: bool | None = None  # not asked yet

    async def drop(self, results: list[Any]) -> list[Any]:
        """``results`` without the cases the window before yielded."""
        times = [self._created_ms(case) for case in results]
        if self._unsure_yielded is None and self.unsure in times:
            self._unsure_yielded = await self._ask(self.unsure)
        dropped = (self.sure, self.unsure) if self._unsure_yielded else (self.sure,)
        return [case for case, ms in zip(results, times, strict=True) if ms not in dropped]


def resumed_edge(
    body: Mapping[str, Any],
    resumed: TimeWindow | None,
    *,
    descending: bool,
    created_ms: CreatedMs | None,
    ask: Callable[[int, bool], Awaitable[bool]],
) -> ResumedEdge | None:
    """The edge a pull resumed with ``resumed`` shares with the window before it, if any.

    ``ask(ms, start)``: whether Kore includes a case created at ``ms`` when ``ms`` is the
    ``startDate`` (``start``) or the ``endDate`` it is sent.
    """
    if resumed is None or created_ms is None:
        return None
    bound, own = (resumed.end, "endDate") if descending else (resumed.start, "startDate")
    if bound is None or bound == body.get(own):
        return None  # the first window of the pull
    moment = parse_kore_time(bound)
    if moment is None:
        return None
    sure = ms_from_datetime(moment)
    if descending:  # the window before sent startDate = sure - 1
        return ResumedEdge(sure, sure - 1, created_ms, lambda ms: ask(ms, True))
    return ResumedEdge(sure, sure + 1, created_ms, lambda ms: ask(ms, False))


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
    except msgspec.DecodeError:  # not an object: no time to read
        return None


def _ms(value: Any) -> int | None:
    """A ``createdAt`` as decoded (an aware datetime or Kore's text) in ms."""
    if isinstance(value, str):
        value = parse_kore_time(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return ms_from_datetime(value)
    return None
