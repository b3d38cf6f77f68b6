"""An account's request budget: its configuration and a pure policy over it (no I/O, no clock).

Kore documents **60 requests per minute per account** over a rolling 60 s window for
Case Management, shared by Create/Get/Update Case and Create/Get/Update Task; over it the
answer is a 429 saying ``You've exceeded the per-minute rate limit``, with no
``Retry-After`` and no rate-limit headers (Kore, "Case Management - API Rate Limits").

:class:`RateLimit` is the configuration; :func:`rate_window` is the one check of a
``(max_requests, seconds)`` window (and :func:`parse_rate_window` of one written
``600/60``), shared by ``RateLimit``, the fake server, ``KORE_RATE_LIMIT`` and the CLI.

:class:`Budget` decides when the next request may go, given the current time:

- **Windows.** Kore counts a request when it *arrives*, after we send it. A slot that
  freed one window after the *send* would let a burst at a window's edge arrive inside
  the server's next window. So a slot stays taken while its request is in flight and for
  a whole window after its answer came back: the server has certainly stopped counting it.
- **Pacing.** Kore advises spreading calls evenly: after a short ``burst`` the requests go
  one per ``window / limit`` instead of the whole minute's budget in the first second (a
  schedule, as GCRA keeps one: a request sent late does not delay the ones after it).
- **429 pause.** A 429 without ``Retry-After`` means the rolling window is full. Every
  request waits until the oldest request this budget knows of leaves the window (a whole
  window when it knows none); the next requests see the room that has really freed.
- **Learning.** Someone else may spend the same account (another service, a tenant this
  process cannot see). At a 429 without ``Retry-After`` the budget learns how many of its
  own requests the window held and keeps to that many per window (paced evenly), one
  fewer after each further 429, one more per quiet window, until the configured limit.
"""

from __future__ import annotations

import math
from collections import deque
from urllib.parse import urlsplit

from ._checks import seconds as _seconds
from ._checks import whole_number

__all__ = [
    "DEFAULT_BURST",
    "DEFAULT_RATE_LIMIT",
    "HOURLY_WINDOW",
    "KORE_WINDOW",
    "Budget",
    "RateLimit",
    "parse_rate_window",
    "rate_window",
    "redacted_url",
]

KORE_WINDOW = 60.0
"""Kore's documented rolling window, in seconds: the guess when no limit is configured."""
HOURLY_WINDOW = 3600.0
"""The window named by Kore's ``You've exceeded the hourly rate limit`` (other API families)."""
DEFAULT_BURST = 4
"""Requests that may go back to back while the window is that empty; then one per slot."""

_STORE_SCHEMES = ("redis", "rediss", "unix", "valkey", "valkeys")


def rate_window(window: object) -> tuple[int, float]:
    """``window`` as ``(max_requests, seconds)``, or an error saying which part is wrong.

    The one check of a window, for :class:`RateLimit`, the fake server's ``rate_limits``
    and the command line: a whole number of requests >= 1 over a finite number of
    seconds > 0 (an endless window would never free a slot, nor give a ``Retry-After``).

    Raises:
        TypeError: ``window`` is not a 2-tuple.
        ValueError: a part of it is out of range.
    """
    if not isinstance(window, tuple) or len(window) != 2:
        raise TypeError(
            f"a rate window must be a (max_requests, seconds) tuple such as (60, 60.0), "
            f"not {window!r}"
        )
    count, span = window
    return (
        whole_number("a rate window's max_requests", count, 1),
        _seconds("a rate window's length", span),
    )


def parse_rate_window(text: str) -> tuple[int, float]:
    """``"600/60"`` as ``(600, 60.0)``: a window as it is written, checked by :func:`rate_window`.

    Raises:
        ValueError: ``text`` is not ``REQUESTS/SECONDS``, or a number in it is out of range.
    """
    count, slash, span = text.strip().partition("/")
    try:
        window = (int(count), float(span))
    except ValueError:
        slash = ""
    if not slash:
        raise ValueError(f"a rate window must be REQUESTS/SECONDS such as 600/60, not {text!r}")
    return rate_window(window)


class RateLimit:
    """Request-rate windows to stay under, each ``(max_requests, seconds)``; all hold at once.

    ``RateLimit((60, 60.0))`` is Kore's documented Case Management limit (60 requests a
    minute per account, rolling window) and the client's default.

    Options:
        burst: how many requests may go back to back while the window is nearly empty;
            after that they are spread evenly, one per ``seconds / max_requests`` of the
            strictest window, as Kore advises. ``None`` sends as fast as the windows allow.
        store: a Redis or Valkey URL (``redis://host:6379/0``, ``rediss://…``,
            ``unix:///path.sock``) that shares the budget across processes and machines;
            needs ``pip install 'kore-cases[redis]'``. ``None`` keeps it in this process.
    """

    __slots__ = ("burst", "store", "windows")

    def __init__(
        self,
        *windows: tuple[int, float],
        burst: int | None = DEFAULT_BURST,
        store: str | None = None,
    ) -> None:
        if not windows:
            raise ValueError("RateLimit needs at least one (max_requests, seconds) window")
        checked = tuple(map(rate_window, windows))
        if burst is not None and (
            isinstance(burst, bool) or not isinstance(burst, int) or burst < 1
        ):
            raise ValueError(f"burst must be a whole number >= 1 or None, not {burst!r}")
        if store is not None:
            _check_store(store)
        self.windows: tuple[tuple[int, float], ...] = checked
        self.burst: int | None = burst
        self.store: str | None = store

    def stored(self, store: str | None) -> RateLimit:
        """The same limit kept in ``store`` (a Redis or Valkey URL; ``None``: in process)."""
        return RateLimit(*self.windows, burst=self.burst, store=store)

    @property
    def interval(self) -> float:
        """Seconds between two requests once they are spread evenly: the strictest window's."""
        return max(seconds / count for count, seconds in self.windows)

    def __repr__(self) -> str:
        text = ", ".join(map(repr, self.windows))
        if self.burst != DEFAULT_BURST:
            text += f", burst={self.burst!r}"
        if self.store is not None:
            text += f", store={redacted_url(self.store)!r}"
        return f"RateLimit({text})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RateLimit) and (other.windows, other.burst, other.store) == (
            self.windows,
            self.burst,
            self.store,
        )

    def __hash__(self) -> int:
        return hash((self.windows, self.burst, self.store))


DEFAULT_RATE_LIMIT = RateLimit((60, KORE_WINDOW))


def redacted_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, fit for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:" if parts.username else ":"
    return parts._replace(netloc=f"{user}***@{netloc}").geturl()


def _check_store(store: object) -> None:
    if not isinstance(store, str):
        raise TypeError(
            f"store must be a Redis URL str such as 'redis://host:6379/0', not {store!r}"
        )
    scheme = urlsplit(store).scheme
    if scheme not in _STORE_SCHEMES:
        raise ValueError(
            f"store must be a Redis or Valkey URL (redis://, rediss://, unix://), such as "
            f"'redis://localhost:6379/0'; got {redacted_url(store)!r}"
        )


class _Window:
    """At most ``max_requests`` per ``seconds``: the answered requests still counted."""

    __slots__ = ("expiries", "max_requests", "seconds")

    def __init__(self, max_requests: int, seconds: float) -> None:
        self.max_requests = max_requests
        self.seconds = seconds
        # When each answered request stops counting, oldest first.
        self.expiries: deque[float] = deque()

    def held(self, now: float, in_flight: int) -> int:
        """Slots taken at ``now``: requests in flight and answered ones still counted."""
        while self.expiries and self.expiries[0] <= now:
            self.expiries.popleft()
        return in_flight + len(self.expiries)

    def wait(self, now: float, in_flight: int) -> float:
        """Seconds until one more request fits (``inf`` if only an answer can free one)."""
        excess = self.held(now, in_flight) - self.max_requests
        if excess < 0:
            return 0.0
        if excess < len(self.expiries):
            return self.expiries[excess] - now
        return math.inf


class Budget:
    """When the next request of one account may go, as this process knows it (see module docs).

    Every method takes the current time: the policy has no clock of its own. ``rate``
    ``None`` means no configured windows; a 429 then still pauses and teaches a number of
    requests per window, assuming Kore's rolling ``assumed_window``.
    """

    def __init__(self, rate: RateLimit | None, *, assumed_window: float = KORE_WINDOW) -> None:
        self.rate = rate
        self._windows = [_Window(n, s) for n, s in (rate.windows if rate else ())]
        # The per-minute window a 429 speaks of: the shortest configured one.
        self.window: float = min((w.seconds for w in self._windows), default=assumed_window)
        self._in_flight = 0
        self._due = -math.inf  # when the next paced request is due (its theoretical time)
        self.pause_until: float = -math.inf
        self._answered: deque[float] = deque()  # send times of answered requests, last window
        # This process's own requests over the 429's window; bounded only once learned.
        self._own = _Window(1, self.window)
        self._learning = False
        self._learned_at = 0.0

    @property
    def learned_max_requests(self) -> int | None:
        """Requests per window learned from 429s, when lower than the configured limit."""
        return self._own.max_requests if self._learning else None

    @property
    def interval(self) -> float:
        """Seconds between paced requests (0 when requests are not paced)."""
        interval = self.rate.interval if self.rate and self.rate.burst is not None else 0.0
        if self._learning:
            interval = max(interval, self._own.seconds / self._own.max_requests)
        return interval

    def wait(self, now: float) -> float:
        """Seconds until one more request may be sent (0: now)."""
        self._relax(now)
        waits = [self.pause_until - now]
        waits.extend(w.wait(now, self._in_flight) for w in self._windows)
        if self._learning:
            waits.append(self._own.wait(now, self._in_flight))
        burst = self._burst()
        if burst is not None:
            # A request may run up to burst - 1 slots ahead of the schedule; a late one
            # does not push the schedule back (delays do not add up over a pull).
            waits.append(self._due - (burst - 1) * self.interval - now)
        return max(0.0, *waits)

    def take(self, now: float) -> float:
        """Count a request sent at ``now``; returns its send time, for :meth:`release`."""
        self._in_flight += 1
        if self._burst() is not None:
            self._due = max(self._due, now) + self.interval
        return now

    def release(self, now: float, sent: float, *, answered: bool = True) -> None:
        """The request sent at ``sent`` is over at ``now``: its slots free a window later.

        ``answered`` is false for a 429: it holds its slot in the configured windows all
        the same (Kore may count it), but is not room the window had.
        """
        self._in_flight -= 1
        self._own.held(now, 0)  # drop what has expired: nothing else may look while not learning
        self._known(now)
        for window in self._windows:
            window.expiries.append(now + window.seconds)
        if answered:
            self._own.expiries.append(now + self._own.seconds)
            self._answered.append(sent)

    def cancel(self) -> None:
        """A request taken with :meth:`take` was never sent: its slot is free at once."""
        self._in_flight -= 1

    def rate_limited(self, now: float, retry_after: float | None, *, hourly: bool = False) -> float:
        """A 429 came at ``now``: pause every request, learn, and return the pause in seconds.

        ``retry_after`` is the server's ``Retry-After`` (trusted as it is); without it the
        pause lasts until the oldest request known in the window leaves it, or a whole
        window. ``hourly`` marks Kore's ``hourly rate limit`` message: an hour's pause.
        """
        if hourly:
            pause = retry_after if retry_after is not None else HOURLY_WINDOW
        elif retry_after is not None:
            pause = retry_after
        else:
            known = self._known(now)
            pause = known[0] + self.window - now if known else self.window
            if now >= self.pause_until:  # learn once per burst of 429s
                self._learn(now, len(known))
        self.pause_until = max(self.pause_until, now + pause)
        return max(0.0, self.pause_until - now)

    def _burst(self) -> int | None:
        """Requests that may go back to back (``None``: not paced)."""
        if self._learning:
            return 1
        return None if self.rate is None else self.rate.burst

    def _known(self, now: float) -> list[float]:
        """Send times of the answered requests still inside the window at ``now``."""
        while self._answered and self._answered[0] <= now - self.window:
            self._answered.popleft()
        return list(self._answered)

    def _learn(self, now: float, room: int) -> None:
        own = self._own
        ceiling = own.max_requests - 1 if self._learning else math.inf
        own.max_requests = int(max(1, min(ceiling, room)))
        self._learning = True
        self._learned_at = now

    def _relax(self, now: float) -> None:
        """One more request per window without a 429, up to the configured limit."""
        own = self._own
        if not self._learning or now - self._learned_at < own.seconds:
            return
        self._learned_at = now
        own.max_requests += 1
        configured = min((w.max_requests for w in self._windows), default=math.inf)
        if own.max_requests >= configured:
            self._learning = False
