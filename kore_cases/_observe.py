"""The one seam where the request path and the pulls report what they do.

:class:`Observer` turns each event into a call of the user's :class:`~kore_cases.hooks.Hooks`
and, when the ``otel`` extra is installed, into OpenTelemetry spans and metrics
(:mod:`kore_cases._otel`, imported only then). The fetcher calls :meth:`request`,
:meth:`response` and :meth:`retry`; a pull calls :meth:`pull_started`, :meth:`page`
and :meth:`pull_finished`. With no hooks and no OpenTelemetry each call returns at once.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._http import Response
from ._stats import PullStats
from .errors import KoreCasesError
from .hooks import Hooks, PageEvent, RequestEvent, ResponseEvent, RetryEvent, ThrottleEvent

if TYPE_CHECKING:
    from ._otel import Telemetry

__all__ = ["NULL_OBSERVER", "Attempt", "Observer", "otel_available"]

logger = logging.getLogger("kore_cases")

E = TypeVar("E")


def otel_available() -> bool:
    """Whether the OpenTelemetry API is installed (the ``otel`` extra)."""
    return importlib.util.find_spec("opentelemetry") is not None


class Attempt:
    """One attempt in flight, from :meth:`Observer.request` to :meth:`Observer.response`."""

    __slots__ = ("attempt", "page", "span", "started")

    page: int
    attempt: int
    span: Any
    """The attempt's OpenTelemetry span, or ``None``."""
    started: float

    def __init__(self, page: int, attempt: int, span: Any) -> None:
        self.page = page
        self.attempt = attempt
        self.span = span
        self.started = time.monotonic()


class Observer:
    """Reports events to hooks and OpenTelemetry; see the module documentation."""

    def __init__(self, hooks: Hooks | None, *, url: str, telemetry: bool | None = None) -> None:
        self._hooks = hooks or Hooks()
        self._failed: set[str] = set()  # hooks whose first failure was logged
        self._telemetry: Telemetry | None = None
        if telemetry if telemetry is not None else otel_available():
            from ._otel import Telemetry

            self._telemetry = Telemetry(url)
        self._pulls: dict[int, Any] = {}  # id(stats) -> the pull's span, while it runs

    # -- pulls ----------------------------------------------------------------------

    def pull_started(self, stats: PullStats, filter_body: Mapping[str, Any]) -> None:
        """A pull began; its requests are reported under it until it finishes."""
        if self._telemetry is not None:
            self._pulls[id(stats)] = (stats, self._telemetry.start_pull(sorted(filter_body)))

    def pull_finished(self, stats: PullStats, error: BaseException | None = None) -> None:
        """A pull ended (exhausted, closed, failed or dropped); safe to call again."""
        entry = self._pulls.pop(id(stats), None)
        if entry is not None and self._telemetry is not None:
            self._telemetry.end_pull(entry[1], stats, error)

    def page(self, stats: PullStats, page: int, cases: int, total: int | None) -> None:
        """A pull handed a page to its consumer."""
        if self._hooks.on_page is not None:
            self._call("on_page", self._hooks.on_page, PageEvent(page, cases, total, stats))

    # -- requests -------------------------------------------------------------------

    def request(
        self, stats: PullStats, page: int, attempt: int, budget_wait: float, retry_delay: float
    ) -> Attempt:
        """An attempt is about to be sent; pass what this returns to :meth:`response`."""
        hooks = self._hooks
        if budget_wait > 0 and hooks.on_throttle is not None:
            self._call("on_throttle", hooks.on_throttle, ThrottleEvent(page, attempt, budget_wait))
        if hooks.on_request is not None:
            event = RequestEvent(page, attempt, budget_wait, retry_delay)
            self._call("on_request", hooks.on_request, event)
        span = None
        if self._telemetry is not None:
            entry = self._pulls.get(id(stats))
            span = self._telemetry.start_request(
                entry[1] if entry is not None else None, page, attempt, budget_wait, retry_delay
            )
        return Attempt(page, attempt, span)

    def response(self, sent: Attempt, answer: Response | None, error: BaseException | None) -> None:
        """The attempt ``sent`` ended with ``answer`` (``None``: none came) or ``error``."""
        elapsed = time.monotonic() - sent.started
        status = answer.status if answer is not None else None
        size = len(answer.body) if answer is not None else 0
        if self._telemetry is not None:
            self._telemetry.end_request(sent.span, status, size, elapsed, error)
        if self._hooks.on_response is not None:
            event = ResponseEvent(sent.page, sent.attempt, status, size, elapsed, error)
            self._call("on_response", self._hooks.on_response, event)

    def retry(self, page: int, attempt: int, delay: float, error: KoreCasesError) -> None:
        """The failed ``attempt`` will be tried again after ``delay`` seconds."""
        if self._telemetry is not None:
            self._telemetry.retried()
        if self._hooks.on_retry is not None:
            self._call("on_retry", self._hooks.on_retry, RetryEvent(page, attempt, delay, error))

    def _call(self, name: str, hook: Callable[[E], object], event: E) -> None:
        try:
            hook(event)
        except Exception:
            if name in self._failed:
                logger.debug("the %s hook raised again", name, exc_info=True)
            else:
                self._failed.add(name)
                logger.warning(
                    "the %s hook raised; the client goes on without it for this event "
                    "(later failures of this hook are logged at DEBUG)",
                    name,
                    exc_info=True,
                )


NULL_OBSERVER = Observer(None, url="", telemetry=False)
"""Reports nothing: for fetchers built without a client (tests, tools)."""
