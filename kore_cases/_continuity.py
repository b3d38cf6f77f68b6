"""The continuity tracker of a pull: does a page continue the pages before it?

Pure, no I/O: the page iterator feeds it each page's facts (:class:`PageFacts`) and it
answers "accept" (``None``) or :class:`Rewind` ("read again from page N"); it also
knows where the data ends and how many cases the server announced.

Offset paging moves under a pull. Kore lists newest first: a case created shifts every
later page by one, a case resolved during an ``unresolved=True`` pull shifts them back.
What the tracker can see, it acts on:

- **Totals.** When a page reports another ``totalResults`` than the pages before it,
  cases may have slid across a page boundary by up to the difference: read again from
  as many pages back as that spans, and check that the first page read again is close
  enough to the snapshot of the pages handed out, or go further back.
- **Seams.** Two pages read in one snapshot never share a case. When a page holds a
  case of the page before it, the data moved between the two reads even if
  ``totalResults`` did not change (a case created and another resolved): the pages
  fetched ahead may come from before the move, so they are read again. (When the
  cases that would have shown the overlap are the ones that left, nothing shows.)
- **The end.** The pages are bounded by ``totalResults`` and ``limit`` (``totalPages``
  is not trusted); a short or empty page ends the data. A full page that says
  ``hasMore`` leads one page further, past the total only while it brings cases not
  seen before; a page that repeats the page before it whole is a server ignoring the
  page asked (:class:`PaginationError`).
- **The count.** :meth:`ContinuityTracker.shortfall` compares the cases handed out with
  the least ``totalResults`` seen, once the pull has ended.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import PaginationError

__all__ = ["MAX_REWINDS", "ContinuityTracker", "PageFacts", "Rewind"]

# How often a pull may go back to read again before it moves past the furthest page
# checked so far; beyond that the data changes faster than it can be read.
MAX_REWINDS = 10


@dataclass(frozen=True)
class PageFacts:
    """What the tracker needs of one answer.

    ``keys`` identify the page's cases in order (hashes of their ids; empty when the
    model has no id): they let two adjacent pages be compared.
    """

    page: int
    total: int
    count: int
    has_more: bool = False
    keys: Sequence[int] = ()


@dataclass(frozen=True)
class Rewind:
    """Read again from page ``to``; fetches in flight come from before a change.

    ``keep`` says whether the page just checked continues the pages before it (it is
    handed out) or not (it is dropped and read again). ``reason`` is for the log.
    """

    to: int
    keep: bool
    reason: str


class ContinuityTracker:
    """Checks, in page order, that the pages of a pull fit together.

    ``first`` is the pull's first page and ``served_page_size`` the page size the server
    uses (its answers' ``limit``, which may be less than what was asked).
    Pages are checked in page order: :meth:`check` takes the page after
    :attr:`checked`; :meth:`arrive` takes pages in any order and checks them as the
    contiguous run grows (unordered pulls).
    """

    def __init__(self, first: int, served_page_size: int) -> None:
        if served_page_size < 1:
            raise ValueError(f"served_page_size must be >= 1, not {served_page_size!r}")
        self.served_page_size = served_page_size
        self.first = first  # the pull's first page
        self.checked = first - 1  # pages up to here hold every case before them ...
        self.total: int | None = None  # ... in the snapshot with this totalResults
        self.least_total: int | None = None  # the least totalResults any page reported
        self.moves = 0  # times the data was seen to move
        self._high = first - 1  # the furthest page ever checked
        self._stalls = 0  # rewinds since the furthest page last advanced
        self._rewind: tuple[int, int] | None = None  # (base total, first page not handed out)
        self._prev_keys: Sequence[int] | None = None  # the last checked page, in this pass
        self._parked: dict[int, PageFacts] = {}
        self._latest_total: int | None = None
        self._end: int | None = None  # a short page: the data ends there
        self._more_after: int = first  # a full page said hasMore: at least up to here

    @property
    def last_page(self) -> int:
        """The last page worth fetching, as the answers so far tell."""
        if self._end is not None:
            return self._end
        bound = self._pages_for(self._latest_total or 0) if self._latest_total is not None else 0
        return max(bound, self._more_after, self.first)

    @property
    def resume_page(self) -> int:
        """The first page not known to continue what was handed out."""
        return self.checked + 1

    def arrive(self, facts: PageFacts) -> Rewind | None:
        """Take a page in any order; check every page the contiguous run now reaches."""
        self._parked[facts.page] = facts
        while self.checked + 1 in self._parked and self.checked + 1 <= self.last_page:
            verdict = self.check(self._parked.pop(self.checked + 1))
            if verdict is not None:
                self._parked.clear()  # read again after the change: stale
                return verdict
        return None

    def check(self, facts: PageFacts) -> Rewind | None:
        """Check the page after :attr:`checked`: ``None`` accepts it, or go back."""
        if facts.page != self.checked + 1:
            raise ValueError(f"page {facts.page} checked after page {self.checked}")
        self._latest_total = facts.total
        if self.least_total is None or facts.total < self.least_total:
            self.least_total = facts.total
        verdict = self._check_total(facts)
        if verdict is not None:
            return verdict
        repeats = self._repeats(facts.keys)
        self._take(facts, repeats)
        if not repeats:
            return None
        return self._rewind_to(
            facts.page + 1,
            facts.total,
            facts.page + 1,
            keep=True,
            reason=(
                f"page {facts.page} repeats {repeats} case{'s' if repeats > 1 else ''} of "
                f"page {facts.page - 1} while totalResults stayed {facts.total}: the data "
                f"moved between the two reads"
            ),
        )

    def shortfall(self, handed_out: int) -> int:
        """How many fewer cases than announced a pull that ran to its end handed out.

        The least ``totalResults`` seen bounds what a pull loses nothing of when cases
        are only created, or only resolved, while it runs; a pull resumed at a later
        page is owed only the cases from that page on.
        """
        if self.least_total is None:
            return 0
        owed = self.least_total - (self.first - 1) * self.served_page_size
        return max(0, owed - handed_out)

    # -- the checks ---------------------------------------------------------------

    def _check_total(self, facts: PageFacts) -> Rewind | None:
        """Go back when this page's totalResults says the data moved."""
        page, total = facts.page, facts.total
        if self._rewind is not None:
            # The first page of a re-read: cases not yet handed out sit at most
            # |total - base| places before where they were in the snapshot the pages
            # handed out came from, so reading from that far back finds all of them.
            base, resume_at = self._rewind
            needed = max(1, resume_at - self._pages_for(abs(total - base)))
            if page > needed:
                return self._rewind_to(
                    needed, base, resume_at, keep=False, reason=_moved(base, total, page)
                )
            self._rewind = None
            return None
        if self.total is not None and total != self.total:
            first = max(1, page - self._pages_for(abs(total - self.total)))
            return self._rewind_to(
                first, self.total, page, keep=False, reason=_moved(self.total, total, page)
            )
        return None

    def _repeats(self, keys: Sequence[int]) -> int:
        """How many cases of the page before this one (in this pass) this page repeats."""
        prev = self._prev_keys
        if not prev or not keys:
            return 0
        if len(keys) > 1 and keys[0] == prev[0] and tuple(keys) == tuple(prev):
            raise PaginationError(
                f"page {self.checked + 1} holds the same {len(keys)} cases as page "
                f"{self.checked}: the server does not honour this paging style; try "
                "CasesClient(..., paging='skip') (skip/limit, as getTasks pages) or "
                "paging='page'",
                page=self.checked + 1,
            )
        return len(set(prev).intersection(keys))

    def _take(self, facts: PageFacts, repeats: int) -> None:
        """Extend the checked run to this page and learn where the data ends."""
        page = facts.page
        self.checked, self.total = page, facts.total
        self._prev_keys = facts.keys
        if page > self._high:
            self._high = page
            self._stalls = 0
        if facts.count < self.served_page_size:
            self._end = page  # a short or empty page: the data ends here
        elif facts.has_more and (
            page < self._pages_for(facts.total) or (facts.keys and not repeats)
        ):
            # totalResults is the plan, hasMore the truth: a full page that still says
            # hasMore means one page more, past the total only while pages bring cases
            # not seen before (a server repeating a page would lead on forever).
            self._end = None
            self._more_after = max(self._more_after, page + 1)
        elif page >= self._pages_for(facts.total):
            self._end = page

    def _rewind_to(
        self, first: int, base: int, resume_at: int, *, keep: bool, reason: str
    ) -> Rewind:
        """Go back to ``first``: pages from there on are read again in one snapshot."""
        self._stalls += 1
        self.moves += 1
        if self._stalls > MAX_REWINDS:
            raise PaginationError(
                f"the data kept moving ({reason}) after page {self._high} was read "
                f"{MAX_REWINDS} times; for a stable result set, pin end_date to the time "
                "the pull started",
                page=resume_at,
            )
        if not keep:
            self.checked = first - 1
            self.total = None
            self._end = None
        self._rewind = (base, resume_at)
        self._prev_keys = None
        return Rewind(first, keep, reason)

    def _pages_for(self, cases: int) -> int:
        return math.ceil(cases / self.served_page_size)


def _moved(base: int, total: int, page: int) -> str:
    return f"totalResults changed during the pull: {base}, then {total} at page {page}"
