"""Event hooks: small typed records of what the client does, for your metrics and progress.

::

    from kore_cases import CasesClient
    from kore_cases.hooks import Hooks, ResponseEvent

    def count_status(event: ResponseEvent) -> None:
        statuses[event.status] += 1

    client = CasesClient(..., hooks=Hooks(on_response=count_status, on_page=show_progress))

Each hook is a plain function called on the client's event loop as the event happens,
with one record; it should return quickly (hand slow work to a queue). A hook that
raises does not break the request or the pull: the first failure of each hook is
logged as a WARNING with its traceback on the ``kore_cases`` logger, later ones at
DEBUG.

Records:

* :class:`RequestEvent`: an attempt is about to be sent (after any wait for the budget).
* :class:`ResponseEvent`: an attempt ended: its HTTP status (``None`` when no answer
  came), the body's size, the time it took, and the error it gave, if any.
* :class:`RetryEvent`: a failed attempt will be tried again after ``delay`` seconds.
* :class:`ThrottleEvent`: an attempt waited for the account's rate budget or a pause
  after a 429 before it could be sent.
* :class:`PageEvent`: a pull handed a page to its consumer (for progress bars).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ._stats import PullStats
from .errors import KoreCasesError

__all__ = [
    "Hooks",
    "PageEvent",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "ThrottleEvent",
]


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """An attempt is about to be sent.

    ``attempt`` counts from 1 for each page; ``budget_wait`` is the seconds it waited
    for the rate budget (or a 429 pause) and ``retry_delay`` the backoff slept before
    it (0 for a first attempt).
    """

    page: int
    attempt: int
    budget_wait: float
    retry_delay: float


@dataclass(frozen=True, slots=True)
class ResponseEvent:
    """An attempt ended: ``status`` is the HTTP status, ``None`` when no answer came.

    ``size`` is the body's length in bytes, ``elapsed`` the seconds from sending to the
    last byte, ``error`` what the attempt failed with (``None`` for a usable page; a
    :class:`~kore_cases.KoreCasesError`, or ``CancelledError`` when it was stopped).
    """

    page: int
    attempt: int
    status: int | None
    size: int
    elapsed: float
    error: BaseException | None


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """The failed ``attempt`` of ``page`` will be tried again after ``delay`` seconds."""

    page: int
    attempt: int
    delay: float
    error: KoreCasesError


@dataclass(frozen=True, slots=True)
class ThrottleEvent:
    """An attempt waited ``waited`` seconds for the rate budget or a 429 pause."""

    page: int
    attempt: int
    waited: float


@dataclass(frozen=True, slots=True)
class PageEvent:
    """A pull handed ``page`` (``cases`` cases) to its consumer.

    ``total_results`` is the server's count as the pages so far agree on it, and
    ``stats`` the pull's live counters.
    """

    page: int
    cases: int
    total_results: int | None
    stats: PullStats


@dataclass(frozen=True, slots=True)
class Hooks:
    """The functions to call on each event; leave out the ones you do not need."""

    on_request: Callable[[RequestEvent], object] | None = None
    on_response: Callable[[ResponseEvent], object] | None = None
    on_retry: Callable[[RetryEvent], object] | None = None
    on_throttle: Callable[[ThrottleEvent], object] | None = None
    on_page: Callable[[PageEvent], object] | None = None

    def __post_init__(self) -> None:
        for name in ("on_request", "on_response", "on_retry", "on_throttle", "on_page"):
            hook = getattr(self, name)
            if hook is not None and not callable(hook):
                raise TypeError(f"{name} must be a function taking one event, not {hook!r}")
