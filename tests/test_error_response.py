"""Status errors carry the response: Kore's error list, headers without secrets, a request id."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from helpers import serve

from kore_cases import (
    APIStatusError,
    AuthenticationError,
    CasesClient,
    ErrorDetail,
    JwtAuth,
    RateLimitError,
    ServerError,
)

SECRET = "a-client-secret-long-enough-for-hs256-0123456789"


def client_of(url: str) -> CasesClient:
    return CasesClient(
        url, "st-1", "acct-1", JwtAuth("cs-1", SECRET), rate_limit=None, max_retries=0
    )


async def test_401_keeps_kores_error_list_headers_and_request_id() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(
            {"errors": [{"msg": "Invalid SDK credentials", "code": 4002}]},
            status=401,
            headers={"X-Request-Id": "req-7f3a", "Set-Cookie": "session=abc; HttpOnly"},
        )

    async with serve(handler) as url, client_of(url) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.get_page()
    error = info.value
    assert error.status_code == 401
    assert error.errors == (ErrorDetail(msg="Invalid SDK credentials", code=4002),)
    assert error.request_id == "req-7f3a"
    assert error.headers["x-request-id"] == error.headers["X-REQUEST-ID"] == "req-7f3a"
    assert error.headers["Content-Type"].startswith("application/json")
    assert error.headers["Set-Cookie"] == "***"


async def test_the_token_echoed_back_is_cut_out_everywhere() -> None:
    async def handler(request: web.Request) -> web.Response:
        token = request.headers["auth"]
        return web.json_response(
            {"errors": [{"msg": f"bad token {token}", "code": "E_AUTH"}]},
            status=500,
            headers={"X-Echo": f"got {token}", "Authorization": f"Bearer {token}"},
        )

    async with serve(handler) as url, client_of(url) as client:
        with pytest.raises(ServerError) as info:
            await client.get_page()
    error = info.value
    assert error.errors == (ErrorDetail(msg="bad token ***", code="E_AUTH"),)
    assert error.headers["X-Echo"] == "got ***"
    assert error.headers["Authorization"] == "***"
    shown = " ".join([str(error), repr(error), repr(error.headers), repr(error.errors)])
    assert "eyJ" not in shown  # no JWT in any form
    assert SECRET not in shown


async def test_429_carries_the_same_and_retry_after() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(
            {"errors": [{"msg": "You've exceeded the per-minute rate limit.", "code": 429}]},
            status=429,
            headers={"Retry-After": "600", "X-Correlation-Id": "corr-1"},
        )

    async with serve(handler) as url, client_of(url) as client:
        with pytest.raises(RateLimitError) as info:
            await client.get_page()
    error = info.value
    assert (error.retry_after, error.request_id) == (600.0, "corr-1")
    assert error.errors[0].code == 429


@pytest.mark.parametrize(
    "body",
    [
        b"<html>502 Bad Gateway</html>",
        b'{"message": "no list here"}',
        b'{"errors": "not a list"}',
        b"",
    ],
)
async def test_a_body_without_kores_list_gives_an_empty_one(body: bytes) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, status=404)

    async with serve(handler) as url, client_of(url) as client:
        with pytest.raises(APIStatusError) as info:
            await client.get_page()
    assert info.value.errors == ()
    assert info.value.request_id is None


def test_errors_are_built_whole_by_their_constructor() -> None:
    error = RateLimitError(
        "HTTP 429",
        errors=[ErrorDetail("slow down", 429)],
        headers={"Retry-After": "1"},
        request_id="r-1",
        retry_after=1.0,
    )
    assert (error.errors, dict(error.headers), error.request_id) == (
        (ErrorDetail("slow down", 429),),
        {"Retry-After": "1"},
        "r-1",
    )
    assert error.headers["retry-after"] == "1"
    assert json.dumps(dict(error.headers))
