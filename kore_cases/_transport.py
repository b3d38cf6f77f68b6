"""One HTTP request in, status + headers + body bytes out. The only module that imports aiohttp.

Every failure to get a whole answer (DNS, refused, reset, a body cut short, the total
timeout) becomes :class:`TransportError`; aiohttp raises both ``aiohttp.ClientError``
and ``asyncio.TimeoutError`` for these, so both are caught. The caller retries it unless
``retryable`` is false: a name that does not resolve or a certificate that does not
verify will not heal in seconds. A body larger than ``max_response_bytes`` is refused
unread as :class:`BodyTooLarge` (never retried). Its message is the transport's own
words; where they quote the server (a malformed status line) the raw bytes are left out.
"""

from __future__ import annotations

import asyncio
import socket
import ssl as ssl_module
from collections.abc import Sequence

import aiohttp

from ._body import MAPPED_MIN_BYTES, joined, read_into_map
from ._http import BodyTooLarge, Request, Response, ResponseBody, TransportError

__all__ = ["AiohttpTransport"]

_CHUNK_BYTES = 256 * 1024
_NO_BODY = frozenset({204, 304, *range(100, 200)})
"""Statuses whose answer ends at its headers, whatever Content-Length says (RFC 9112 6.3)."""


class AiohttpTransport:
    """The default transport: one aiohttp session for one client, reused by every request.

    The session is created by the first request, inside the event loop that uses it.
    Every header comes with the request (:class:`~kore_cases._http.Request`); the session
    adds none of its own but aiohttp's defaults.
    """

    def __init__(
        self,
        *,
        connections: int,
        ssl: ssl_module.SSLContext | None,
        max_response_bytes: int,
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
    ) -> None:
        self._connections = connections
        # None means aiohttp's default: verify certificates against the system store.
        self._ssl: ssl_module.SSLContext | bool = ssl if ssl is not None else True
        self._max_response_bytes = max_response_bytes
        self._trace_configs = list(trace_configs or ())
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _open_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("transport is closed")
        connector = aiohttp.TCPConnector(limit=self._connections, ssl=self._ssl)
        self._session = aiohttp.ClientSession(
            connector=connector, trace_configs=self._trace_configs or None
        )
        return self._session

    async def aclose(self) -> None:
        """Close the session and its connections (idempotent)."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def send(self, request: Request) -> Response:
        """Send ``request``; return the whole answer, or raise :class:`TransportError`."""
        session = self._session or self._open_session()
        timeout = aiohttp.ClientTimeout(total=request.timeout)
        # The cause is not chained: some aiohttp errors carry the request's headers,
        # and with them the token. The message is built inside `except`, raised outside.
        failure: TransportError
        try:
            # No redirects: following one would send the token to wherever it points.
            async with session.request(
                request.method,
                request.url,
                data=request.body,
                headers=request.headers,
                allow_redirects=False,
                timeout=timeout,
            ) as resp:
                payload = await self._read(resp)
                return Response(resp.status, headers=resp.headers, body=payload)
        except asyncio.TimeoutError:
            failure = TransportError(
                f"no complete answer within the {request.timeout:g} s timeout", timeout=True
            )
        except aiohttp.ClientError as exc:
            failure = _failure(exc)
        raise failure

    async def _read(self, resp: aiohttp.ClientResponse) -> ResponseBody:
        max_bytes = self._max_response_bytes
        # Content-Length counts what is on the wire; a compressed body grows when read.
        identity = resp.headers.get("Content-Encoding", "identity").lower() == "identity"
        length = None if resp.status in _NO_BODY else resp.content_length
        if length is not None and length > max_bytes:
            raise BodyTooLarge(
                f"the response announces {length} bytes, more than "
                f"max_response_bytes={max_bytes}; refused without reading it"
            )
        if length is not None and identity:
            if length < MAPPED_MIN_BYTES:
                return await resp.read()
            return await read_into_map(resp.content.iter_chunked(_CHUNK_BYTES), length)
        # Length unknown or compressed: count the decoded bytes, stop one past max_bytes.
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(_CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise BodyTooLarge(
                    f"the response is larger than max_response_bytes={max_bytes}; refused"
                )
            chunks.append(chunk)
        return joined(chunks, size)


def _failure(exc: aiohttp.ClientError) -> TransportError:
    """Name an aiohttp failure without anything that could hold a header value."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return TransportError(
            f"the certificate of {exc.host} could not be verified ({exc.certificate_error}): "
            "for a server with a private or corporate CA pass "
            "ssl=ssl.create_default_context(cafile=...) to CasesClient (or set "
            "SSL_CERT_FILE to the CA bundle); not retried",
            retryable=False,
        )
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, socket.gaierror):
        return TransportError(
            f"cannot resolve the host name {exc.host!r} ({exc.os_error.strerror}): check "
            "host= (e.g. 'https://platform.kore.ai') and the network; not retried",
            retryable=False,
        )
    if isinstance(exc, aiohttp.ClientResponseError):
        # Raised by the response parser too, with aiohttp's own status 400 and a message
        # quoting the raw bytes received (a malformed status line holds case data, or an
        # echoed token): keep only its first words.
        what = exc.message.split("\n", 1)[0].split(":", 1)[0].strip() or "unreadable"
        return TransportError(f"the server sent a malformed HTTP response ({what})")
    return TransportError(f"{type(exc).__name__}: {exc}")
