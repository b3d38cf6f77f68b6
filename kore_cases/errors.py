"""Exceptions raised by kore-cases.

Every exception the SDK raises on purpose derives from :class:`KoreCasesError`::

    KoreCasesError
    ├── APIError                       an attempt to talk to the API failed
    │   ├── APIStatusError             the server answered with an HTTP error status
    │   │   ├── BadRequestError          400
    │   │   ├── AuthenticationError      401
    │   │   ├── PermissionDeniedError    403
    │   │   ├── NotFoundError            404
    │   │   ├── RateLimitError           429 (``retry_after``)
    │   │   └── ServerError              5xx
    │   ├── APIConnectionError         no usable answer: DNS, refused, reset, cut-short body
    │   │   └── APITimeoutError          the request took longer than ``timeout``
    │   └── ResponseValidationError    the answer is JSON of the wrong shape
    │       └── ResponseTooLargeError    the answer is larger than ``max_response_bytes``
    ├── PaginationError                the server pages inconsistently
    └── ClientClosedError              the client was closed while or before a call

Errors raised while pulling many pages carry ``page`` (the page that failed) and
``resume_page``: pass it back as ``start_page=`` to continue where the pull stopped.
A time-windowed pull's errors also carry ``resume_window`` (pass it as ``start_window=``).

Messages never contain the client secret or a token.

Each error is built once, with everything it says: its constructor gets the message,
the page and the path. Two things are learnt only after an error exists, and each has
one function here (internal, not in ``__all__``): :func:`with_note` makes a new error of
the same class with text added to its message (a request that gave up after its
retries, a 429 waited out too long), and :func:`resume_at` gives an error leaving a pull
its ``resume_page`` and ``resume_window`` (as httpx's ``request_context`` attaches the
request).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import EllipsisType
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from ._windows import TimeWindow

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ErrorDetail",
    "KoreCasesError",
    "NotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "ServerError",
]


class KoreCasesError(Exception):
    """Root of every error kore-cases raises on purpose.

    ``page`` is the page being fetched when the error happened (``None`` when no page
    of the pull was involved, e.g. a windowed pull's one-case requests that learn the
    creation dates to cut; the message says what failed) and ``resume_page`` the page
    to pass as ``start_page=`` to continue a pull without losing or repeating a case
    (``None`` outside a pull).
    """

    page: int | None
    resume_page: int | None
    resume_window: TimeWindow | None
    """The window of a time-windowed pull to pass back as ``start_window=`` (with
    ``start_page=resume_page``); ``None`` outside a windowed pull. The pull it starts
    drops the cases the windows before it yielded at the edge they share."""

    def __init__(self, message: str, *, page: int | None = None) -> None:
        super().__init__(message)
        self.page = page
        self.resume_page = None
        self.resume_window = None

    @property
    def message(self) -> str:
        """The explanation, without the resume hint that ``str()`` adds (read-only)."""
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        text = self.message
        if self.resume_window is not None:
            where = f"start_window={self.resume_window}, start_page={self.resume_page}"
            text += f" (resume with {where})"
        elif self.resume_page is not None:
            text += f" (resume with start_page={self.resume_page})"
        return text


class APIError(KoreCasesError):
    """A request to the Get Cases endpoint failed. ``path`` is the endpoint path."""

    def __init__(self, message: str, *, path: str | None = None, page: int | None = None) -> None:
        super().__init__(message, page=page)
        self.path = path


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of Kore's ``{"errors": [{"msg": ..., "code": ...}]}``.

    ``code`` is Kore's own error code, e.g. ``4002`` with ``msg`` "Invalid SDK
    credentials" for a token signed with the wrong secret.
    """

    msg: str | None
    code: int | str | None = None


class _Headers(Mapping[str, str]):
    """Response headers, read-only, looked up without regard to case (as HTTP wants)."""

    __slots__ = ("_items", "_lowered")

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._items = dict(headers)
        self._lowered = {name.lower(): value for name, value in self._items.items()}

    def __getitem__(self, name: str) -> str:
        return self._lowered[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return repr(self._items)


class APIStatusError(APIError):
    """The server answered with an HTTP error status.

    Attributes:
        status_code: the HTTP status.
        server_message: the server's own words (from Kore's ``{"errors": [{"msg":
            ...}]}`` or the plain-text body, shortened).
        errors: Kore's error list, parsed (``()`` when the body has none), e.g.
            ``(ErrorDetail(msg="Invalid SDK credentials", code=4002),)``.
        headers: the response headers (a read-only mapping, looked up in any case);
            those that carry credentials (``Set-Cookie``,
            ``Authorization``...) read ``***``, and the token is cut out of the rest.
        request_id: the server's request id (``X-Request-Id`` and similar headers),
            to give to support; ``None`` when it sent none.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        server_message: str | None = None,
        path: str | None = None,
        page: int | None = None,
        errors: Sequence[ErrorDetail] = (),
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, path=path, page=page)
        self.status_code = status_code
        self.server_message = server_message
        self.errors: tuple[ErrorDetail, ...] = tuple(errors)
        self.headers: Mapping[str, str] = _Headers(headers or {})
        self.request_id = request_id


class BadRequestError(APIStatusError):
    """400: the server rejected the request body or headers (check the filter and account id)."""


class AuthenticationError(APIStatusError):
    """401: the token was refused (check the client id and secret, or the static token)."""


class PermissionDeniedError(APIStatusError):
    """403: the app may not read cases (check the API scope 'Case Management Configuration')."""


class NotFoundError(APIStatusError):
    """404: the endpoint does not exist (check the host and the stream id)."""


class RateLimitError(APIStatusError):
    """429: the rate limit was reached; ``retry_after`` is the server's wait in seconds, if any."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        server_message: str | None = None,
        path: str | None = None,
        page: int | None = None,
        errors: Sequence[ErrorDetail] = (),
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            server_message=server_message,
            path=path,
            page=page,
            errors=errors,
            headers=headers,
            request_id=request_id,
        )
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx: the server failed; retried automatically before this is raised."""


class APIConnectionError(APIError):
    """No usable answer arrived: the connection failed, was reset, or the body was cut short."""


class APITimeoutError(APIConnectionError):
    """The request took longer than the client's ``timeout``."""


class ResponseValidationError(APIError):
    """The server answered JSON of the wrong shape; ``json_path`` names where (``$.results[3]``)."""

    def __init__(
        self,
        message: str,
        *,
        json_path: str | None = None,
        path: str | None = None,
        page: int | None = None,
    ) -> None:
        super().__init__(message, path=path, page=page)
        self.json_path = json_path


class ResponseTooLargeError(ResponseValidationError):
    """The answer is larger than ``max_response_bytes``; it was refused without reading it all."""


class PaginationError(KoreCasesError):
    """The server pages inconsistently, e.g. it answered another page than the one asked for."""


class ClientClosedError(KoreCasesError):
    """The client was closed: ``aclose()`` (or leaving ``async with``) ends every call
    still waiting for an answer with this error, promptly, and calls made afterwards
    raise it at once. ``page`` is the page the call was fetching.
    """


_E = TypeVar("_E", bound=KoreCasesError)


def with_note(error: _E, note: str, *, page: int | EllipsisType | None = ...) -> _E:
    """A new error of ``error``'s class whose message is ``error.message + note``.

    Every other attribute (``page``, ``path``, ``status_code``, ``headers``, ``errors``,
    ``request_id``, ``retry_after``, ``resume_page``...) is carried over as it is, so the
    new error says all the old one did, and more; ``page``, when given, replaces the
    page (a request whose page number is none of the pull's). It has no traceback,
    cause or context of its own: use it on an error not raised yet. The text added comes
    from the SDK, not the server (server text is redacted when the first error is built).
    """
    kind = type(error)
    told = kind.__new__(kind)
    told.__dict__.update(vars(error))
    if page is not ...:
        told.page = page
    Exception.__init__(told, error.message + note)
    return told


def resume_at(error: KoreCasesError, page: int, window: TimeWindow | None = None) -> None:
    """Tell ``error``, as it leaves a pull, where a new pull continues.

    The one place ``resume_page`` and ``resume_window`` are set; every pull iterator
    calls it with its own position. The innermost iterator knows the page best: a page
    already set is kept, and a time-windowed pull adds its ``window`` to the page its
    window's iterator gave.
    """
    if error.resume_page is None:
        error.resume_page = page
    if window is not None:
        error.resume_window = window
