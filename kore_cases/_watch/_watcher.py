"""``client.watch()``: an async iterator of case events, polling within the account's budget.

The watch runs inside the consumer's own task: ``__anext__`` hands out what the last poll
found and, when nothing is left, sleeps until the next poll is due and polls. No
background task, so dozens of watches in one loop cost nothing between polls, and
cancelling the consumer ends the watch at once.

Delivery: exactly once within a process. Across a crash, at least once: the state file
is written when the consumer comes back for the next event (so it covers every event
before the one being handled) and, leaving ``async with`` without an exception, the last
one too. After a crash only the events taken since the last write come again; the
boundary ids of the cursor keep everything before it from repeating.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING

import anyio

from .._checks import seconds
from ..errors import APIStatusError, KoreCasesError, RateLimitError
from ..filters import CaseFilter, DateLike, _as_utc
from ..models import Case, CasesPage
from ._cursor import NewState, SetState, WatchCursor, WatchMode, filter_key
from ._events import CaseAdded, WatchEvent
from ._polls import NewPoll, SetRead, poll_new, poll_set, prime_new, start_new_poll
from ._schedule import PollSchedule, set_budget
from ._state_file import StateFile

if TYPE_CHECKING:
    from .._client_pulls import PullMethods

__all__ = ["CaseWatch", "WatchStats"]

logger = logging.getLogger("kore_cases.watch")

# Only these end a watch: a person has to fix something. Anything else is an outage.
_RETRYABLE_STATUSES = frozenset({408, 429})
_BUDGET_WARN_SHARE = 0.5


@dataclass
class WatchStats:
    """Counters of one watch (``events.stats``)."""

    polls: int = 0
    """Polls that worked."""
    failed_polls: int = 0
    """Polls that failed (each delayed the next one)."""
    requests: int = 0
    """getCases calls the watch made (each may have been retried inside the client)."""
    events: int = 0
    """Events handed out."""
    recent: deque[float] = field(default_factory=deque, repr=False)
    """``time.monotonic()`` of the requests of the last minute."""

    def requests_last_minute(self, now: float | None = None) -> int:
        """Requests sent in the last 60 seconds."""
        now = time.monotonic() if now is None else now
        while self.recent and self.recent[0] <= now - 60.0:
            self.recent.popleft()
        return len(self.recent)


class CaseWatch:
    """Events about the cases matching a filter; see :meth:`CasesClient.watch`.

    ``async for event in watch`` (optionally inside ``async with watch:``), ``watch.cursor``
    for the position to persist, ``watch.stats`` for counters.
    """

    def __init__(
        self,
        client: PullMethods,
        filter: CaseFilter | None,
        *,
        every: float,
        cursor: WatchCursor | None,
        since: DateLike | None,
        mode: WatchMode,
        state_file: str | os.PathLike[str] | None,
        overlap: float,
        jitter: float,
        rng: random.Random | None = None,
    ) -> None:
        if filter is not None and not isinstance(filter, CaseFilter):
            raise TypeError(
                f"filter must be a CaseFilter, e.g. CaseFilter(unassigned=True), not "
                f"{type(filter).__name__}"
            )
        if mode not in ("new", "set"):
            raise ValueError(f"mode must be 'new' or 'set', not {mode!r}")
        self._client = client
        self._filter = filter or CaseFilter()
        self._mode: WatchMode = mode
        self._every = seconds("every", every)
        overlap_seconds = seconds("overlap", overlap, zero=True)
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be a fraction in [0, 1), not {jitter!r}")
        self._schedule = PollSchedule(self._every, jitter, rng)
        self._key = filter_key(self._filter.to_body(), mode)
        self._file = StateFile(state_file) if state_file is not None else None
        start = self._starting_cursor(cursor, _since(since))
        self._new = NewState(start, timedelta(seconds=overlap_seconds)) if mode == "new" else None
        self._set = SetState(start) if mode == "set" else None
        self._pending: deque[WatchEvent] = deque()
        # A poll that failed part-way: the next attempt goes on from where it stopped.
        self._unfinished: NewPoll | SetRead | None = None
        self._due = 0.0  # monotonic time of the next poll; the first is at once
        self._handled: list[WatchEvent] = []  # taken, handled, not yet in the state file
        self._snapshot: str | None = None
        self._closed = False
        self._budget_warned = 0.0
        self.stats: WatchStats = WatchStats()
        """Counters: polls, failed polls, requests, events."""

    # -- the position ---------------------------------------------------------------------

    def _starting_cursor(self, cursor: WatchCursor | None, since: datetime | None) -> WatchCursor:
        if cursor is not None and since is not None:
            raise ValueError("pass cursor= to resume or since= to start earlier, not both")
        origin, remedy = "this cursor", ""
        if cursor is None and self._file is not None:
            cursor = self._file.load()
            origin = f"the cursor in state file {self._file.path}"
            remedy = "; give this watch its own state_file"
            if cursor is not None and since is not None:
                raise ValueError(
                    f"state file {self._file.path} exists: the watch resumes from it, so "
                    "since= cannot apply; remove the file to start over"
                )
        if cursor is None:
            # since= in mode "new" needs no priming: the window starts there.
            primed = since is not None and self._mode == "new"
            return WatchCursor(self._mode, self._key, primed=primed, since=since)
        if not isinstance(cursor, WatchCursor):
            raise TypeError(f"cursor must be a WatchCursor, not {type(cursor).__name__}")
        if cursor.mode != self._mode:
            raise ValueError(
                f"{origin} is for mode={cursor.mode!r}, not mode={self._mode!r}: a cursor "
                f"resumes the watch it came from{remedy}"
            )
        if cursor.filter_key != self._key:
            raise ValueError(
                f"{origin} was made for another filter: a cursor resumes the watch it came "
                f"from (same filter, same mode); start a new watch for a new filter{remedy}"
            )
        return cursor

    @property
    def cursor(self) -> WatchCursor:
        """The position after every event handed out so far (the current one included).

        Persist ``cursor.to_json()`` after handling an event; resume with
        ``client.watch(..., cursor=WatchCursor.from_json(text))``.
        """
        if self._new is not None:
            return self._new.cursor(self._key)
        assert self._set is not None
        return self._set.cursor(self._key)

    @property
    def mode(self) -> WatchMode:
        """``"new"`` or ``"set"``."""
        return self._mode

    @property
    def every(self) -> float:
        """Seconds between polls (before jitter)."""
        return self._every

    def _journal(self) -> None:
        """Record in the state file the events handled since it was last written."""
        if self._file is not None and self._handled:
            self._file.journal(self._handled, self._mode)
        self._handled.clear()

    def _compact(self) -> None:
        """Replace the state file with a snapshot of the cursor, if it changed."""
        if self._file is None:
            return
        cursor = self.cursor
        text = cursor.to_json()
        if text != self._snapshot:
            self._file.snapshot(cursor)
            self._snapshot = text

    # -- iteration ------------------------------------------------------------------------

    def __aiter__(self) -> CaseWatch:
        """The watch is its own iterator."""
        return self

    async def __anext__(self) -> WatchEvent:
        """The next event; polls (sleeping between polls) until there is one."""
        if self._closed:
            raise StopAsyncIteration
        self._journal()  # the consumer is back: every event handed out so far was handled
        while not self._pending:
            delay = self._due - time.monotonic()
            if delay > 0:
                await anyio.sleep(delay)
            await self._poll()
            self._compact()
        event = self._pending.popleft()
        if self._file is not None:
            self._handled.append(event)
        if self._set is not None:
            self._set.take(event)
        elif isinstance(event, CaseAdded):
            assert self._new is not None
            self._new.take(event.case)
        self.stats.events += 1
        return event

    async def __aenter__(self) -> CaseWatch:
        """Enter: the watch itself."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Leave: without an exception the last event counts as handled and is persisted."""
        if exc_type is None:
            self._journal()
        self._closed = True

    async def aclose(self) -> None:
        """End the watch: the iteration stops. The state file keeps what was handled."""
        self._closed = True

    # -- polling --------------------------------------------------------------------------

    async def _read_page(
        self, query: CaseFilter, page: int, page_size: int | None
    ) -> CasesPage[Case]:
        self.stats.requests += 1
        self.stats.recent.append(time.monotonic())
        self.stats.requests_last_minute()
        return await self._client.get_page(query, page=page, page_size=page_size)

    async def _poll(self) -> None:
        started = time.monotonic()
        try:
            events = await self._poll_once()
        except APIStatusError as exc:
            if exc.status_code not in _RETRYABLE_STATUSES and exc.status_code < 500:
                self._closed = True
                raise  # 400, 401, 403, 404: a person has to fix something
            self._failed(started, exc, exc.retry_after if isinstance(exc, RateLimitError) else None)
            return
        except (KoreCasesError, OSError, TimeoutError) as exc:
            # Connection lost, timeout, an unreadable or inconsistent answer: an outage.
            self._failed(started, exc, None)
            return
        except Exception:
            self._closed = True  # a refusal (ValueError: over budget) or a bug
            raise
        # A cancel (a timeout around __anext__, the task cancelled) propagates and leaves
        # the watch as it was: the poll's findings are dropped, the next call polls again.
        if self._schedule.failures:
            logger.info("watch resumed after %d failed poll(s)", self._schedule.failures)
        self.stats.polls += 1
        self._due = started + self._schedule.succeeded()
        self._pending.extend(events)

    async def _poll_once(self) -> list[WatchEvent]:
        if self._new is not None:
            if not self._new.primed:
                await prime_new(self._read_page, self._filter, self._new)
                return []
            if not isinstance(self._unfinished, NewPoll):
                self._unfinished = start_new_poll(self._filter, self._new)
            cases, _ = await poll_new(self._read_page, self._filter, self._new, self._unfinished)
            self._unfinished = None
            return [CaseAdded(case) for case in cases]
        assert self._set is not None
        if not isinstance(self._unfinished, SetRead):
            self._unfinished = SetRead()
        events, _ = await poll_set(
            self._read_page, self._filter, self._set, self._check_budget, self._unfinished
        )
        self._unfinished = None
        return events

    def _check_budget(self, total: int, page_size: int) -> None:
        budget = set_budget(total, page_size, self._every, self._client.rate_limit)
        if budget.share > 1 and not self._set_primed():
            raise ValueError(budget.explain())
        if budget.share > _BUDGET_WARN_SHARE and budget.share >= 2 * self._budget_warned:
            self._budget_warned = budget.share  # again only if it doubles
            logger.warning("%s", budget.explain())

    def _set_primed(self) -> bool:
        return self._set is not None and self._set.primed

    def _failed(self, started: float, exc: Exception, retry_after: float | None) -> None:
        self.stats.failed_polls += 1
        delay = self._schedule.failed(retry_after)
        self._due = started + delay
        failures = self._schedule.failures
        level = logging.WARNING if self._schedule.worth_a_warning() else logging.DEBUG
        logger.log(
            level,
            "watch poll failed (%d in a row), next poll in %.3g s: %s",
            failures,
            delay,
            exc,
        )


def _since(since: DateLike | None) -> datetime | None:
    if since is None:
        return None
    # Validated the way a filter's dates are: aware datetimes, dates, ISO strings.
    CaseFilter(start_date=since)
    return _as_utc(since)
