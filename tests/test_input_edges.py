"""Input at the edges: hosts with bad ports or control characters, Retry-After too large
for a float, and dates sent in the form Kore documents."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from aiohttp import web
from helpers import serve

from kore_cases import CaseFilter, CasesClient, RateLimitError, ServerError

EMPTY = {
    "results": [],
    "page": 1,
    "limit": 50,
    "hasMore": False,
    "totalPages": 0,
    "totalResults": 0,
}


@pytest.mark.parametrize(
    "host",
    [
        "https://platform.kore.ai:abc",
        "https://platform.kore.ai:99999",
        "https://platform.kore.ai:0",
        "https://platform.\r\nkore.ai",
        "https://platform.kore.ai\r\nX-Injected: 1",
        "https://platform\t.kore.ai",
    ],
)
def test_a_host_with_a_bad_port_or_a_control_character_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="host") as caught:
        CasesClient(host, "st-1", "acc", "tok")
    assert "port" in str(caught.value) or "control" in str(caught.value)


def test_a_host_with_a_good_port_is_kept() -> None:
    client = CasesClient("https://kore.example:8443/", "st-1", "acc", "tok")
    assert client.host == "https://kore.example:8443"


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


async def test_dates_are_sent_as_kore_documents_them() -> None:
    bodies: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return web.json_response(EMPTY)

    flt = CaseFilter(start_date=date(2025, 1, 1), end_date="2025-02-01", due_date="2025-03-01")
    async with (
        serve(handler) as url,
        CasesClient(url, "st-1", "acc", "tok", rate_limit=None) as client,
    ):
        await client.get_page(flt)
    assert bodies[0]["startDate"] == "2025-01-01T00:00:00.000Z"
    assert bodies[0]["endDate"] == "2025-02-01T00:00:00.000Z"
    assert bodies[0]["dueDate"] == "2025-03-01T00:00:00.000Z"


@pytest.mark.parametrize("stream_id", ["st-abc\n", "st-abc\r\n", "\nst-abc", "st-a/../b"])
def test_a_stream_id_with_a_trailing_newline_or_a_path_is_refused(stream_id: str) -> None:
    # "$" in a regular expression matches before a trailing newline: the whole id must fit.
    with pytest.raises(ValueError, match="stream_id"):
        CasesClient("https://kore.example", stream_id, "acc", "tok")
