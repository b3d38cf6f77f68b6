"""Getting one page: build the request, send it through the throttle, retry, map errors.

Each attempt runs inside a turn of the client's :class:`~kore_cases._throttle.Throttle`
(concurrency, 429 pauses, rate windows) and has two steps: :meth:`PageFetcher._send`
mints the ``auth`` header and sends the body (a transport failure becomes a retryable
error), and :meth:`PageFetcher._classify` reads the answer: a usable 200, or an error
that says whether to retry and whether the whole client must pause (a 429). Retryable
failures (408, 429, 5xx, transport errors, a 200 whose body is not JSON) are retried with
:class:`~kore_cases._retry.RetryPolicy` backoff; anything else becomes a typed error at
once.

Each error is built once, whole: :func:`_status_error` gets the note about a
``Retry-After`` beyond ``max_retry_after`` with the rest, and a refused oversized body
becomes :class:`~kore_cases.ResponseTooLargeError` here, with its page and path. What is
learnt after an attempt's error was reported (the retries ran out, 429s were waited out
for ``max_rate_limit_wait``) makes a new error through :func:`~kore_cases.errors.with_note`.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import anyio
import msgspec

from ._closing import Closer
from ._http import AsyncTransport, BodyTooLarge, Request, Response, ResponseBody, TransportError
from ._limiter import BudgetWaitTooLong
from ._observe import NULL_OBSERVER, Observer
from ._redact import server_text
from ._response import response_details
from ._retry import RetryPolicy, is_retryable_status, parse_retry_after
from ._settings import Priority
from ._stats import PullStats
from ._throttle import Throttle, Turn
from .auth import Auth
from .errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ErrorDetail,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    ResponseValidationError,
    ServerError,
    with_note,
)
from .models import CasesPage

__all__ = ["PageFetcher", "Unreadable", "check_page_number", "decode_page"]

logger = logging.getLogger("kore_cases")

T = TypeVar("T")
Paging = Literal["page", "skip"]

_HINTS: Mapping[int, str] = {
    400: "check the filter values and the account id",
    401: "check the client id and secret (JwtAuth) or the token (StaticToken)",
    403: "check that the app has the 'Case Management Configuration' API scope",
    404: "check the host and the stream id",
}
_STATUS_ERRORS: Mapping[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
}
_JSON_PATH = re.compile(r"at `(\$[^`]*)`")
_MAX_SERVER_MESSAGE = 300
_JSON_OBJECT_START = re.compile(rb"[ \t\r\n]*\{")
_JSON_WHITESPACE = b" \t\r\n"


class Unreadable(Exception):
    """A 200 whose body is not usable JSON: worth another attempt, like a transport error."""


def looks_like_json(body: ResponseBody) -> bool:
    """Cheap check that a body can be a JSON object (a proxy's HTML page cannot)."""
    # Only the ends are looked at, without copying: pages are large, this runs on each.
    if not _JSON_OBJECT_START.match(body):
        return False
    end = len(body)
    while end and body[end - 1] in _JSON_WHITESPACE:
        end -= 1
    return body[end - 1 : end] == b"}"


def decode_page(
    body: ResponseBody,
    decoder: msgspec.json.Decoder[CasesPage[Any]],
    *,
    page: int,
    path: str,
    check_page: bool = True,
) -> CasesPage[Any]:
    """Decode a page, or raise a typed error that names the page and the JSON path.

    Malformed JSON raises :class:`Unreadable` (retryable); well-formed JSON of the wrong
    shape raises :class:`ResponseValidationError`; a page number other than the one
    asked raises :class:`PaginationError` (unless ``check_page`` is false).
    """
    try:
        result = decoder.decode(body)
    except msgspec.ValidationError as exc:
        match = _JSON_PATH.search(str(exc))
        raise ResponseValidationError(
            f"page {page}: the response does not have the Get Cases shape: {exc}",
            json_path=match.group(1) if match else None,
            path=path,
            page=page,
        ) from None
    except msgspec.DecodeError as exc:
        raise Unreadable(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise ResponseValidationError(
            f"page {page}: the response nests JSON too deeply to be read",
            path=path,
            page=page,
        ) from None
    if check_page:
        check_page_number(result, page)
    return result


def check_page_number(result: CasesPage[Any], page: int) -> None:
    """Raise :class:`PaginationError` if the server answered another page than asked."""
    if result.page != page:
        raise PaginationError(
            f"asked for page {page} but the server answered page {result.page}: it does "
            "not honour this paging style; try CasesClient(..., paging='skip') (skip/limit, "
            "as getTasks pages) or paging='page'",
            page=page,
        )


class PageFetcher:
    """Fetches pages for one client; shared by ``get_page``, ``count`` and the iterators."""

    def __init__(
        self,
        *,
        transport: AsyncTransport,
        headers: Mapping[str, str],
        throttle: Throttle,
        auth: Auth,
        url: str,
        path: str,
        paging: Paging,
        policy: RetryPolicy,
        timeout: float,
        observer: Observer = NULL_OBSERVER,
        closer: Closer | None = None,
        max_rate_wait: float = math.inf,
        max_rate_limit_wait: float = 300.0,
        priority: Priority | None = None,
    ) -> None:
        self._transport = transport
        self._headers = dict(headers)  # every request's, but its `auth` token
        self._throttle = throttle
        self._auth = auth
        self._url = url
        self.path = path
        self.paging = paging
        self.policy = policy
        self.timeout = timeout
        self.observer = observer
        self._closer = closer or Closer()
        self.max_rate_wait = max_rate_wait
        self.max_rate_limit_wait = max_rate_limit_wait
        self.priority = priority

    def request_body(self, filter_body: Mapping[str, Any], page: int, limit: int) -> bytes:
        """Return the JSON body asking for ``page`` of ``limit`` cases."""
        if self.paging == "skip":
            paging: dict[str, int] = {"skip": (page - 1) * limit, "limit": limit}
        else:
            paging = {"page": page, "limit": limit}
        return msgspec.json.encode({**filter_body, **paging})

    async def fetch(
        self,
        body: bytes,
        *,
        page: int,
        stats: PullStats,
        parse: Callable[[ResponseBody], T],
        attempts_used: int = 0,
        interactive: bool = False,
        max_rate_wait: float | None = None,
    ) -> tuple[T, int]:
        """Send ``body`` until ``parse`` accepts the answer or the retries run out.

        ``parse`` turns a 200 body into the result, raising :class:`Unreadable` when the
        body deserves another attempt. Returns the result and the number of attempts
        that spent ``max_retries`` (all but the 429s). ``attempts_used`` counts attempts
        already spent on this page elsewhere, so that a page is never tried more than
        ``1 + max_retries`` times.

        ``interactive`` marks a one-page call, served before a pull's prefetches;
        ``max_rate_wait`` bounds each wait for the account's budget (``None``: the
        client's setting). 429s do not spend ``max_retries``: they are waited out, for
        ``max_rate_limit_wait`` seconds in all, then raised.
        """
        allowed = self.max_rate_wait if max_rate_wait is None else max_rate_wait
        if self.priority is not None:  # a view made with with_options(priority=...)
            interactive = self.priority == "interactive"
        with self._closer.guard(page):  # closing the client ends the wait at once
            return await self._fetch(
                body, page, stats, parse, attempts_used, _Budget(interactive, allowed)
            )

    async def _fetch(
        self,
        body: bytes,
        page: int,
        stats: PullStats,
        parse: Callable[[ResponseBody], T],
        attempt: int,
        budget: _Budget,
    ) -> tuple[T, int]:
        attempts = 1 + self.policy.max_retries
        delay = 0.0
        counted = attempt  # attempts that spend max_retries: every one but a 429's
        while True:
            attempt += 1
            if attempt > 1:
                stats.retries += 1
            outcome = await self._attempt(body, page, attempt, stats, delay, budget)
            if isinstance(outcome, Response):
                try:
                    return parse(outcome.body), counted + 1
                except Unreadable as exc:
                    outcome = _Failure(
                        self._connection_error(page, f"a body that is not JSON ({exc})")
                    )
            if outcome.pause:
                # A 429 to wait out: the account's budget pauses every request (the next
                # turn waits); it spends the 429 time budget, not a retry.
                budget.rate_limited(outcome.error)
                left = budget.max_wait(self.max_rate_limit_wait)
                if left <= 0:  # even when no wait for the budget would have told
                    needed = outcome.retry_after or 0.0
                    spent = BudgetWaitTooLong(0.0, needed, self._throttle.limiter.describe())
                    raise budget.error(spent, page, self.path, self.max_rate_limit_wait)
                # A Retry-After shorter than the backoff (a hostile server's 0) must not
                # make a tight loop; Kore sends none, and its pause is a window already.
                delay = 0.0
                if outcome.retry_after is not None:
                    delay = min(left, self.policy.delay(budget.rate_limits, outcome.retry_after))
                self.observer.retry(page, attempt, delay, outcome.error)
                await anyio.sleep(delay)
                continue
            counted += 1
            if not outcome.retryable:
                raise outcome.error
            if counted >= attempts:
                error = with_note(outcome.error, _gave_up(counted))
                logger.warning("page %d failed after %d attempts: %s", page, counted, error)
                raise error
            delay = self.policy.delay(counted, outcome.retry_after)
            self.observer.retry(page, attempt, delay, outcome.error)
            logger.debug("page %d attempt %d: retrying in %.2f s", page, attempt, delay)
            await anyio.sleep(delay)

    async def _attempt(
        self,
        body: bytes,
        page: int,
        attempt: int,
        stats: PullStats,
        retry_delay: float,
        budget: _Budget,
    ) -> Response | _Failure:
        """Make one attempt: the 200 response, or what went wrong and whether to retry."""
        max_wait = budget.max_wait(self.max_rate_limit_wait)
        turn = self._throttle.turn(interactive=budget.interactive, max_wait=max_wait, meter=stats)
        try:
            async with turn:
                return await self._exchange(turn, body, page, attempt, stats, retry_delay)
        except BudgetWaitTooLong as exc:  # raised on entry only: nothing was sent
            raise budget.error(exc, page, self.path, self.max_rate_limit_wait) from None

    async def _exchange(
        self, turn: Turn, body: bytes, page: int, attempt: int, stats: PullStats, delay: float
    ) -> Response | _Failure:
        """Within a turn: send, classify, tell the turn how it went, report to the hooks."""
        report = self.observer.request(stats, page, attempt, turn.waited, delay)
        answer: Response | None = None
        failure: BaseException | None = None
        try:
            sent = await self._send(body, page, attempt, stats)
            if isinstance(sent, _Failure):
                failure = sent.error
                return sent
            answer = sent[0]
            outcome = self._classify(*sent, page=page, stats=stats)
            if isinstance(outcome, Response):
                turn.succeeded()
            else:
                failure = outcome.error
                if outcome.pause:
                    turn.rate_limited(outcome.retry_after, hourly=outcome.hourly)
        except BaseException as exc:  # too large, cancelled: the attempt ends here too
            failure = exc
            raise
        finally:
            self.observer.response(report, answer, failure)
        return outcome

    async def _send(
        self, body: bytes, page: int, attempt: int, stats: PullStats
    ) -> tuple[Response, str] | _Failure:
        """Send one request: the response and the token it carried, or a transport failure."""
        started = time.monotonic()
        try:
            token = self._auth.token()
            stats.requests += 1
            request = Request(
                self._url, headers={**self._headers, "auth": token}, body=body, timeout=self.timeout
            )
            response = await self._transport.send(request)
        except BodyTooLarge as exc:  # refused unread: another attempt cannot cure it
            raise ResponseTooLargeError(str(exc), path=self.path, page=page) from None
        except TransportError as exc:
            what = server_text(str(exc), [token], _MAX_SERVER_MESSAGE)
            elapsed = time.monotonic() - started
            logger.debug("page %d attempt %d: %s after %.3f s", page, attempt, what, elapsed)
            kind = APITimeoutError if exc.timeout else APIConnectionError
            failed = kind(f"page {page}: {what}", path=self.path, page=page)
            return _Failure(failed, retryable=exc.retryable)
        logger.debug(
            "page %d attempt %d: HTTP %d in %.3f s",
            page,
            attempt,
            response.status,
            time.monotonic() - started,
        )
        return response, token

    def _classify(
        self, response: Response, token: str, *, page: int, stats: PullStats
    ) -> Response | _Failure:
        """Tell a usable 200 from what went wrong, whether to retry, and whether to pause."""
        if response.status == 200:
            if looks_like_json(response.body):
                return response
            # A 200 that cannot be JSON is a proxy's page or a cut body: retry it.
            snippet = server_text(response.body, [token], 80)
            return _Failure(self._connection_error(page, f"a body that is not JSON: {snippet!r}"))
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        # Not waited for (a 429's or a 503's), neither here nor by the client's next
        # requests: the caller decides what to do about a long wait.
        too_long = retry_after is not None and retry_after > self.policy.max_retry_after
        note = (
            f"; Retry-After {retry_after:g} s is beyond max_retry_after="
            f"{self.policy.max_retry_after:g} s, so it was not waited for"
            if too_long
            else ""
        )
        error = _status_error(
            response, page=page, path=self.path, retry_after=retry_after, token=token, note=note
        )
        if response.status == 429:
            stats.rate_limited += 1
        if too_long:
            return _Failure(error, retry_after, retryable=False)
        if response.status != 429:
            return _Failure(error, retry_after, is_retryable_status(response.status))
        hourly = "hourly" in (error.server_message or "").lower()
        return _Failure(error, retry_after, pause=True, hourly=hourly)

    def unreadable_error(self, page: int, cause: Exception, attempts: int) -> APIConnectionError:
        """The error for a page whose body stayed unreadable through all its attempts."""
        return self._connection_error(
            page, f"a body that is not JSON ({cause})" + _gave_up(attempts)
        )

    def _connection_error(self, page: int, what: str) -> APIConnectionError:
        return APIConnectionError(
            f"page {page}: the server answered 200 with {what}", path=self.path, page=page
        )


@dataclass
class _Failure:
    """An attempt that did not give a usable page."""

    error: APIError
    retry_after: float | None = None
    retryable: bool = True
    pause: bool = False
    """A 429 the whole account waits out before its next request."""
    hourly: bool = False
    """The 429 names Kore's hourly limit rather than the per-minute one."""


class _Budget:
    """One fetch's claims on the account's budget: its priority and how long it may wait."""

    def __init__(self, interactive: bool, allowed: float) -> None:
        self.interactive = interactive
        self.allowed = allowed
        self.first_429: float | None = None
        self.last_429: APIError | None = None
        self.rate_limits = 0
        """429s this fetch has had."""

    def rate_limited(self, error: APIError) -> None:
        """A 429 came: from the first one on, waits also spend the 429 time budget."""
        if self.first_429 is None:
            self.first_429 = time.monotonic()
        self.last_429 = error
        self.rate_limits += 1

    def max_wait(self, max_rate_limit_wait: float) -> float:
        """How long the next turn may wait for the budget."""
        if self.first_429 is None:
            return self.allowed
        left = self.first_429 + max_rate_limit_wait - time.monotonic()
        return min(self.allowed, max(0.0, left))

    def error(
        self, exc: BudgetWaitTooLong, page: int, path: str, max_rate_limit_wait: float
    ) -> RateLimitError:
        """The error for a request that would wait for the budget beyond what it may."""
        last = self.last_429
        # The 429 budget ran out (rather than max_rate_wait): say so on the last 429.
        by_429 = self.max_wait(max_rate_limit_wait) < self.allowed or math.isinf(self.allowed)
        if self.first_429 is not None and isinstance(last, RateLimitError) and by_429:
            return with_note(
                last,
                f"; waited {time.monotonic() - self.first_429:.1f} s after 429s for "
                f"{exc.describe}, which needed about {exc.needed:.1f} s more: beyond "
                f"max_rate_limit_wait={max_rate_limit_wait:g} s",
            )
        return RateLimitError(
            f"page {page}: waited {exc.waited:.1f} s for the rate budget ({exc.describe}); "
            f"it needed about {exc.needed:.1f} s more, beyond max_rate_wait={self.allowed:g} s",
            path=path,
            page=page,
            retry_after=exc.needed,
        )


def _gave_up(attempts: int) -> str:
    return f" (gave up after {attempts} attempt{'' if attempts == 1 else 's'})"


def _status_error(
    response: Response, *, page: int, path: str, retry_after: float | None, token: str, note: str
) -> APIStatusError:
    """The typed error for an HTTP error answer; ``note`` ends its message."""
    status = response.status
    details = response_details(response.headers, response.body, [token])
    server_message = _server_message(response.body, details["errors"], token)
    text = f"HTTP {status} from POST {path} (page {page})"
    if server_message:
        text += f": {server_message}"
    hint = _HINTS.get(status)
    if hint:
        text += f"; {hint}"
    if 300 <= status < 400:
        location = response.headers.get("Location", "?")
        where = server_text(location, [token], 120)
        text += f"; redirected to {where}, not followed: check the host"
    text += note
    if status == 429:
        return RateLimitError(
            text,
            server_message=server_message,
            path=path,
            page=page,
            retry_after=retry_after,
            **details,
        )
    kind = _STATUS_ERRORS.get(status, ServerError if status >= 500 else APIStatusError)
    return kind(
        text, status_code=status, server_message=server_message, path=path, page=page, **details
    )


def _server_message(body: ResponseBody, errors: Sequence[ErrorDetail], token: str) -> str | None:
    """The server's own words: Kore's ``{"errors": [{"msg": ...}]}`` or the text, shortened."""
    if not body:
        return None
    msgs = [error.msg for error in errors if error.msg is not None]
    words = "; ".join(msgs) if msgs else _own_words(body)
    return server_text(words, [token], _MAX_SERVER_MESSAGE) or None


def _own_words(body: ResponseBody) -> ResponseBody | str:
    """Another shape's message (``message``, ``msg``, ``error``), or the body itself."""
    try:
        data = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):  # not JSON, or nested too deep to read
        return body
    if isinstance(data, dict):
        for key in ("message", "msg", "error"):
            if isinstance(data.get(key), str):
                text: str = data[key]
                return text
    return body
