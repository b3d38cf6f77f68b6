"""How a blocking client runs the async one: a private event loop in a thread, and
calls and pulls bridged to it.

:class:`BackgroundLoop` is the loop of one blocking client (and its views), in a daemon
thread. :class:`LoopCalls` is the base of the blocking client's methods: ``_call`` runs
one call of the async client there and waits; ``_pull`` makes a pull there and hands it
out as a :class:`PullIterator`, a plain iterator that waits for each item in turn. An
interrupt (Ctrl-C) while waiting cancels what was waited for, on the loop.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

import anyio
from anyio.from_thread import BlockingPortal

from ._stats import PullStats
from ._window_plan import TimeWindow

if TYPE_CHECKING:
    from ._client import CasesClient as AsyncCasesClient

__all__ = ["BackgroundLoop", "LoopCalls", "PullIterator"]

R = TypeVar("R")
Item = TypeVar("Item", covariant=True)
Position = tuple[int, TimeWindow | None]
"""Where a pull would continue: ``(resume_page, resume_window)``."""


class _Pull(Protocol[Item]):
    """What the async page and case iterators have in common."""

    @property
    def stats(self) -> PullStats: ...

    @property
    def resume_page(self) -> int: ...

    @property
    def resume_window(self) -> TimeWindow | None: ...

    @property
    def total_results(self) -> int | None: ...

    def __anext__(self) -> Awaitable[Item]: ...

    async def aclose(self) -> None:
        """Stop the pull and cancel the fetches still running."""
        ...


class BackgroundLoop:
    """The background event loop of one blocking client (and its views).

    A daemon thread, so that a client never closed cannot keep the interpreter from
    exiting (anyio's own portal thread is not one in every supported version).
    """

    def __init__(self) -> None:
        self.portal: BlockingPortal | None = None
        self._thread: threading.Thread | None = None
        self.closed = False

    def start(self) -> BlockingPortal:
        if self.closed:
            raise RuntimeError("this CasesClient is closed; create a new one")
        if self.portal is None:
            ready: Future[BlockingPortal] = Future()

            async def serve() -> None:
                async with BlockingPortal() as portal:
                    ready.set_result(portal)
                    await portal.sleep_until_stopped()

            def run() -> None:
                try:
                    anyio.run(serve)
                except BaseException as exc:  # pragma: no cover - the loop failed to start
                    if not ready.done():
                        ready.set_exception(exc)

            self._thread = threading.Thread(target=run, name="kore-cases-loop", daemon=True)
            self._thread.start()
            self.portal = ready.result()
        return self.portal

    def stop(self) -> None:
        self.closed = True
        portal, self.portal = self.portal, None
        thread, self._thread = self._thread, None
        if portal is not None:
            with contextlib.suppress(RuntimeError):  # already stopped
                portal.call(portal.stop, True)
        if thread is not None:
            thread.join()


class LoopCalls:
    """What the blocking methods stand on: the async client, run on the background loop."""

    _client: AsyncCasesClient
    _loop: BackgroundLoop

    def _portal(self) -> BlockingPortal:
        portal = self._loop.portal
        if portal is None:
            if self._loop.closed:
                raise RuntimeError("this CasesClient is closed; create a new one")
            raise RuntimeError(
                "this CasesClient is not open: use `with CasesClient(...) as client:` "
                "or `client.open()` first"
            )
        return portal

    def _call(self, function: Callable[[], Awaitable[R]]) -> R:
        """Run ``function()`` (a call of the async client) on the loop and wait for it."""
        return wait(self._portal(), function)

    def _pull(self, make: Callable[[], _Pull[R]]) -> PullIterator[R]:
        """Make the pull ``make()`` on the loop and hand it out as a plain iterator."""
        portal = self._portal()
        # Made on the loop's thread: the iterator and its tasks live there.
        return PullIterator(portal, portal.call(make))


class PullIterator(Generic[Item]):
    """A pull as a plain iterator: ``for case in client.iter_cases(...)``.

    Leaving the ``for`` loop early (``break``, an exception) cancels the fetches still
    running once the iterator is dropped, and :meth:`close` (or ``with``) does it at
    once. :attr:`stats`, :attr:`resume_page`, :attr:`resume_window` and
    :attr:`total_results` are those of the async pull, except after Ctrl-C: the item
    the loop handed out as it landed never reached the caller, so they say where the
    pull stood before that item.
    """

    def __init__(self, portal: BlockingPortal, pull: _Pull[Item]) -> None:
        self._portal: BlockingPortal | None = portal
        self._pull = pull
        # Where the pull stood before the item last asked of it (set on the loop), and
        # where it continues after an interrupt (that item may be lost).
        self._before: Position | None = None
        self._stopped: Position | None = None

    @property
    def stats(self) -> PullStats:
        """Counters of the pull (pages, cases, requests, retries, waits, elapsed)."""
        return self._pull.stats

    @property
    def resume_page(self) -> int:
        """The page to pass as ``start_page=`` to continue: all before it were yielded."""
        return self._position()[0]

    @property
    def resume_window(self) -> TimeWindow | None:
        """With ``window=``, the window :attr:`resume_page` counts in (pass it as
        ``start_window=``); ``None`` for a pull without windows."""
        return self._position()[1]

    def _position(self) -> Position:
        if self._stopped is not None:
            return self._stopped
        return self._pull.resume_page, self._pull.resume_window

    @property
    def total_results(self) -> int | None:
        """``totalResults`` as the pages read so far agree on it; ``None`` before page 1."""
        return self._pull.total_results

    def __iter__(self) -> Iterator[Item]:
        return self

    def __next__(self) -> Item:
        portal = self._portal
        if portal is None:
            raise StopIteration
        self._before = None
        try:
            return wait(portal, self._next)
        except StopAsyncIteration:
            self._portal = None  # the async pull has ended and cleaned up
            raise StopIteration from None
        except (KeyboardInterrupt, SystemExit):
            # Ctrl-C may land after the loop handed out the next item but before this
            # thread took it: that item is lost, so the pull must not go on past it,
            # and a new one must start where this one stood before it.
            self.close()  # after it, _next has run on the loop, or never will
            self._stopped = _earlier(self._before, self._position())
            raise

    async def _next(self) -> Item:
        pull = self._pull
        self._before = (pull.resume_page, pull.resume_window)
        return await pull.__anext__()

    def close(self) -> None:
        """Stop the pull: cancel the fetches still running and wait for them to end."""
        portal, self._portal = self._portal, None
        if portal is not None:
            wait(portal, self._pull.aclose)

    def __enter__(self) -> PullIterator[Item]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # `break` drops the iterator without close(): end the pull on its own loop
        # (never from this thread), unless the client closed that loop already.
        portal = getattr(self, "_portal", None)
        if portal is not None:
            # RuntimeError: the loop has stopped, and closing the client ended the pull.
            with contextlib.suppress(RuntimeError):
                portal.start_task_soon(self._pull.aclose)


def _earlier(before: Position | None, now: Position) -> Position:
    """The earlier of two positions of one pull (``before``: ``None`` if unknown).

    Windows only move forward, so another window ``now`` is a later one; within one
    window the lower page is earlier (a pull reading pages again goes back).
    """
    if before is None:
        return now
    if before[1] != now[1]:
        return before
    return min(before[0], now[0]), now[1]


def wait(portal: BlockingPortal, function: Callable[[], Awaitable[R]]) -> R:
    """Run ``function()`` on the loop and wait; an interrupt (Ctrl-C) cancels it there."""
    future = portal.start_task_soon(function)
    try:
        return future.result()
    except BaseException:
        future.cancel()
        raise
