"""OpenTelemetry: a pull span with a child span per request, and the client's metrics.

The SDK's in-memory span exporter and metric reader are installed as the global
providers once for this module (OpenTelemetry allows setting them once per process).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
from helpers import client_for
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from kore_cases import CaseFilter, RateLimit
from kore_cases.testing import FakeKoreServer

_EXPORTER = InMemorySpanExporter()
_READER = InMemoryMetricReader()
REQUEST_SPAN = "POST /caseManagement/api/public/analytics/{streamId}/getCases"


@pytest.fixture(scope="module", autouse=True)
def providers() -> None:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[_READER]))
    return


def metric_points() -> dict[str, list[Any]]:
    data = _READER.get_metrics_data()
    points: dict[str, list[Any]] = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            if scope.scope.name == "kore_cases":
                for metric in scope.metrics:
                    points.setdefault(metric.name, []).extend(metric.data.data_points)
    return points


def total(points: dict[str, list[Any]], name: str) -> float:
    return sum(point.value for point in points.get(name, []))


async def test_a_pull_with_a_retry_and_a_429_is_one_span_with_a_child_per_request() -> None:
    before = metric_points()
    _EXPORTER.clear()
    flt = CaseFilter(unresolved=True)
    async with FakeKoreServer(cases=300) as server:
        expected = server.case_ids(flt.to_body())
        url, endpoint = server.url, server.endpoint
        pages = -(-len(expected) // 100)
        assert pages >= 3
        server.schedule_faults(2, "503")
        server.schedule_faults(3, "429")
        # Three requests a second: some wait for the budget.
        budget = RateLimit((3, 1.0))
        async with client_for(server, page_size=100, concurrency=1, rate_limit=budget) as client:
            ids = [case.id async for case in client.iter_cases(flt)]
    assert ids == expected

    spans = _EXPORTER.get_finished_spans()
    (pull,) = [s for s in spans if s.name == "kore_cases.pull"]
    requests = [s for s in spans if s.name == REQUEST_SPAN]
    assert len(spans) == 1 + len(requests)
    assert pull.kind is SpanKind.INTERNAL
    assert pull.attributes is not None
    assert pull.attributes["kore_cases.filter.keys"] == ("unresolved",)
    assert pull.attributes["kore_cases.pages"] == pages
    assert pull.attributes["kore_cases.cases"] == len(expected)
    assert pull.attributes["kore_cases.requests"] == pages + 2
    assert pull.attributes["kore_cases.retries"] >= 1
    assert pull.attributes["kore_cases.rate_limited"] == 1
    assert pull.attributes["kore_cases.budget_wait"] > 0
    assert pull.status.status_code is StatusCode.UNSET

    assert pull.context is not None
    for span in requests:  # nested under the pull, in its trace
        assert span.parent is not None
        assert span.parent.span_id == pull.context.span_id
        assert span.context is not None
        assert span.context.trace_id == pull.context.trace_id
        assert span.kind is SpanKind.CLIENT
    # Whether a 429's second try counts as a retry is the budget's business: key the
    # spans by page and the order they started in, not by attempt number.
    in_order = sorted(requests, key=lambda span: span.start_time or 0)
    per_page: dict[int, list[Any]] = {}
    for span in in_order:
        per_page.setdefault(_key(span)[0], []).append(span.attributes)
    assert sorted(per_page) == list(range(1, pages + 1))
    assert [len(per_page[p]) for p in per_page] == [2 if p in (2, 3) else 1 for p in per_page]
    by_try = {(p, n + 1): attributes for p in per_page for n, attributes in enumerate(per_page[p])}
    first = by_try[(1, 1)]
    assert first is not None
    assert first["http.request.method"] == "POST"
    assert first["server.address"] == "127.0.0.1"
    assert first["server.port"] == int(url.rsplit(":", 1)[1])
    assert first["url.full"] == endpoint
    assert first["http.response.status_code"] == 200
    assert first["http.response.body.size"] > 0
    assert "http.request.resend_count" not in first
    failed = by_try[(2, 1)]
    assert failed is not None
    assert (failed["http.response.status_code"], failed["error.type"]) == (503, "503")
    again = by_try[(2, 2)]
    assert again is not None
    assert (again["http.request.resend_count"], again["http.response.status_code"]) == (1, 200)
    assert again["kore_cases.retry_delay"] >= 0
    limited = by_try[(3, 1)]
    assert limited is not None
    assert limited["http.response.status_code"] == 429
    after_429 = by_try[(3, 2)]
    assert after_429 is not None  # it waited out the 429's Retry-After: 1, one way or another
    assert after_429["kore_cases.budget_wait"] + after_429["kore_cases.retry_delay"] >= 1.0
    error_spans = [s for s in requests if s.status.status_code is StatusCode.ERROR]
    assert sorted(_key(s)[0] for s in error_spans) == [2, 3]

    after = metric_points()
    sent = pages + 2
    assert total(after, "kore_cases.requests") - total(before, "kore_cases.requests") == sent
    assert total(after, "kore_cases.rate_limited") - total(before, "kore_cases.rate_limited") == 1
    assert 1 <= total(after, "kore_cases.retries") - total(before, "kore_cases.retries") <= 2
    assert total(after, "kore_cases.budget.wait") > total(before, "kore_cases.budget.wait")
    durations = after["http.client.request.duration"]
    counted = sum(p.count for p in durations) - sum(
        p.count for p in before.get("http.client.request.duration", [])
    )
    assert counted == sent
    statuses = {p.attributes.get("http.response.status_code") for p in durations}
    assert {200, 429, 503} <= statuses


async def test_a_failed_pull_marks_its_span_as_an_error() -> None:
    _EXPORTER.clear()
    async with FakeKoreServer(cases=30) as server:
        server.schedule_faults(2, "500")
        async with client_for(server, page_size=10, max_retries=0) as client:
            with pytest.raises(Exception, match="HTTP 500"):
                [case async for case in client.iter_cases()]
    (pull,) = [s for s in _EXPORTER.get_finished_spans() if s.name == "kore_cases.pull"]
    assert pull.status.status_code is StatusCode.ERROR
    assert pull.attributes is not None
    assert pull.attributes["error.type"] == "ServerError"


async def test_a_one_page_call_has_a_request_span_without_a_pull() -> None:
    _EXPORTER.clear()
    async with FakeKoreServer(cases=5) as server, client_for(server) as client:
        await client.get_page()
    (span,) = _EXPORTER.get_finished_spans()
    assert span.name == REQUEST_SPAN
    assert span.parent is None


def test_without_opentelemetry_nothing_of_it_is_imported() -> None:
    program = textwrap.dedent(
        """
        import sys
        sys.modules["opentelemetry"] = None  # as if the otel extra were not installed
        import kore_cases
        client = kore_cases.CasesClient("https://kore.example.com", "st-1", "acct", "tok")
        loaded = [m for m in sys.modules if m.startswith("opentelemetry.")]
        assert not loaded, loaded
        assert "kore_cases._otel" not in sys.modules
        assert client._session.observer._telemetry is None
        """
    )
    subprocess.run([sys.executable, "-c", program], check=True, timeout=60)


def test_clients_record_into_one_set_of_instruments_made_once() -> None:
    """A fresh process: a client made before the meter provider is set, three after.
    Each instrument is created once (the SDK at our floor, 1.27, logs a warning for each
    one created again) and every client's counts reach the provider."""
    program = textwrap.dedent(
        """
        import logging
        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from kore_cases._otel import Telemetry

        logged = []
        class Keep(logging.Handler):
            def emit(self, record):
                logged.append(record.getMessage())
        logging.getLogger().addHandler(Keep())

        url = "http://127.0.0.1:1/caseManagement"
        early = Telemetry(url)
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        clients = [early, *(Telemetry(url) for _ in range(3))]
        for telemetry in clients:
            telemetry.retried()
        retries = [
            point.value
            for resource in reader.get_metrics_data().resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == "kore_cases.retries"
            for point in metric.data.data_points
        ]
        assert sum(retries) == 4, retries
        assert logged == [], logged
        """
    )
    subprocess.run([sys.executable, "-c", program], check=True, timeout=60)


def _key(span: ReadableSpan) -> tuple[int, int]:
    assert span.attributes is not None
    return (int(span.attributes["kore_cases.page"]), int(span.attributes["kore_cases.attempt"]))  # type: ignore[arg-type]
