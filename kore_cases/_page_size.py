"""The page size a pull asks for: a fixed number, or ``"max"``, learned once per client.

Kore does not document the largest ``limit`` getCases accepts (sibling APIs cap at 20,
50 or 100), so ``page_size="max"`` finds out from the server, on the first request the
client sends anyway:

* That request asks for ``max_page_size`` cases (1000 unless configured). A server that
  clamps answers with a smaller ``limit``: the answer is the truth, nothing is wasted.
* A server that refuses large limits with ``400`` gets the same request again with a
  smaller ``limit``: the number its message names if it names a smaller one (``"limit
  must be <= 200"``), else half the size. Each refused request is counted in
  :attr:`PullStats.page_size_probes`; the first accepted answer is the page asked for.
  Halving stops at :data:`MIN_PROBE_SIZE`: a ``400`` even for that few cases is about
  something else, and is raised.

The size learned is the ``limit`` of the first accepted answer, remembered for the
client's life; requests that follow ask for it and never probe again.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol, TypeVar, Union

from ._stats import PullStats
from .errors import BadRequestError

__all__ = [
    "DEFAULT_MAX_PAGE_SIZE",
    "MIN_PROBE_SIZE",
    "PageSize",
    "PageSizer",
    "check_page_size",
]

PageSize = Union[int, Literal["max"]]  # noqa: UP007 (a runtime alias on 3.10)
"""A number of cases per page, or ``"max"``: the largest the server gives."""

DEFAULT_MAX_PAGE_SIZE = 1000
"""What ``page_size="max"`` asks for first, unless ``max_page_size=`` says otherwise."""

MIN_PROBE_SIZE = 10
"""Halving after a ``400`` stops before asking fewer cases than this."""

_NUMBER = re.compile(r"\d+")


class _HasLimit(Protocol):
    @property
    def limit(self) -> int: ...


P = TypeVar("P", bound=_HasLimit)


def check_page_size(value: object) -> PageSize:
    """``value`` if it is a whole number >= 1 or ``"max"``; else a ``ValueError`` saying so."""
    if value == "max" and isinstance(value, str):
        return "max"
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"page_size must be a whole number >= 1 or 'max' (the largest the server "
            f"gives), not {value!r}"
        )
    return value


class PageSizer:
    """What ``limit`` to ask for; for ``"max"``, what the server accepted so far.

    One per client, shared by all its pulls and single-page calls.
    """

    def __init__(self, page_size: PageSize, max_page_size: int = DEFAULT_MAX_PAGE_SIZE) -> None:
        self.requested = page_size
        self.max_page_size = max_page_size
        self.learned: int | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def size(self) -> int:
        """The ``limit`` to ask for now: fixed, learned, or ``max_page_size`` until learned."""
        if self.requested != "max":
            return int(self.requested)
        return self.learned if self.learned is not None else self.max_page_size

    async def first(self, read: Callable[[int], Awaitable[P]], stats: PullStats) -> P:
        """``read(limit)`` with the size to ask; for ``"max"``, learn from (or probe) it.

        ``read`` sends one page request of ``limit`` cases and returns the decoded answer;
        its :class:`BadRequestError` starts the probing described in the module docstring.
        """
        if self.requested != "max" or self.learned is not None:
            return await read(self.size)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one probe per client, however many pulls start at once
            if self.learned is not None:
                return await read(self.learned)
            return await self._probe(read, stats)

    async def _probe(self, read: Callable[[int], Awaitable[P]], stats: PullStats) -> P:
        size = self.max_page_size
        while True:
            try:
                answer = await read(size)
            except BadRequestError as exc:
                smaller = next_probe_size(size, exc.server_message)
                if smaller is None:
                    raise
                stats.page_size_probes += 1
                size = smaller
                continue
            self.learned = answer.limit if answer.limit >= 1 else size
            return answer


def next_probe_size(refused: int, server_message: str | None) -> int | None:
    """The ``limit`` to try after ``refused`` got a 400, or ``None`` to stop probing.

    A smaller number the server's message names (when it speaks of the ``limit``) is
    tried first; otherwise half of ``refused``, never below :data:`MIN_PROBE_SIZE`.
    """
    message = server_message or ""
    if "limit" in message.lower():
        named = [int(n) for n in _NUMBER.findall(message) if MIN_PROBE_SIZE <= int(n) < refused]
        if named:
            return max(named)
    half = refused // 2
    return half if half >= MIN_PROBE_SIZE else None
