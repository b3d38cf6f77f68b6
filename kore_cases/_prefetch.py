"""The prefetch window of a pull: which pages are scheduled, in flight and ready.

Pure bookkeeping, no I/O: the page iterator starts the fetches (through the ``start``
callback it hands to :meth:`PrefetchWindow.schedule`) and tells the window what
became of them. A page is *in flight* from its scheduling until the iterator takes its
answer, and *ready* from its acceptance until the consumer takes it; together they never
exceed the window's size, which bounds memory and how far fetching runs ahead.

The size is ``concurrency`` pages, unless pages are so large that fewer hold
:data:`PREFETCH_MAX_BYTES` (:func:`pages_within`): a page of 1,000 cases is about
3 MB of JSON, and eight of them waiting beside a table being built were a third of
the table's size again.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["PREFETCH_MAX_BYTES", "PrefetchWindow", "pages_within"]

PREFETCH_MAX_BYTES = 12 * 2**20
"""The bytes of answers a pull keeps in flight or ready, when its pages are large."""


def pages_within(concurrency: int, page_bytes: int | None) -> int:
    """The window's size: ``concurrency`` pages, fewer when they would pass the bytes cap.

    Never fewer than two (one read while the next arrives) nor more than
    ``concurrency``; ``page_bytes`` is the size of the latest answer (``None``
    before one arrived).
    """
    if not page_bytes:
        return concurrency
    return min(concurrency, max(2, PREFETCH_MAX_BYTES // page_bytes))


H = TypeVar("H")  # a handle on a fetch in flight (an asyncio.Task in the iterator)
R = TypeVar("R")  # a page ready for the consumer


class PrefetchWindow(Generic[H, R]):
    """At most ``size`` pages in flight or ready, scheduled in page order from ``first``.

    ``size`` may change during the pull (:func:`pages_within`); a smaller one only
    stops new pages until enough are taken.
    """

    def __init__(self, size: int, first: int) -> None:
        if size < 1:
            raise ValueError(f"a prefetch window holds at least 1 page, not {size!r}")
        self.size = size
        self.in_flight: dict[int, H] = {}
        self._ready: deque[tuple[int, R]] = deque()
        self._next = first  # the next page this pass has not scheduled yet
        self._again: list[int] = []  # pages a pause took out of flight (a heap)
        self._high = first - 1  # the highest page ever scheduled

    @property
    def high(self) -> int:
        """The highest page ever scheduled (a page at or below it is read again)."""
        return self._high

    @property
    def next_page(self) -> int:
        """The page the next :meth:`schedule` starts with, pages to read again aside."""
        return self._next

    def schedule(
        self, last: int, start: Callable[[int, bool], H], budget: int | None = None
    ) -> list[int]:
        """Start pages (no further than ``last``, at most ``budget``) while there is room.

        ``start(page, again)`` starts the fetch and returns its handle; ``again`` says the
        page was scheduled before. Pages a :meth:`pause` took out of flight come first.
        Returns the pages started.
        """
        started: list[int] = []
        while len(self.in_flight) + len(self._ready) < self.size and (
            budget is None or len(started) < budget
        ):
            if self._again:
                page = heapq.heappop(self._again)
                if page > last:
                    continue
            elif self._next <= last:
                page = self._next
                self._next += 1
            else:
                break
            self.in_flight[page] = start(page, page <= self._high)
            self._high = max(self._high, page)
            started.append(page)
        return started

    def lowest_in_flight(self) -> int | None:
        """The page an ordered pull waits for next: the lowest one in flight."""
        return min(self.in_flight, default=None)

    def first_done(self, done: Callable[[H], bool]) -> int | None:
        """The lowest page in flight whose fetch is over, if any."""
        return min((p for p, h in self.in_flight.items() if done(h)), default=None)

    def take(self, page: int) -> H:
        """Take a page's fetch out of flight (its answer is being read)."""
        return self.in_flight.pop(page)

    def put_ready(self, page: int, item: R) -> None:
        """Queue an accepted page for the consumer."""
        self._ready.append((page, item))

    def pop_ready(self) -> R | None:
        """The next page for the consumer, if one is ready."""
        return self._ready.popleft()[1] if self._ready else None

    def ready_items(self) -> list[R]:
        """The pages waiting for the consumer, in the order they will be handed out."""
        return [item for _page, item in self._ready]

    def lowest_ready(self) -> int | None:
        """The lowest page waiting for the consumer."""
        return min((page for page, _item in self._ready), default=None)

    def restart(self, first: int) -> list[H]:
        """Read on from ``first``: everything in flight is dropped (returned to cancel)."""
        dropped = list(self.in_flight.values())
        self.in_flight.clear()
        self._again.clear()
        self._next = first
        return dropped

    def trim(self, last: int) -> list[H]:
        """Forget the pages past ``last`` (the data ends there); returns their fetches."""
        beyond = [p for p in self.in_flight if p > last]
        self._again = [p for p in self._again if p <= last]
        heapq.heapify(self._again)
        self._next = min(self._next, last + 1)
        return [self.in_flight.pop(p) for p in beyond]

    def pause(self, done: Callable[[H], bool]) -> list[H]:
        """Stop the fetches not over yet (returned to cancel); schedule them again later."""
        stopped = [p for p, h in self.in_flight.items() if not done(h)]
        for page in stopped:
            heapq.heappush(self._again, page)
        return [self.in_flight.pop(p) for p in stopped]

    def clear(self) -> list[H]:
        """Forget everything (the pull is over); returns the fetches to cancel."""
        self._ready.clear()
        self._again.clear()
        dropped = list(self.in_flight.values())
        self.in_flight.clear()
        return dropped
