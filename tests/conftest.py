"""Shared fixtures: an aioresponses mock that works with aiohttp 3.14, and a fake server."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses

from kore_cases.testing import FakeKoreServer

_NEEDS_STREAM_WRITER = (
    "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters
)


class _NoStreamWriter:
    """Stands in for the request writer aiohttp 3.14 hands every response."""

    output_size = 0


class _CompatClientResponse(aiohttp.ClientResponse):
    # aioresponses 0.7.9 builds responses without `stream_writer`, which aiohttp 3.14
    # made required (aioresponses issue #289); supply an inert one until it is fixed.
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _NEEDS_STREAM_WRITER:
            kwargs.setdefault("stream_writer", _NoStreamWriter())
        super().__init__(*args, **kwargs)


@pytest.fixture(autouse=True)
def _fast_fake_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake servers made without ``rate_limits`` allow a million requests a minute.

    Most tests pull more than 60 pages per server and are not about the budget; the
    tests that are pass Kore's windows (``KORE_RATE_LIMITS``) or shrunken ones explicitly.
    """
    monkeypatch.setattr(FakeKoreServer, "default_rate_limits", [(1_000_000, 60.0)])


@pytest.fixture
def mock_http(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    """An ``aioresponses`` mock of every aiohttp request made in the test."""
    monkeypatch.setattr("aioresponses.core.ClientResponse", _CompatClientResponse)
    with aioresponses() as mocked:
        yield mocked
