"""How a windowed pull splits creation time: pure arithmetic on epoch milliseconds.

A pull over ``[lo, hi]`` (the creation times of its oldest and newest case, in ms,
Kore's precision) is split into consecutive *nominal* windows ``[a, b)``; ascending
pulls walk them from ``lo`` up, descending ones from ``hi`` down. What each window
*sends* as ``startDate``/``endDate``:

* the first window in time sends the filter's own ``start_date`` (or none), the last
  one the filter's own ``end_date`` (or none): together the windows ask exactly what
  the filter asks, and cases created during the pull land in the newest window;
* a boundary between two windows is sent as ``startDate = a - 1 ms`` and ``endDate =
  b``. Kore does not document whether the bounds are inclusive; with that overlap a
  case created at any millisecond of ``[a, b)`` is strictly inside the range sent,
  whichever way the server reads them. A case at ``a - 1`` or ``b`` may come from both
  neighbours: the pull drops the repeat (see :mod:`kore_cases._windows`).

``window="auto"`` sizes each window from the counts seen so far (:func:`auto_width`):
about :data:`AUTO_TARGET_PAGES` pages each, so that the partial last page of a window
(the only request a window adds to a pull) stays under 5% of the requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._wire import kore_time_from_ms

__all__ = [
    "AUTO_TARGET_PAGES",
    "NominalWindow",
    "TimeWindow",
    "WindowCursor",
    "WindowSchedule",
    "auto_width",
    "first_auto_width",
]

AUTO_TARGET_PAGES = 25
"""Pages an automatic window aims at: at most one partial page in 25 is < 5% overhead."""

_MAX_GROWTH = 4.0


@dataclass(frozen=True)
class TimeWindow:
    """One creation-date window of a windowed pull: the ``startDate``/``endDate`` it sends.

    ``None`` means the bound is not sent (the filter has none there). Errors of a
    windowed pull, and its iterator, carry one as ``resume_window``; pass it back as
    ``start_window=``.
    """

    start: str | None
    end: str | None

    def apply(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``body`` with this window's bounds in place of the filter's."""
        windowed = {k: v for k, v in body.items() if k not in ("startDate", "endDate")}
        if self.start is not None:
            windowed["startDate"] = self.start
        if self.end is not None:
            windowed["endDate"] = self.end
        return windowed


@dataclass(frozen=True)
class NominalWindow:
    """Creation times ``[start, end)`` in ms, and whether it is the first/last in time."""

    start: int
    end: int
    oldest: bool
    newest: bool


class WindowCursor:
    """Hands out the nominal windows of ``[lo, hi]`` one at a time, in pull order.

    Each call to :meth:`take` cuts the next window of the given width (at least 1 ms);
    the last one is cut short at the bound. ``lo``/``hi`` are inclusive. A window at
    ``lo`` is the oldest of the pull unless ``lo_is_edge`` (the span continues a pull
    resumed there, whose earlier windows are done); ``hi_is_edge`` likewise.
    """

    def __init__(
        self,
        lo: int,
        hi: int,
        *,
        descending: bool,
        lo_is_edge: bool = False,
        hi_is_edge: bool = False,
    ) -> None:
        if hi < lo:
            raise ValueError(f"empty span: hi ({hi}) < lo ({lo})")
        self.lo, self.hi, self.descending = lo, hi, descending
        self._lo_is_edge, self._hi_is_edge = lo_is_edge, hi_is_edge
        # The edge not handed out yet: the next window starts (or ends) here.
        self._edge = hi + 1 if descending else lo

    @property
    def done(self) -> bool:
        """Whether every millisecond of the span has been handed out."""
        return self._edge <= self.lo if self.descending else self._edge > self.hi

    def take(self, width: int, *, aligned: bool = False) -> NominalWindow:
        """The next window, ``width`` ms wide (or what is left of the span).

        ``aligned``: edges fall on ``lo + k * width`` in both directions (a descending
        pull's first window is the short one), so a fixed width cuts the same windows
        either way, e.g. calendar days from a midnight ``start_date``.
        """
        if self.done:
            raise RuntimeError("no window left")
        width = max(1, width)
        if self.descending:
            end = self._edge
            if aligned:
                start = self.lo + (end - 1 - self.lo) // width * width
            else:
                start = max(self.lo, end - width)
            self._edge = start
        else:
            start = self._edge
            end = min(self.hi + 1, start + width)
            self._edge = end
        oldest = start <= self.lo and not self._lo_is_edge
        newest = end > self.hi and not self._hi_is_edge
        return NominalWindow(start, end, oldest=oldest, newest=newest)


def first_auto_width(lo: int, hi: int, total: int, page: int) -> int:
    """The first automatic width: the span shared evenly by the windows it needs."""
    span = hi + 1 - lo
    target = AUTO_TARGET_PAGES * page
    if total <= target:
        return span
    return max(1, span * target // total)


def auto_width(width: int, count: int, page: int) -> int:
    """The next automatic width, from the last window's ``width`` and its ``count``.

    Aims at :data:`AUTO_TARGET_PAGES` pages of ``page`` cases; changes by at most a
    factor of 4 from one window to the next (an empty window quadruples the width), so
    that one odd window cannot swing the plan.
    """
    target = AUTO_TARGET_PAGES * page
    factor = _MAX_GROWTH if count == 0 else target / count
    factor = min(_MAX_GROWTH, max(1 / _MAX_GROWTH, factor))
    return max(1, int(width * factor))


class WindowSchedule:
    """The windows still to start, in pull order, and the bounds each one sends.

    A fixed ``width`` (ms) cuts aligned windows. ``width=None`` is ``"auto"``: the first
    window is ``first_width`` wide, and a window taken after :meth:`counted` was told a
    window's count is sized from it (:func:`auto_width`), else as wide as the last.
    ``bounds`` are the filter's own ``startDate``/``endDate`` (``None``: not sent), sent
    by the oldest and the newest window.
    """

    def __init__(
        self,
        cursor: WindowCursor,
        bounds: tuple[str | None, str | None],
        *,
        width: int | None,
        first_width: int = 1,
    ) -> None:
        self._cursor = cursor
        self._bounds = bounds
        self._width = width
        self._last_width = first_width
        self._count_hint: tuple[int, int] | None = None  # (width, count) of a window

    @property
    def done(self) -> bool:
        """Whether every window has been taken."""
        return self._cursor.done

    def take(self, page_size: int) -> tuple[TimeWindow, NominalWindow]:
        """The next window: what it sends, and its nominal range (``page_size``: the
        server's, for sizing an automatic window)."""
        nominal = self._cursor.take(self._next_width(page_size), aligned=self._width is not None)
        start, end = self._bounds
        return (
            TimeWindow(
                start if nominal.oldest else kore_time_from_ms(nominal.start - 1),
                end if nominal.newest else kore_time_from_ms(nominal.end),
            ),
            nominal,
        )

    def counted(self, nominal: NominalWindow, count: int) -> None:
        """A window's first page came: it holds ``count`` cases."""
        self._count_hint = (nominal.end - nominal.start, count)

    def _next_width(self, page_size: int) -> int:
        if self._width is not None:
            return self._width
        if self._count_hint is not None:
            width, count = self._count_hint
            self._count_hint = None
            self._last_width = auto_width(width, count, page_size)
        return self._last_width
