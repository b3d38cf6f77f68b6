"""The async-iterator surface every pull shares: ``async for``, ``async with``, ``aclose()``.

* :class:`AsyncPullIterator`, the base of the iterators of cases and of pages: ``async for``
  runs through a :class:`PullLoop` (leaving the loop pauses the pull), and leaving
  ``async with`` closes it. Subclasses give ``__anext__``, ``aclose()`` and ``_pause()``.
* :class:`PageStream` adds the page iterators' ``__anext__``: the next page from
  ``_take()``, its cases counted into ``stats.cases`` (a case iterator taking pages
  through ``_take()`` counts the cases it yields instead).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from typing import Generic, Protocol, TypeVar

from ._stats import PullStats
from .models import CasesPage

__all__ = ["AsyncPullIterator", "PageStream", "PullLoop"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
_Self = TypeVar("_Self", bound="AsyncPullIterator[object]")


class _Pausable(Protocol[T_co]):
    """An async iterator whose consumer can say it left its ``async for``."""

    def __anext__(self) -> Awaitable[T_co]: ...

    def _pause(self) -> None: ...


class PullLoop(Generic[T_co]):
    """What ``async for`` holds while it runs: leaving the loop pauses the pull.

    ``break`` drops this object (the loop was its only holder) but not an iterator the
    caller named, whose fetches would otherwise go on spending the account's requests.
    """

    __slots__ = ("_source",)

    def __init__(self, source: _Pausable[T_co]) -> None:
        self._source = source

    def __aiter__(self) -> PullLoop[T_co]:
        return self

    def __anext__(self) -> Awaitable[T_co]:
        return self._source.__anext__()

    def __del__(self) -> None:
        with contextlib.suppress(RuntimeError):  # the event loop is closed: nothing runs
            self._source._pause()


class AsyncPullIterator(Generic[T_co]):
    """An async iterator over a pull: ``async for`` pauses it on leaving, ``async with``
    closes it."""

    def __aiter__(self) -> PullLoop[T_co]:
        return PullLoop(self)

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def __anext__(self) -> T_co:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Stop the pull and cancel the fetches still running."""
        raise NotImplementedError

    def _pause(self) -> None:
        """The consumer left its ``async for``: stop the fetches not answered yet."""
        raise NotImplementedError


class PageStream(AsyncPullIterator[CasesPage[T]]):
    """A :class:`AsyncPullIterator` of pages whose cases count into :attr:`stats`."""

    stats: PullStats

    async def __anext__(self) -> CasesPage[T]:
        page = await self._take()
        self.stats.cases += len(page.results)
        return page

    async def _take(self) -> CasesPage[T]:
        """The next page, without counting its cases (the case iterator counts them)."""
        raise NotImplementedError
