"""Ending every call in flight when the client closes: one cancel scope per waiting call.

Each request a client makes (``get_page``, ``count``, the first page of a pull and its
prefetches) runs inside :meth:`Closer.guard`: its throttle wait, its attempts and its
backoff sleeps. :meth:`Closer.close` cancels every guarded call at once; each one then
raises :class:`~kore_cases.ClientClosedError` in its caller's task, promptly (a
cancellation stops an aiohttp request at its next await), instead of waiting for an
answer nobody can use on a session about to be closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import anyio

from .errors import ClientClosedError

__all__ = ["Closer"]


class Closer:
    """The cancel scopes of the calls in flight on one client."""

    def __init__(self) -> None:
        self._scopes: set[anyio.CancelScope] = set()
        self.closed: bool = False

    @contextmanager
    def guard(self, page: int) -> Iterator[None]:
        """Run the block as a call that :meth:`close` can end (with ClientClosedError)."""
        if self.closed:
            raise _closed(page, "before this request was sent")
        scope = anyio.CancelScope()
        self._scopes.add(scope)
        try:
            with scope:
                yield
        finally:
            self._scopes.discard(scope)
        if scope.cancelled_caught:
            raise _closed(page, "while this request was in flight")

    def close(self) -> None:
        """End every guarded call; later calls raise at once."""
        self.closed = True
        for scope in self._scopes:
            scope.cancel()


def _closed(page: int, when: str) -> ClientClosedError:
    return ClientClosedError(f"page {page}: the client was closed {when}", page=page)
