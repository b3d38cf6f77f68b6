"""How the aiohttp transport keeps a body: a large one in a memory map, whatever its framing.

Pages of 1,000 cases are megabytes of JSON; kept as ``bytes`` they fragment the C heap
(see :mod:`kore_cases._body`). These tests hold the transport to the other half of the
bargain: a mapped body decodes to exactly what the server sent, by every framing (a
``Content-Length``, chunked, gzip), and a body that is cut short is retried like any
other cut answer.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import itertools
import mmap
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
from aiohttp import web
from helpers import ENDPOINT, page_payload, serve
from hypothesis import given
from hypothesis import strategies as st

from kore_cases import CasesClient, Request, ResponseTooLargeError, _body
from kore_cases._http import TransportError
from kore_cases._prefetch import pages_within
from kore_cases._transport import AiohttpTransport

BIG_CASES = [{"_id": f"c{i}", "name": "x" * 2000} for i in range(600)]  # ~1.2 MB of JSON


def big_page(page: int = 1) -> bytes:
    payload = msgspec.json.encode(page_payload(page, 600, BIG_CASES, 600, 1))
    assert len(payload) >= _body.MAPPED_MIN_BYTES
    return payload


def handler_for(framing: str, payload: bytes, cut_first: bool = False) -> Any:
    answered = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal answered
        answered += 1
        headers = {"Content-Type": "application/json"}
        if framing == "gzip":
            body = gzip.compress(payload)
            headers["Content-Encoding"] = "gzip"
            return web.Response(body=body, headers=headers)
        response = web.StreamResponse(headers=headers)
        if framing == "chunked":
            response.enable_chunked_encoding()
        else:
            response.content_length = len(payload)
        await response.prepare(request)
        if cut_first and answered == 1:
            await response.write(payload[: len(payload) // 2])
            assert request.transport is not None
            request.transport.close()  # the connection drops mid-body
            return response
        for start in range(0, len(payload), 100_000):
            await response.write(payload[start : start + 100_000])
        await response.write_eof()
        return response

    return handler


async def answer_of(framing: str, payload: bytes) -> Any:
    """The transport's :class:`Response` to one request answered with ``payload``."""
    transport = AiohttpTransport(connections=1, ssl=None, max_response_bytes=50_000_000)
    async with serve(handler_for(framing, payload)) as url:
        try:
            return await transport.send(
                Request(url + ENDPOINT, headers={}, body=b"{}", timeout=10.0)
            )
        finally:
            await transport.aclose()


@pytest.mark.parametrize("framing", ["length", "chunked", "gzip"])
async def test_a_large_body_is_a_memory_map_of_exactly_what_was_sent(framing: str) -> None:
    payload = big_page()
    response = await answer_of(framing, payload)
    assert isinstance(response.body, mmap.mmap)
    assert bytes(response.body) == payload


@pytest.mark.parametrize("framing", ["length", "chunked", "gzip"])
async def test_a_small_body_stays_bytes(framing: str) -> None:
    payload = msgspec.json.encode(page_payload())
    response = await answer_of(framing, payload)
    assert type(response.body) is bytes
    assert response.body == payload


@pytest.mark.parametrize("framing", ["length", "chunked", "gzip"])
async def test_cases_of_a_mapped_page_are_those_the_server_sent(framing: str) -> None:
    async with serve(handler_for(framing, big_page())) as url:
        client = CasesClient(url, "st-1", "acc", "tok", rate_limit=None, page_size=600)
        async with client:
            raw = await client.get_page(model=msgspec.Raw)
            cases = [case async for case in client.iter_cases()]
    assert [msgspec.json.decode(r) for r in raw.results] == BIG_CASES
    assert [(c.id, c.name) for c in cases] == [(c["_id"], c["name"]) for c in BIG_CASES]


@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_a_mapped_body_cut_short_is_retried(framing: str) -> None:
    async with serve(handler_for(framing, big_page(), cut_first=True)) as url:
        client = CasesClient(url, "st-1", "acc", "tok", rate_limit=None, page_size=600)
        async with client:
            page = await client.get_page()
    assert [c.id for c in page.results] == [c["_id"] for c in BIG_CASES]
    assert page.total_results == 600


def mapped_bodies(monkeypatch: pytest.MonkeyPatch) -> list[weakref.ref[mmap.mmap]]:
    """Weak references to every body the transport reads into a map from now on."""
    made: list[weakref.ref[mmap.mmap]] = []
    read = AiohttpTransport._read

    async def recording(self: AiohttpTransport, resp: Any) -> Any:
        body = await read(self, resp)
        if isinstance(body, mmap.mmap):
            made.append(weakref.ref(body))
        return body

    monkeypatch.setattr(AiohttpTransport, "_read", recording)
    return made


def page_cases(page: int) -> list[dict[str, str]]:
    return [{"_id": f"p{page}-{case['_id']}", "name": case["name"]} for case in BIG_CASES]


async def three_big_pages(request: web.Request) -> web.Response:
    page = (await request.json())["page"]
    payload = page_payload(page, 600, page_cases(page), 1800, 3)
    return web.Response(body=msgspec.json.encode(payload), content_type="application/json")


async def test_the_maps_of_a_pull_are_given_back_once_its_cases_are_consumed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    maps = mapped_bodies(monkeypatch)
    async with serve(three_big_pages) as url:
        client = CasesClient(url, "st-1", "acc", "tok", rate_limit=None, page_size=600)
        async with client:  # a long-lived client: open while the maps are looked at
            ids = [case.id async for case in client.iter_cases()]
            kept = (await client.get_page(page=2, model=msgspec.Raw)).results[-1]
            gc.collect()
            assert ids == [case["_id"] for page in (1, 2, 3) for case in page_cases(page)]
            # Nothing of the client keeps a map; a msgspec.Raw keeps its own, and reads it.
            assert [ref() is None for ref in maps] == [True, True, True, False]
            assert msgspec.json.decode(kept) == page_cases(2)[-1]
            del kept
            gc.collect()
            assert maps[-1]() is None


@asynccontextmanager
async def raw_answer(answer: bytes) -> AsyncIterator[str]:
    """A TCP server on 127.0.0.1 answering each request with ``answer`` verbatim."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(int(head.lower().split(b"content-length:")[1].split(b"\r")[0]))
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("status", [204, 304])
@pytest.mark.parametrize("limit", ["above", "below"])
async def test_a_status_that_has_no_body_is_answered_whatever_its_content_length(
    status: int, limit: str
) -> None:
    # RFC 9112 section 6.3: a 204 or 304 ends at its headers; a Content-Length there is
    # not a body to wait for, nor one to refuse (a 304 may announce the size of what it
    # did not send).
    announced = 3 * _body.MAPPED_MIN_BYTES
    head = f"HTTP/1.1 {status} X\r\nContent-Length: {announced}\r\n\r\n".encode()
    max_bytes = announced if limit == "above" else 1000
    transport = AiohttpTransport(connections=1, ssl=None, max_response_bytes=max_bytes)
    async with raw_answer(head) as url:
        try:
            response = await transport.send(
                Request(url + ENDPOINT, headers={}, body=b"{}", timeout=10.0)
            )
        finally:
            await transport.aclose()
    assert (response.status, response.body) == (status, b"")


@pytest.mark.parametrize("announced", [2**62, 2**63 - 1])
async def test_a_body_announced_beyond_what_can_be_mapped_is_a_typed_error(announced: int) -> None:
    # Within a max_response_bytes raised to "no limit", a Content-Length no address space
    # holds: the client's own error, not the OSError of a map that could not be made.
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {announced}\r\n\r\n{{".encode()
    async with raw_answer(head) as url:
        client = CasesClient(
            url, "st-1", "acc", "tok", rate_limit=None, max_response_bytes=2**63, max_retries=0
        )
        async with client:
            with pytest.raises(ResponseTooLargeError, match=f"announces {announced} bytes"):
                await client.get_page()


# -- the two ways of filling a map ---------------------------------------------------------


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted({c % (len(data) + 1) for c in cuts}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


async def stream(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@given(st.binary(min_size=1, max_size=2000), st.lists(st.integers(0, 2000), max_size=8))
async def test_read_into_map_holds_the_announced_bytes_in_order(
    data: bytes, cuts: list[int]
) -> None:
    body = await _body.read_into_map(stream(chunked(data, cuts)), len(data))
    assert body[:] == data


@given(st.binary(min_size=2, max_size=500), st.integers(1, 499))
async def test_read_into_map_refuses_a_body_of_another_length(data: bytes, missing: int) -> None:
    missing = min(missing, len(data) - 1)
    with pytest.raises(TransportError, match=r"cut short: \d+ of \d+ bytes"):
        await _body.read_into_map(stream([data[:-missing]]), len(data))
    with pytest.raises(TransportError, match=r"longer than the \d+ bytes it announced"):
        await _body.read_into_map(stream([data]), len(data) - missing)


@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=8))
def test_joined_is_the_chunks_in_order_bytes_below_the_threshold_a_map_above(
    data: bytes, cuts: list[int]
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_body, "MAPPED_MIN_BYTES", 1000)
        chunks = chunked(data, cuts)
        body = _body.joined(chunks, len(data))
    assert body[:] == data
    assert isinstance(body, mmap.mmap if len(data) >= 1000 else bytes)


# -- the prefetch window of large pages ----------------------------------------------------


async def test_a_pull_of_large_pages_fetches_ahead_only_what_fits_the_byte_cap() -> None:
    pages, size = 10, 600
    in_flight = peak = page_bytes = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal in_flight, peak, page_bytes
        page = (await request.json())["page"]
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.1)  # long enough for a wider window to show
        in_flight -= 1
        cases = [{"_id": f"p{page}-{i}", "name": "x" * 6000} for i in range(size)]
        body = msgspec.json.encode(page_payload(page, size, cases, pages * size, pages))
        page_bytes = len(body)  # ~3.6 MB
        return web.Response(body=body, content_type="application/json")

    async with serve(handler) as url:
        client = CasesClient(url, "st-1", "acc", "tok", rate_limit=None, page_size=size)
        async with client:
            ids = [case.id async for case in client.iter_cases()]
    assert len(ids) == len(set(ids)) == pages * size
    assert pages_within(8, page_bytes) < 8
    assert peak <= pages_within(8, page_bytes)
