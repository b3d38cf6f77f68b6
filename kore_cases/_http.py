"""The transport seam: what the client hands its transport, and what it gets back.

A transport turns one :class:`Request` into one whole :class:`Response`, or raises
:class:`TransportError` when no complete answer arrived; the client does the rest
(tokens, throttling, retries, errors). :class:`AsyncTransport` is that contract:
the aiohttp session in :mod:`kore_cases._transport` (the only importer of aiohttp,
imported when a client opens, so that ``import kore_cases`` stays light) and
:class:`kore_cases.testing.MockTransport` (a function from request to response, for
tests) both keep it; so can yours, passed as ``CasesClient(..., transport=...)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import msgspec

__all__ = [
    "AsyncTransport",
    "BodyTooLarge",
    "Headers",
    "Request",
    "Response",
    "ResponseBody",
    "TransportError",
    "check_transport",
]

_UNSET: Any = object()

if TYPE_CHECKING:  # mmap is imported with the transport: not every platform has it (WASI)
    import mmap

ResponseBody: TypeAlias = "bytes | mmap.mmap"
"""A response's body: ``bytes``, or a large one in an anonymous ``mmap.mmap``.

A map is bytes-like (``msgspec`` decodes it, slicing gives ``bytes``, ``bytes(body)``
copies it) and gives its memory back as soon as nothing refers to it
(:mod:`kore_cases._body` says why the default transport keeps large bodies so).
"""


class Request:
    """One request the client sends: a POST of a JSON body, with every header it carries.

    ``headers`` include the ``auth`` token: a transport must not log them. ``timeout``
    is the seconds the whole exchange may take.
    """

    __slots__ = ("body", "headers", "method", "timeout", "url")

    def __init__(
        self, url: str, *, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> None:
        self.method: str = "POST"
        self.url: str = url
        self.headers: Mapping[str, str] = headers
        self.body: bytes = body
        self.timeout: float = timeout

    def json(self) -> Any:
        """The body decoded: the filters and the paging keys (``page``/``skip``, ``limit``)."""
        return msgspec.json.decode(self.body)

    def __repr__(self) -> str:  # no headers: they hold the token
        return f"<Request {self.method} {self.url}>"


class Headers(Mapping[str, str]):
    """Header names looked up without regard to case, as HTTP wants (names kept lowercase)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items = {k.lower(): v for k, v in (items or {}).items()}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class Response:
    """A complete HTTP answer: status, headers and the whole body.

    ``Response(200, json={...})`` encodes ``json`` as the body (with a JSON
    ``Content-Type``); ``Response(503, body=b"...")`` sends bytes as they are. The
    default transport hands over a body of 1 MiB or more as an anonymous ``mmap.mmap``
    rather than ``bytes`` (see :data:`ResponseBody`): use ``bytes(response.body)`` where
    ``bytes`` are needed.
    ``headers`` are looked up without regard to case (``response.headers["retry-after"]``).
    """

    __slots__ = ("body", "headers", "status")

    def __init__(
        self,
        status: int,
        *,
        headers: Mapping[str, str] | None = None,
        body: ResponseBody = b"",
        json: Any = _UNSET,
    ) -> None:
        if json is not _UNSET:
            body = msgspec.json.encode(json)
            headers = {"Content-Type": "application/json", **(headers or {})}
        self.status: int = status
        self.headers: Headers = Headers(headers)
        self.body: ResponseBody = body

    def __repr__(self) -> str:
        return f"<Response {self.status}, {len(self.body)} bytes>"


class TransportError(Exception):
    """No complete answer arrived. ``timeout`` tells a timeout from other failures;
    ``retryable`` is false for a failure that another attempt cannot cure.

    The client retries it (unless ``retryable`` is false) like a 503, as
    :class:`~kore_cases.APITimeoutError` or :class:`~kore_cases.APIConnectionError` once
    the retries run out. Its message must not hold header values: it reaches logs and
    the error the user sees.
    """

    def __init__(self, message: str, *, timeout: bool = False, retryable: bool = True) -> None:
        super().__init__(message)
        self.timeout = timeout
        self.retryable = retryable


class BodyTooLarge(TransportError):
    """The answer is larger than ``max_response_bytes`` and was refused without reading
    it all: not retried; the client raises :class:`~kore_cases.ResponseTooLargeError`
    with this message, naming the page and the path.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


def check_transport(transport: object, *, ssl: object, trace_configs: object) -> None:
    """Refuse a ``transport=`` that is not one, or next to options only aiohttp's use."""
    if transport is None:
        return
    for method in ("send", "aclose"):
        if not inspect.iscoroutinefunction(getattr(transport, method, None)):
            raise TypeError(
                f"transport must have `async def send(request)` and `async def aclose()` "
                f"(see kore_cases.AsyncTransport); {type(transport).__name__} has no async "
                f"{method}()"
            )
    given = [name for name, value in (("ssl", ssl), ("trace_configs", trace_configs)) if value]
    if given:
        raise ValueError(
            f"{' and '.join(given)} configure the default aiohttp transport; with transport= "
            "configure the transport you pass instead"
        )


class AsyncTransport(Protocol):
    """What sends a client's requests (see the module docstring)."""

    async def send(self, request: Request) -> Response:
        """Send ``request`` and return the whole answer, whatever its status.

        Raises:
            TransportError: no complete answer (connection, timeout, a body cut short).
        """
        ...

    async def aclose(self) -> None:
        """Release what the transport holds (connections); called when the client closes."""
        ...
