"""``CasesClient``: configuration checks, lifecycle, and the wiring of the parts."""

from __future__ import annotations

import ipaddress
import os
import platform
import re
import ssl as ssl_module
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload
from urllib.parse import urlsplit

import msgspec

from ._fetch import PageFetcher, decode_page
from ._pagination import CaseIterator, PageIterator, TaskOwner, check_pull_arguments
from ._ratelimit import DEFAULT_RATE_LIMIT, RateLimit
from ._retry import RetryPolicy
from ._stats import PullStats
from ._throttle import Throttle
from ._transport import Transport
from ._version import __version__
from .auth import Auth, JwtAuth, StaticToken
from .filters import CaseFilter
from .models import Case, CasesPage, page_decoder

if TYPE_CHECKING:
    import aiohttp

__all__ = ["CasesClient"]

T = TypeVar("T")

_STREAM_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PATH = "/caseManagement/api/public/analytics/{stream_id}/getCases"
_OWN_HEADERS = frozenset({"auth", "accountid", "content-type"})
_MIB = 1024 * 1024


class CasesClient:
    """Async client of the Kore.ai Case Management Get Cases API.

    Open it with ``async with`` (or ``await client.open()`` and later
    ``await client.aclose()``); one aiohttp session serves every request::

        async with CasesClient(
            host="https://platform.kore.ai",
            stream_id="st-…",
            account_id="…",
            auth=JwtAuth(client_id="cs-…", client_secret="…"),
        ) as client:
            async for case in client.iter_cases(CaseFilter(status=["open"])):
                print(case.ref_id, case.status.name if case.status else None)

    Parameters:
        host: the environment URL with its scheme, e.g. ``"https://platform.kore.ai"``.
            ``http://`` is refused for anything but a loopback host unless
            ``allow_insecure_http=True``: the token would cross the network in clear.
        stream_id: the bot's stream id (``st-…``); letters, digits, ``-`` and ``_``.
        account_id: the account id, sent as the ``accountId`` header.
        auth: :class:`JwtAuth`, :class:`StaticToken`, anything with a ``token()``
            method, or a plain ``str`` (a static token).
        page_size: cases asked per page (the server may clamp it; its answer rules).
        concurrency: requests in flight at once, shared by everything this client does;
            also the number of pages a pull fetches ahead of its consumer.
        timeout: seconds for one whole request, connection to last byte.
        max_retries: retries of a request after a retryable failure (408, 429, 5xx,
            connection errors, timeouts, a 200 whose body is not JSON).
        rate_limit: request-rate windows to stay under; the default is Kore's
            ``RateLimit((600, 60.0), (18000, 3600.0))``; ``None`` turns it off.
        paging: ``"page"`` sends ``page``/``limit``; ``"skip"`` sends ``skip``/``limit``
            (the getTasks style), for servers that ignore ``page``.
        extra_headers: more headers to send with every request.
        allow_insecure_http: allow ``http://`` to a non-loopback host.
        ssl: an :class:`ssl.SSLContext` to verify the server with (a corporate CA);
            ``None`` verifies against the system's certificates.
        backoff_base, backoff_max: the capped exponential backoff, in seconds: before
            retry ``n`` wait ``min(backoff_max, backoff_base * 2**(n-1))`` times a random
            factor in [0.5, 1]; a longer ``Retry-After`` from the server wins.
        max_retry_after: a 429 asking to wait longer than this many seconds raises
            :class:`RateLimitError` (with ``retry_after``) instead of sleeping.
        max_response_bytes: answers larger than this are refused unread (64 MiB).
        trace_configs: aiohttp ``TraceConfig`` objects, for metrics on every request.
    """

    def __init__(
        self,
        host: str,
        stream_id: str,
        account_id: str,
        auth: Auth | str,
        *,
        page_size: int = 50,
        concurrency: int = 8,
        timeout: float = 30.0,
        max_retries: int = 5,
        rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT,
        paging: Literal["page", "skip"] = "page",
        extra_headers: Mapping[str, str] | None = None,
        allow_insecure_http: bool = False,
        ssl: ssl_module.SSLContext | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        max_retry_after: float = 60.0,
        max_response_bytes: int = 64 * _MIB,
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
    ) -> None:
        self.host = _check_host(host, allow_insecure_http)
        if not isinstance(stream_id, str) or not _STREAM_ID.match(stream_id):
            raise ValueError(
                f"stream_id must hold only letters, digits, '-' and '_' (it goes into the "
                f"URL path), e.g. 'st-084d3c5e-376a-559f-9987-a012bb2b0000'; got {stream_id!r}"
            )
        if not isinstance(account_id, str) or not account_id.strip():
            raise ValueError("account_id must be the non-empty account id (the accountId header)")
        if _CONTROL.search(account_id):
            raise ValueError("account_id must not contain CR, LF or other control characters")
        self.stream_id = stream_id
        self.account_id = account_id
        self.auth: Auth = _check_auth(auth)
        self.page_size = _positive_int("page_size", page_size)
        self.concurrency = _positive_int("concurrency", concurrency)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"timeout must be a number of seconds > 0, not {timeout!r}")
        self.timeout = float(timeout)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int):
            raise ValueError(f"max_retries must be a whole number >= 0, not {max_retries!r}")
        self._policy = RetryPolicy(max_retries, backoff_base, backoff_max, max_retry_after)
        self.max_retries = max_retries
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise TypeError(f"rate_limit must be a RateLimit or None, not {rate_limit!r}")
        self.rate_limit = rate_limit
        if paging not in ("page", "skip"):
            raise ValueError(f"paging must be 'page' or 'skip', not {paging!r}")
        self.paging: Literal["page", "skip"] = paging
        if ssl is not None and not isinstance(ssl, ssl_module.SSLContext):
            raise TypeError(f"ssl must be an ssl.SSLContext or None, not {type(ssl).__name__}")
        self._max_response_bytes = _positive_int("max_response_bytes", max_response_bytes)
        self.path = _PATH.format(stream_id=stream_id)
        self.url = self.host + self.path
        self._headers = {
            "accountId": account_id,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"kore-cases/{__version__} python/{platform.python_version()}",
            **_check_extra_headers(extra_headers),
        }
        self._ssl = ssl
        self._trace_configs = list(trace_configs or ())
        self._transport: Transport | None = None
        self._fetcher: PageFetcher | None = None
        self._tasks = TaskOwner()
        self._closed = False

    @classmethod
    def from_env(cls, **options: Any) -> CasesClient:
        """Build a client from ``KORE_*`` environment variables.

        Reads ``KORE_HOST``, ``KORE_STREAM_ID``, ``KORE_ACCOUNT_ID`` and either
        ``KORE_CLIENT_ID`` + ``KORE_CLIENT_SECRET`` (a :class:`JwtAuth`) or ``KORE_JWT``
        (a :class:`StaticToken`). Keyword ``options`` are passed to the constructor.
        """
        env = os.environ
        missing = [n for n in ("KORE_HOST", "KORE_STREAM_ID", "KORE_ACCOUNT_ID") if not env.get(n)]
        auth: Auth
        if env.get("KORE_CLIENT_ID") and env.get("KORE_CLIENT_SECRET"):
            auth = JwtAuth(env["KORE_CLIENT_ID"], env["KORE_CLIENT_SECRET"])
        elif env.get("KORE_JWT"):
            auth = StaticToken(env["KORE_JWT"])
        else:
            missing.append("KORE_CLIENT_ID and KORE_CLIENT_SECRET (or KORE_JWT)")
        if missing:
            raise ValueError(f"set the environment variable(s) {', '.join(missing)}")
        return cls(env["KORE_HOST"], env["KORE_STREAM_ID"], env["KORE_ACCOUNT_ID"], auth, **options)

    # -- lifecycle ------------------------------------------------------------------

    async def open(self) -> CasesClient:
        """Open the HTTP session; ``async with`` does this for you. Returns the client."""
        if self._closed:
            raise RuntimeError("this CasesClient is closed; create a new one")
        if self._transport is not None:
            return self
        transport = Transport(
            timeout=self.timeout,
            connections=self.concurrency,
            headers=self._headers,
            ssl=self._ssl,
            max_response_bytes=self._max_response_bytes,
            trace_configs=self._trace_configs,
        )
        await transport.open()
        self._transport = transport
        self._fetcher = PageFetcher(
            transport=transport,
            throttle=Throttle(self.concurrency, self.rate_limit),
            auth=self.auth,
            url=self.url,
            path=self.path,
            paging=self.paging,
            policy=self._policy,
        )
        return self

    async def aclose(self) -> None:
        """Cancel running pulls and close the HTTP session. Safe to call more than once."""
        self._closed = True
        self._fetcher = None
        await self._tasks.cancel_all()
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()

    async def __aenter__(self) -> CasesClient:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"CasesClient(host={self.host!r}, stream_id={self.stream_id!r}, "
            f"account_id={self.account_id!r}, auth={self.auth!r}, page_size={self.page_size}, "
            f"concurrency={self.concurrency})"
        )

    # -- requests -------------------------------------------------------------------

    @overload
    async def get_page(
        self, filter: CaseFilter | None = None, *, page: int = 1, page_size: int | None = None
    ) -> CasesPage[Case]: ...

    @overload
    async def get_page(
        self,
        filter: CaseFilter | None = None,
        *,
        page: int = 1,
        page_size: int | None = None,
        model: type[T],
    ) -> CasesPage[T]: ...

    async def get_page(
        self,
        filter: CaseFilter | None = None,
        *,
        page: int = 1,
        page_size: int | None = None,
        model: Any = Case,
    ) -> CasesPage[Any]:
        """Fetch one page of cases (1-based ``page``), retrying as configured."""
        body = _filter_body(filter)
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise ValueError(f"page must be a whole number >= 1, not {page!r}")
        check_pull_arguments(model, page)
        size = self.page_size if page_size is None else _positive_int("page_size", page_size)
        fetcher = self._require_open()
        decoder = page_decoder(model)
        result, _attempts = await fetcher.fetch(
            fetcher.request_body(body, page, size),
            page=page,
            stats=PullStats(),
            parse=lambda data: decode_page(data, decoder, page=page, path=self.path),
        )
        return result

    async def count(self, filter: CaseFilter | None = None) -> int:
        """Return how many cases match ``filter`` (``totalResults``), with one small request."""
        first = await self.get_page(filter, page=1, page_size=1, model=msgspec.Raw)
        return first.total_results

    @overload
    def iter_pages(
        self,
        filter: CaseFilter | None = None,
        *,
        ordered: bool = True,
        start_page: int = 1,
        dedupe: bool = True,
    ) -> PageIterator[Case]: ...

    @overload
    def iter_pages(
        self,
        filter: CaseFilter | None = None,
        *,
        ordered: bool = True,
        model: type[T],
        start_page: int = 1,
        dedupe: bool = True,
    ) -> PageIterator[T]: ...

    def iter_pages(
        self,
        filter: CaseFilter | None = None,
        *,
        ordered: bool = True,
        model: Any = Case,
        start_page: int = 1,
        dedupe: bool = True,
    ) -> PageIterator[Any]:
        """Iterate over the pages of every case matching ``filter``, fetched concurrently.

        Same options as :meth:`iter_cases`; empty pages are not yielded. When the data
        moves during the pull, pages are re-read; with ``dedupe=True`` their cases
        already yielded are removed from ``results``.
        """
        return self._pages(filter, model, ordered, start_page, dedupe, None)

    @overload
    def iter_cases(
        self,
        filter: CaseFilter | None = None,
        *,
        max_items: int | None = None,
        ordered: bool = True,
        start_page: int = 1,
        dedupe: bool = True,
    ) -> CaseIterator[Case]: ...

    @overload
    def iter_cases(
        self,
        filter: CaseFilter | None = None,
        *,
        max_items: int | None = None,
        ordered: bool = True,
        model: type[T],
        start_page: int = 1,
        dedupe: bool = True,
    ) -> CaseIterator[T]: ...

    def iter_cases(
        self,
        filter: CaseFilter | None = None,
        *,
        max_items: int | None = None,
        ordered: bool = True,
        model: Any = Case,
        start_page: int = 1,
        dedupe: bool = True,
    ) -> CaseIterator[Any]:
        """Iterate over every case matching ``filter``: ``async for case in ...``.

        Page ``start_page`` is fetched first; its ``totalPages`` plans the rest, which
        are fetched ``concurrency`` at a time, at most ``concurrency`` pages ahead of the
        consumer, and decoded as the consumer reaches them. Memory stays bounded by that
        window whatever the size of the result.

        Options:
            max_items: stop after this many cases (and cancel the fetches in flight).
            ordered: yield in the server's order (default), or pages as they arrive.
            model: the type each case decodes to: :class:`Case`, a msgspec Struct of
                your own with only the fields you need (decodes several times faster),
                or ``dict``.
            start_page: the page to start from; pass an error's ``resume_page`` here to
                continue a pull that failed.
            dedupe: never yield a case id twice, even when new cases shift pages during
                the pull. It keeps a hash of each id yielded: about 100 bytes per case
                (100 MB for a million); pass ``dedupe=False`` to keep memory flat.

        An error raised during the pull carries ``page`` and ``resume_page``; in ordered
        mode nothing after the failed page has been yielded, so
        ``start_page=error.resume_page`` continues without loss or repetition. In
        unordered mode pages after ``resume_page`` may already have been yielded.
        """
        pages = self._pages(filter, model, ordered, start_page, dedupe, max_items)
        return CaseIterator(pages, max_items=max_items)

    def _pages(
        self,
        filter: CaseFilter | None,
        model: Any,
        ordered: bool,
        start_page: int,
        dedupe: bool,
        max_items: int | None,
    ) -> PageIterator[Any]:
        body = _filter_body(filter)
        fetcher = self._require_open()
        return PageIterator(
            fetcher,
            self._tasks,
            body,
            model=model,
            page_size=self.page_size,
            window=self.concurrency,
            start_page=start_page,
            ordered=ordered,
            dedupe=dedupe,
            max_items=max_items,
        )

    def _require_open(self) -> PageFetcher:
        if self._fetcher is None:
            if self._closed:
                raise RuntimeError("this CasesClient is closed; create a new one")
            raise RuntimeError(
                "this CasesClient is not open: use `async with CasesClient(...) as client:` "
                "or `await client.open()` first"
            )
        return self._fetcher


def _filter_body(filter: CaseFilter | None) -> dict[str, Any]:
    if filter is None:
        return {}
    if not isinstance(filter, CaseFilter):
        raise TypeError(
            f"filter must be a CaseFilter, e.g. CaseFilter(status=['open']), not "
            f"{type(filter).__name__}"
        )
    return filter.to_body()


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, not {value!r}")
    return value


def _check_host(host: object, allow_insecure_http: bool) -> str:
    if not isinstance(host, str):
        raise TypeError(f"host must be a str such as 'https://platform.kore.ai', not {host!r}")
    # Never echo user:password@ back in a message.
    shown = repr("***@" + host.rsplit("@", 1)[1] if "@" in host else host)
    parts = urlsplit(host.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"host must be a URL with its scheme, such as 'https://platform.kore.ai'; got {shown}"
        )
    if "@" in parts.netloc:
        raise ValueError(
            "host must not carry credentials (user:password@); authenticate with auth="
        )
    if parts.query or parts.fragment:
        raise ValueError(f"host must not carry a query or fragment; got {shown}")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise ValueError(
            f"host {shown} uses http://, which would send the token in clear across the "
            "network: use https://, or pass allow_insecure_http=True if you must"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _check_auth(auth: object) -> Auth:
    if isinstance(auth, str):
        return StaticToken(auth)
    if isinstance(auth, Auth):
        return auth
    raise TypeError(
        "auth must be JwtAuth(client_id, client_secret), StaticToken(token), a token str, "
        f"or an object with a token() method; got {type(auth).__name__}"
    )


def _check_extra_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    if headers is None:
        return {}
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(
                f"extra_headers must map str to str; got {name!r}: {type(value).__name__}"
            )
        if not name or _CONTROL.search(name) or ":" in name or _CONTROL.search(value):
            raise ValueError(f"extra_headers[{name!r}] holds CR, LF or another control character")
        if name.lower() in _OWN_HEADERS:
            raise ValueError(
                f"extra_headers may not set {name!r}: the client sets it (use auth= or account_id=)"
            )
        checked[name] = value
    return checked
