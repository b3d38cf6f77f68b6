"""``MockTransport``: a client's requests answered by a function, with no server at all."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Union

from .._http import Request, Response

__all__ = ["Handler", "MockTransport"]

Handler = Callable[[Request], Union[Response, Awaitable[Response]]]  # noqa: UP007 (3.10)
"""What :class:`MockTransport` calls: a plain or ``async`` function of the request."""


class MockTransport:
    """A transport whose every answer comes from ``handler``: canned answers for tests.

    Pass it as ``CasesClient(..., transport=MockTransport(handler))``; the client works
    as it does over the network (tokens, throttling, retries, errors, pagination), but
    each request is a call to ``handler``, which returns a :class:`~kore_cases.Response`
    (or raises :class:`~kore_cases.TransportError` to play a connection that failed)::

        from kore_cases import CasesClient, Response
        from kore_cases.testing import MockTransport

        def handler(request):
            assert request.headers["accountId"] == "acc-1"
            page = request.json()["page"]
            return Response(200, json={"results": [], "page": page, "limit": 50,
                                       "hasMore": False, "totalPages": 1, "totalResults": 0})

        client = CasesClient("https://kore.example", "st-1", "acc-1", "token",
                             transport=MockTransport(handler))

    Nothing is sent anywhere, so no test port, no event-loop server; for Kore's whole
    behaviour (filters, paging, rate limits, faults) use :class:`FakeKoreServer`. The
    request's ``timeout`` is not enforced here.
    """

    def __init__(self, handler: Handler) -> None:
        if not callable(handler):
            raise TypeError(f"handler must be a function of the request, not {handler!r}")
        self._handler = handler

    async def send(self, request: Request) -> Response:
        """The handler's answer to ``request``."""
        answer = self._handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if not isinstance(answer, Response):
            raise TypeError(
                f"the MockTransport handler must return a kore_cases.Response, "
                f"not {type(answer).__name__}"
            )
        return answer

    async def aclose(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"MockTransport({self._handler!r})"
