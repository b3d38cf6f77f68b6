"""The fake server's normal answer: which cases a body asks for, as an encoded page (no I/O).

:class:`Pages` reads the paging keys the server honours (``page``, ``skip``, ``limit``),
selects and encodes the page from the case store (optionally caching the bytes), and
adds the cases a test scheduled to appear at the n-th request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from ._data import Query, QueryError, parse_query
from ._mutations import MutableCaseStore
from ._records import RequestRecord, kore_error

__all__ = ["Pages", "json_object"]

_DEFAULT_LIMIT = 50
_PAGE_CACHE_ENTRIES = 4096


def json_object(raw: bytes) -> dict[str, Any] | None:
    """The body as a JSON object; an empty body counts as ``{}`` (as Express parses it)."""
    if not raw.strip():
        return {}
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None


def _int(body: Mapping[str, Any], key: str, default: int | None, minimum: int) -> int | None:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise QueryError(f"{key} must be an integer >= {minimum}")
    return value


class Pages:
    """Pages of ``store`` as the server sends them, and the cases due to be added."""

    def __init__(
        self,
        store: MutableCaseStore,
        *,
        max_page_size: int,
        paging: Literal["page", "skip", "both"],
        cache_pages: bool,
    ) -> None:
        self.store = store
        self._max_page_size = max_page_size
        self._paging = paging
        self._cache: dict[tuple[Query, int, int, int], bytes] | None = {} if cache_pages else None
        self._growth: list[tuple[int, int]] = []  # (arrival number, cases to add)
        self._arrivals = 0

    def add(self, count: int) -> None:
        """Add ``count`` cases newer than all others."""
        self.store.add(count)
        if self._cache is not None:
            self._cache.clear()

    def add_after(self, requests: int, count: int) -> None:
        """Add ``count`` cases when the ``requests``-th request from now arrives (1-based)."""
        if requests < 1:
            raise ValueError("requests must be >= 1")
        self._growth.append((self._arrivals + requests, count))

    def arrived(self) -> None:
        """A request arrived: add the cases due at it."""
        self._arrivals += 1
        due = [count for at, count in self._growth if at <= self._arrivals]
        if due:
            self._growth = [(at, count) for at, count in self._growth if at > self._arrivals]
            self.add(sum(due))

    def describe(self, record: RequestRecord, body: dict[str, Any] | None) -> None:
        """Fill the record's paging fields, leniently: bad values must not stop the logging."""
        if body is None:
            return
        record.body = body
        limit = body.get("limit", _DEFAULT_LIMIT)
        valid = isinstance(limit, int) and not isinstance(limit, bool) and limit > 0
        record.limit = limit if valid else 0
        skip = body.get("skip")
        record.skip = skip if isinstance(skip, int) and not isinstance(skip, bool) else None
        try:
            start, size = self._window(body)
        except QueryError:
            return
        record.page = start // size + 1

    def answer(self, body: Mapping[str, Any] | None) -> tuple[int, bytes]:
        """``(status, JSON bytes)`` of the normal answer to ``body``."""
        try:
            if body is None:
                raise QueryError("Request body must be a JSON object")
            query = parse_query(body)
            start, limit = self._window(body)
        except QueryError as exc:
            return 400, kore_error(400, str(exc))
        if self._cache is None:
            return 200, self._encode(query, start, limit)
        key = (query, self.store.version, start, limit)
        payload = self._cache.get(key)
        if payload is None:
            payload = self._encode(query, start, limit)
            if len(self._cache) >= _PAGE_CACHE_ENTRIES:
                self._cache.clear()  # crude bound; benchmarks re-fill it in one pass
            self._cache[key] = payload
        return 200, payload

    def _window(self, body: Mapping[str, Any]) -> tuple[int, int]:
        """``(start index, clamped limit)`` from the paging keys this server honours."""
        limit = _int(body, "limit", _DEFAULT_LIMIT, 1) or _DEFAULT_LIMIT
        limit = min(limit, self._max_page_size)
        skip = _int(body, "skip", None, 0) if self._paging != "page" else None
        if self._paging == "skip" or skip is not None:
            return skip or 0, limit
        page = _int(body, "page", 1, 1) or 1
        return (page - 1) * limit, limit

    def _encode(self, query: Query, start: int, limit: int) -> bytes:
        selection = self.store.select(query)
        total = len(selection)
        total_pages = -(-total // limit)
        page = start // limit + 1
        return msgspec.json.encode(
            {
                "results": [self.store.case(i) for i in selection[start : start + limit]],
                "page": page,
                "limit": limit,
                "hasMore": page < total_pages,
                "totalPages": total_pages,
                "totalResults": total,
            }
        )
