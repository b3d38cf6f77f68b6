"""OpenTelemetry spans and metrics of pulls and requests (the ``otel`` extra).

Imported by :mod:`kore_cases._observe` only when ``opentelemetry`` is installed. The
tracer and meter are the application's (``trace.get_tracer``/``metrics.get_meter``):
without a configured provider they record nothing.

Spans: ``kore_cases.pull`` (INTERNAL) for each pull, with its filter keys and, at its
end, its pages, cases, requests, retries, 429s and seconds of budget wait; under it one
CLIENT span per request attempt, named ``POST {url.template}`` and following the HTTP
client semantic conventions (``http.request.method``, ``server.address``,
``server.port``, ``url.full``, ``url.template``, ``http.response.status_code``,
``http.request.resend_count``, ``error.type``) plus ``kore_cases.page``,
``kore_cases.attempt``, ``kore_cases.budget_wait``, ``kore_cases.retry_delay`` and
``http.response.body.size``. A one-page call's request span has no pull parent.

Metrics: counters ``kore_cases.requests``, ``kore_cases.rate_limited`` (429s),
``kore_cases.retries`` and ``kore_cases.budget.wait`` (seconds), and the semantic
conventions' ``http.client.request.duration`` histogram (seconds).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from ._stats import PullStats
from ._version import __version__
from ._wire import GET_CASES_PATH

__all__ = ["Telemetry"]

_TEMPLATE = GET_CASES_PATH.format(stream_id="{streamId}")


class _Instruments:
    """The counters and histogram, created once per process (see :func:`_instruments`)."""

    def __init__(self, meter: metrics.Meter) -> None:
        self.requests = meter.create_counter(
            "kore_cases.requests", unit="{request}", description="Request attempts sent"
        )
        self.rate_limited = meter.create_counter(
            "kore_cases.rate_limited", unit="{response}", description="429 answers received"
        )
        self.retries = meter.create_counter(
            "kore_cases.retries", unit="{retry}", description="Failed attempts tried again"
        )
        self.budget_wait = meter.create_counter(
            "kore_cases.budget.wait", unit="s", description="Seconds waited for the rate budget"
        )
        self.duration = meter.create_histogram(
            "http.client.request.duration", unit="s", description="Duration of HTTP requests"
        )


@functools.cache
def _instruments() -> _Instruments:
    """The one set of instruments every client records into.

    Each instrument is created once: older OpenTelemetry SDKs (1.27, our floor) log a
    WARNING for every instrument created again under the same name, which one set per
    client would cause. The global meter provider can be set only once, and instruments
    made before it is set are proxies that follow it, so once per process is once per
    provider.
    """
    return _Instruments(metrics.get_meter("kore_cases", __version__))


class Telemetry:
    """The tracer, meter and instruments of one client."""

    def __init__(self, url: str) -> None:
        self._tracer = trace.get_tracer("kore_cases", __version__)
        self._instruments = _instruments()
        parts = urlsplit(url)
        self._server: dict[str, Any] = {
            "http.request.method": "POST",
            "server.address": parts.hostname or "",
            "server.port": parts.port or (443 if parts.scheme == "https" else 80),
        }
        self._request_attributes = {**self._server, "url.full": url, "url.template": _TEMPLATE}
        self._name = f"POST {_TEMPLATE}"

    def start_pull(self, filter_keys: Sequence[str]) -> Span:
        """The span of a pull, started now."""
        return self._tracer.start_span(
            "kore_cases.pull",
            kind=SpanKind.INTERNAL,
            attributes={"kore_cases.filter.keys": list(filter_keys)},
        )

    def end_pull(self, span: Span, stats: PullStats, error: BaseException | None) -> None:
        """End a pull's span with what the pull did."""
        span.set_attributes(
            {
                "kore_cases.pages": stats.pages,
                "kore_cases.cases": stats.cases,
                "kore_cases.requests": stats.requests,
                "kore_cases.retries": stats.retries,
                "kore_cases.rate_limited": stats.rate_limited,
                "kore_cases.budget_wait": stats.throttled_seconds,
            }
        )
        if error is not None:
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()

    def start_request(
        self, pull: Span | None, page: int, attempt: int, budget_wait: float, retry_delay: float
    ) -> Span:
        """The span of one attempt, under its pull's span when there is one."""
        self._instruments.requests.add(1, self._server)
        if budget_wait > 0:
            self._instruments.budget_wait.add(budget_wait, self._server)
        attributes = {
            **self._request_attributes,
            "kore_cases.page": page,
            "kore_cases.attempt": attempt,
            "kore_cases.budget_wait": budget_wait,
            "kore_cases.retry_delay": retry_delay,
        }
        if attempt > 1:
            attributes["http.request.resend_count"] = attempt - 1
        context = trace.set_span_in_context(pull) if pull is not None else None
        return self._tracer.start_span(
            self._name, context=context, kind=SpanKind.CLIENT, attributes=attributes
        )

    def end_request(
        self,
        span: Span,
        status: int | None,
        size: int,
        elapsed: float,
        error: BaseException | None,
    ) -> None:
        """End an attempt's span and record its duration."""
        measured = dict(self._server)
        if status is not None:
            span.set_attribute("http.response.status_code", status)
            span.set_attribute("http.response.body.size", size)
            measured["http.response.status_code"] = status
            if status == 429:
                self._instruments.rate_limited.add(1, self._server)
        if error is not None:
            kind = str(status) if status is not None and status >= 400 else type(error).__name__
            span.set_attribute("error.type", kind)
            span.set_status(Status(StatusCode.ERROR, kind))
            measured["error.type"] = kind
        self._instruments.duration.record(elapsed, measured)
        span.end()

    def retried(self) -> None:
        """Count a retry."""
        self._instruments.retries.add(1, self._server)
