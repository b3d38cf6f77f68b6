"""A hostile server echoing the token, deep JSON, broken HTTP, names and certificates
that never work: each against a server the test starts on 127.0.0.1, port 0."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web
from helpers import serve

from kore_cases import (
    APIConnectionError,
    CasesClient,
    KoreCasesError,
    ResponseValidationError,
    ServerError,
    StaticToken,
)

# A token as a static one would be: long, and unlike anything else in the answers.
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJhcHBJZCI6ImNzLWhvc3RpbGUifQ.Zm9yZ2VkLXNpZ25hdHVyZS0xMjM0NTY3"
EMPTY_PAGE = b'{"results":[],"page":1,"limit":50,"hasMore":false,"totalPages":0,"totalResults":0}'


def _client(url: str, **options: Any) -> CasesClient:
    options.setdefault("rate_limit", None)
    options.setdefault("backoff_base", 0.0)
    return CasesClient(url, "st-1", "acc", StaticToken(TOKEN), **options)


def _echo_redirect(token: str) -> web.Response:
    return web.Response(status=302, headers={"Location": f"https://evil.example/?t={token}"})


def _echo_html_200(token: str) -> web.Response:
    return web.Response(status=200, text=f"<html>you sent {token}</html>")


def _echo_500_cut_mid_token(token: str) -> web.Response:
    # The body ends inside the token, as a proxy that truncates bodies would send it;
    # padded so that the server message is cut near the token too.
    return web.Response(status=500, text="x" * 250 + f" auth={token[:60]}")


def _echo_500_json(token: str) -> web.Response:
    return web.json_response({"errors": [{"msg": f"bad token {token}", "code": 1}]}, status=500)


# Bodies past the 1 MiB from which the default transport keeps them in a memory map.
def _echo_html_200_mapped(token: str) -> web.Response:  # a Content-Length: read into a map
    return web.Response(status=200, text=f"<html>you sent {token}{' ' * 2_000_000}{token}</html>")


def _echo_503_json_mapped(token: str) -> web.Response:  # gzip: read in chunks, joined into a map
    payload = {"errors": [{"msg": f"bad token {token}", "code": 1}], "pad": "x" * 2_000_000}
    # Compressed here: aiohttp 3.9 (our floor) warns when it compresses a large body
    # itself, and pytest's -W error turns that into a dropped connection.
    body = gzip.compress(json.dumps(payload).encode())
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    return web.Response(status=503, body=body, headers=headers)


@pytest.mark.parametrize(
    "answer",
    [
        _echo_redirect,
        _echo_html_200,
        _echo_500_cut_mid_token,
        _echo_500_json,
        _echo_html_200_mapped,
        _echo_503_json_mapped,
    ],
    ids=[
        "redirect-location",
        "non-json-200",
        "500-cut-mid-token",
        "500-json-msg",
        "non-json-200-mapped",
        "503-json-msg-gzip-mapped",
    ],
)
async def test_an_echoed_token_reaches_no_error_and_no_log(
    answer: Callable[[str], web.Response], caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return answer(request.headers["auth"])

    caplog.set_level(logging.DEBUG, logger="kore_cases")
    async with serve(handler) as url, _client(url, max_retries=1) as client:
        with pytest.raises(KoreCasesError) as caught:
            await client.get_page()
    texts = [str(caught.value), repr(caught.value), repr(vars(caught.value))]
    texts += [record.getMessage() for record in caplog.records]
    haystack = "\n".join(texts)
    assert "***" in str(caught.value)
    # Not the token, and no piece of it beyond the public JOSE header.
    for start in range(len("eyJhbGciOiJIUzI1NiJ9."), len(TOKEN) - 8):
        assert TOKEN[start : start + 8] not in haystack


@asynccontextmanager
async def raw_server(answer: bytes) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP server on 127.0.0.1 that reads the request and answers ``answer`` verbatim."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer.replace(b"TOKEN", TOKEN.encode()))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", connections
    finally:
        server.close()
        await server.wait_closed()


async def test_a_malformed_status_line_shows_neither_its_bytes_nor_the_token() -> None:
    answer = b'HTTP/1.1 2x0 TOKEN {"name":"Jane Doe","phone":"555-0100"}\r\n\r\n'
    async with raw_server(answer) as (url, _), _client(url, max_retries=0) as client:
        with pytest.raises(APIConnectionError, match="malformed HTTP response") as caught:
            await client.get_page()
    text = str(caught.value)
    assert "Jane" not in text
    assert "555-0100" not in text
    assert TOKEN[30:50] not in text


async def test_deeply_nested_json_is_an_error_with_the_page() -> None:
    nested = b"[" * 200_000 + b"]" * 200_000

    async def handler(request: web.Request) -> web.Response:
        page = (await request.json())["page"]
        answer = {"page": page, "limit": 1, "hasMore": True, "totalPages": 3, "totalResults": 3}
        if page == 1:
            return web.json_response({**answer, "results": [{"_id": "c-1"}]})
        body = b'{"junk":' + nested + b"," + json.dumps({**answer, "results": []})[1:].encode()
        return web.Response(body=body, content_type="application/json")

    async with serve(handler) as url, _client(url) as client:
        with pytest.raises(ResponseValidationError, match="too deeply") as caught:
            await client.get_page(page=2)
        assert caught.value.page == 2
        seen = []
        with pytest.raises(ResponseValidationError, match="too deeply") as pulled:
            async for case in client.iter_cases(ordered=True):
                seen.append(case.id)
    assert seen == ["c-1"]
    assert pulled.value.page == 2
    assert pulled.value.resume_page == 2


async def test_a_503_with_deeply_nested_json_is_retried() -> None:
    calls: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(1)
        if len(calls) == 1:
            return web.Response(status=503, body=b"[" * 200_000 + b"]" * 200_000)
        return web.Response(body=EMPTY_PAGE, content_type="application/json")

    async with serve(handler) as url, _client(url, max_retries=2) as client:
        page = await client.get_page()
    assert page.total_results == 0
    assert len(calls) == 2


async def test_a_503_with_deeply_nested_json_that_persists_is_a_server_error() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=503, body=b"[" * 200_000 + b"]" * 200_000)

    async with serve(handler) as url, _client(url, max_retries=1) as client:
        with pytest.raises(ServerError, match="HTTP 503") as caught:
            await client.get_page(page=3)
    assert caught.value.page == 3


async def test_a_name_that_does_not_resolve_fails_at_once_naming_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lookups: list[str] = []

    def no_dns(host: Any, *args: Any, **kwargs: Any) -> Any:
        lookups.append(str(host))
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    client = CasesClient("https://kore.example.invalid", "st-1", "acc", "tok", backoff_base=5.0)
    async with client:
        with pytest.raises(APIConnectionError) as caught:
            await client.get_page()
    assert lookups == ["kore.example.invalid"]  # one attempt, no retry after 5 s
    assert "kore.example.invalid" in str(caught.value)
    assert "host=" in str(caught.value)


async def test_a_certificate_that_does_not_verify_fails_at_once_naming_ssl() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    calls: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(1)
        return web.Response(body=EMPTY_PAGE, content_type="application/json")

    starts: list[int] = []

    async def on_start(session: Any, ctx: Any, params: Any) -> None:
        starts.append(1)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with serve(handler, ssl_context=server_context) as url:
        client = CasesClient(
            url, "st-1", "acc", "tok", rate_limit=None, backoff_base=5.0, trace_configs=[trace]
        )
        async with client:
            with pytest.raises(APIConnectionError) as caught:
                await client.get_page()
    assert starts == [1]  # one attempt, no retry after 5 s
    assert calls == []
    assert "127.0.0.1" in str(caught.value)
    assert "ssl=" in str(caught.value)
