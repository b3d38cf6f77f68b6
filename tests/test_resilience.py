"""Faults, rate limits, hostile answers, TLS and secrets, against real local servers."""

from __future__ import annotations

import logging
import ssl
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web
from helpers import client_for, pull_ids, serve

from kore_cases import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    CasesClient,
    JwtAuth,
    KoreCasesError,
    RateLimit,
    RateLimiter,
    RateLimitError,
    ResponseTooLargeError,
    ResponseValidationError,
    ServerError,
    StaticToken,
)
from kore_cases.testing import FakeKoreServer

# -- faults -------------------------------------------------------------------------------


async def test_full_pull_under_every_fault_yields_each_id_once() -> None:
    async with (
        FakeKoreServer(cases=1000, seed=11, slow_seconds=5.0) as srv,
        client_for(srv, page_size=50, concurrency=4, max_retries=3, timeout=0.5) as client,
    ):
        schedule = {
            2: ["500"],
            3: ["502", "503"],
            5: ["504"],
            6: ["429"],
            8: ["reset"],
            9: ["truncated"],
            11: ["nonjson", "nonjson"],
            13: ["slow"],
            15: ["500", "reset", "truncated"],
            1: ["503"],
        }
        for page, faults in schedule.items():
            srv.schedule_faults(page, *faults)
        cases = client.iter_cases()
        ids = [case.id async for case in cases]
        assert ids == srv.case_ids()
        for page, faults in schedule.items():
            assert srv.stats.attempts_per_page[page] == len(faults) + 1, page
        assert max(srv.stats.attempts_per_page.values()) <= 1 + 3
        assert cases.stats.retries == sum(len(f) for f in schedule.values())


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        ("503", ServerError),
        ("reset", APIConnectionError),
        ("truncated", APIConnectionError),
        ("nonjson", APIConnectionError),
        ("slow", APITimeoutError),
    ],
)
async def test_a_page_that_keeps_failing_names_page_cause_and_resume(
    fault: str, error_type: type[KoreCasesError]
) -> None:
    async with (
        FakeKoreServer(cases=500, seed=2, slow_seconds=5.0) as srv,
        client_for(srv, page_size=50, concurrency=3, max_retries=2, timeout=0.3) as client,
    ):
        srv.schedule_faults(4, fault, fault, fault)
        got: list[str] = []
        with pytest.raises(error_type) as caught:
            async for case in client.iter_cases():
                got.append(case.id)
        error = caught.value
        assert error.page == 4
        assert error.resume_page == 4
        assert "page 4" in str(error)
        assert "gave up after 3 attempts" in str(error)
        assert srv.stats.attempts_per_page[4] == 3
        got += await pull_ids(client, start_page=error.resume_page)
        assert got == srv.case_ids()


# -- rate limits and Retry-After ----------------------------------------------------------


async def test_known_rate_limit_is_never_exceeded() -> None:
    async with (
        FakeKoreServer(cases=1500, rate_limits=[(10, 0.5)], latency=0.005) as srv,
        client_for(srv, page_size=50, concurrency=8, rate_limit=RateLimit((10, 0.5))) as client,
    ):
        cases = client.iter_cases()
        ids = [case.id async for case in cases]
        assert ids == srv.case_ids()
        assert srv.stats.rate_limited == 0
        assert cases.stats.rate_limit_waits > 0


async def test_unknown_rate_limit_backs_off_without_a_retry_storm() -> None:
    async with (
        FakeKoreServer(cases=1500, rate_limits=[(10, 0.5)], latency=0.005) as srv,
        # No limit configured; a 429 (without Retry-After) assumes a 0.5 s rolling window.
        client_for(
            srv, page_size=50, concurrency=8, rate_limit=RateLimiter(None, assumed_window=0.5)
        ) as client,
    ):
        cases = client.iter_cases()
        ids = [case.id async for case in cases]
        assert ids == srv.case_ids()
        assert cases.stats.rate_limited == srv.stats.rate_limited > 0
        # A retry storm would send several rejected requests per admitted one.
        assert srv.stats.rate_limited <= srv.stats.statuses[200]


async def test_retry_after_beyond_the_cap_raises_rate_limit_error() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(
            {"errors": [{"msg": "Rate limit for this API has been reached", "code": 429}]},
            status=429,
            headers={"Retry-After": "3600"},
        )

    async with serve(handler) as url:
        client = CasesClient(url, "st-1", "acc", StaticToken("tok"), rate_limit=None)
        async with client:
            with pytest.raises(RateLimitError) as caught:
                await client.get_page()
    assert caught.value.retry_after == 3600
    assert "max_retry_after" in str(caught.value)


@pytest.mark.parametrize(("status", "kind"), [(429, RateLimitError), (503, ServerError)])
async def test_a_retry_after_too_large_for_a_float_is_not_waited_for(
    status: int, kind: type[Exception]
) -> None:
    calls: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(1)
        return web.Response(status=status, headers={"Retry-After": "1e400"}, text="busy")

    async with (
        serve(handler) as url,
        CasesClient(url, "st-1", "acc", "tok", rate_limit=None, backoff_base=0.0) as client,
    ):
        with pytest.raises(kind, match="beyond max_retry_after") as caught:
            await client.get_page()
    assert calls == [1]
    assert getattr(caught.value, "retry_after", float("inf")) == float("inf")


# -- hostile answers ----------------------------------------------------------------------


async def test_too_large_body_is_refused_without_reading_it() -> None:
    body = b'{"results": [' + b" " * 5_000_000 + b"]}"

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()  # no Content-Length: the client must count
        await response.prepare(request)
        for start in range(0, len(body), 65536):
            await response.write(body[start : start + 65536])
        await response.write_eof()
        return response

    async with serve(handler) as url:
        client = CasesClient(
            url, "st-1", "acc", "tok", rate_limit=None, max_response_bytes=1_000_000
        )
        async with client:
            with pytest.raises(ResponseTooLargeError) as caught:
                await client.get_page()
    assert caught.value.page == 1
    assert isinstance(caught.value, ResponseValidationError)


@pytest.mark.parametrize(
    ("payload", "json_path"),
    [
        (
            b'{"results": {"a": 1}, "page": 1, "limit": 50, "hasMore": false, '
            b'"totalPages": 1, "totalResults": 1}',
            "$.results",
        ),
        (
            b'{"results": [{"_id": "ci-1"}, {"name": "no id"}], "page": 1, "limit": 50, '
            b'"hasMore": false, "totalPages": 1, "totalResults": 2}',
            "$.results[1]",
        ),
        (
            b'{"results": [{"_id": "ci-1", "createdAt": "yesterday"}], "page": 1, "limit": 50, '
            b'"hasMore": false, "totalPages": 1, "totalResults": 1}',
            "$.results[0].createdAt",
        ),
    ],
)
async def test_wrong_shape_names_page_and_json_path(payload: bytes, json_path: str) -> None:
    requests = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal requests
        requests += 1
        return web.Response(body=payload, content_type="application/json")

    async with (
        serve(handler) as url,
        CasesClient(url, "st-1", "acc", "tok", rate_limit=None) as client,
    ):
        with pytest.raises(ResponseValidationError) as caught:
            async for _case in client.iter_cases():
                pass
    assert caught.value.json_path == json_path
    assert caught.value.page == 1
    assert requests == 1, "a wrong shape is not retried"


async def test_absurd_total_pages_allocates_nothing_proportional() -> None:
    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        page = body["page"]
        results = [{"_id": f"ci-{page}-{i}"} for i in range(2)]
        return web.json_response(
            {
                "results": results,
                "page": page,
                "limit": 2,
                "hasMore": True,
                "totalPages": 10**9,
                "totalResults": 2 * 10**9,
            }
        )

    async with (
        serve(handler) as url,
        CasesClient(url, "st-1", "acc", "tok", rate_limit=None, concurrency=4) as client,
    ):
        cases = client.iter_cases(max_items=40)
        ids = [case.id async for case in cases]
    assert len(ids) == len(set(ids)) == 40
    assert cases.stats.requests <= 20 + 4


async def test_has_more_beyond_total_pages_keeps_going_until_an_empty_page() -> None:
    """totalPages is a plan; a full last page with hasMore means there is more."""
    pages = {1: 2, 2: 2, 3: 1}

    async def handler(request: web.Request) -> web.Response:
        page = (await request.json())["page"]
        count = pages.get(page, 0)
        return web.json_response(
            {
                "results": [{"_id": f"ci-{page}-{i}"} for i in range(count)],
                "page": page,
                "limit": 2,
                "hasMore": count == 2,
                "totalPages": 1,
                "totalResults": 2,
            }
        )

    async with (
        serve(handler) as url,
        CasesClient(url, "st-1", "acc", "tok", rate_limit=None) as client,
    ):
        ids = [case.id async for case in client.iter_cases()]
    assert ids == ["ci-1-0", "ci-1-1", "ci-2-0", "ci-2-1", "ci-3-0"]


# -- TLS ----------------------------------------------------------------------------------


async def test_tls_needs_the_right_ca_and_works_with_ssl_context() -> None:
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "results": [],
                "page": 1,
                "limit": 50,
                "hasMore": False,
                "totalPages": 0,
                "totalResults": 0,
            }
        )

    async with serve(handler, ssl_context=server_context) as url:
        assert url.startswith("https://")
        async with CasesClient(url, "st-1", "acc", "tok", rate_limit=None, max_retries=0) as plain:
            with pytest.raises(APIConnectionError, match=r"(?i)certificate"):
                await plain.get_page()
        async with CasesClient(
            url, "st-1", "acc", "tok", rate_limit=None, ssl=client_context
        ) as ok:
            assert (await ok.get_page()).total_results == 0


# -- secrets, logs and traces -------------------------------------------------------------


async def test_secrets_never_leak_into_logs_reprs_or_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "s3cr3t-" + "x" * 40
    tokens: list[str] = []

    async def on_start(session: Any, ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        tokens.append(params.headers["auth"])

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    options: dict[str, Any] = {
        "rate_limit": None,
        "backoff_base": 0.0,
        "max_retries": 2,
        "trace_configs": [trace],
    }
    captured: list[BaseException] = []
    texts: list[str] = []
    async with FakeKoreServer(cases=300, client_secret=secret) as srv:
        wrong = JwtAuth(srv.client_id, "not-the-" + secret)
        right = JwtAuth(srv.client_id, secret)
        static = StaticToken(srv.make_token())
        tokens.append(static.token())
        with caplog.at_level(logging.DEBUG):
            for auth in (wrong, right, static):
                srv.schedule_faults(2, "500", "500", "500")
                client = CasesClient(srv.url, srv.stream_id, srv.account_id, auth, **options)
                async with client:
                    with pytest.raises(KoreCasesError) as caught:
                        await pull_ids(client, start_page=1 if auth is wrong else 2)
                captured.append(caught.value)
                texts += [repr(client), str(client), repr(auth), str(auth)]
        texts += [r.getMessage() for r in caplog.records]
        texts += [str(r.args) for r in caplog.records]
    for exc in captured:
        texts += _exception_texts(exc)
    assert [type(e) for e in captured] == [AuthenticationError, ServerError, ServerError]
    assert len(tokens) >= 7, "the tokens sent were not all captured"
    haystack = "\n".join(texts)
    assert "HTTP 500" in haystack
    assert "HTTP 401" in haystack
    for needle in [secret, *tokens]:
        assert needle not in haystack


def _exception_texts(exc: BaseException | None) -> list[str]:
    texts: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        texts += [str(exc), repr(exc), *map(repr, exc.args), repr(vars(exc))]
        exc = exc.__cause__ or exc.__context__
    return texts


async def test_debug_log_has_a_line_per_attempt_and_info_stays_quiet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with (
        FakeKoreServer(cases=200) as srv,
        client_for(srv, page_size=50, concurrency=2) as client,
    ):
        srv.schedule_faults(2, "503")
        with caplog.at_level(logging.DEBUG, logger="kore_cases"):
            await pull_ids(client)
    records = [r for r in caplog.records if r.name == "kore_cases"]
    attempts = [r.getMessage() for r in records if "attempt" in r.getMessage()]
    assert any("page 2 attempt 1: HTTP 503" in m for m in attempts), attempts
    assert any("page 2 attempt 2: HTTP 200" in m for m in attempts), attempts
    assert any("retrying in" in m for m in attempts)
    assert not [r for r in records if r.levelno == logging.INFO]


async def test_trace_configs_see_every_request() -> None:
    started: list[str] = []

    async def on_start(session: Any, ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        started.append(str(params.url))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with (
        FakeKoreServer(cases=120) as srv,
        client_for(srv, page_size=50, trace_configs=[trace]) as client,
    ):
        await pull_ids(client)
    assert len(started) == 3
    assert all(url.endswith("/getCases") for url in started)
