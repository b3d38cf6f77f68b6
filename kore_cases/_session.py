"""What a client shares with its ``with_options()`` views: the session and the budget.

:class:`Session` is opened and closed by the client that made it (a view never does):
the transport (aiohttp unless another was given), the headers of every request, the
throttle over the account's rate limiter, the tasks of the pulls in flight, the
:class:`~kore_cases._closing.Closer` that ends every call when the client closes, the
page size ``page_size="max"`` learns, and the :class:`~kore_cases._observe.Observer`.
:meth:`Session.fetcher` gives a :class:`~kore_cases._fetch.PageFetcher` over it with the
options of one client or view (its :class:`~kore_cases._settings.Settings`).
"""

from __future__ import annotations

import platform

from ._closing import Closer
from ._fetch import PageFetcher
from ._http import AsyncTransport
from ._limiter import AccountLimiter, RateLimiter, release_shared, shared_limiter
from ._observe import Observer
from ._page_size import PageSize, PageSizer
from ._pagination import TaskOwner
from ._settings import Settings
from ._throttle import Throttle
from ._version import __version__
from .errors import ClientClosedError

__all__ = ["Session"]


class Session:
    """What a client shares with its ``with_options()`` views: session, budget, pulls."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings  # the creating client's: they shape the session
        self.transport: AsyncTransport | None = None
        self.headers: dict[str, str] = {}  # every request's, but its `auth` token
        self.throttle: Throttle | None = None
        self.limiter: AccountLimiter | None = None  # from the registry: released on close
        self.tasks = TaskOwner()
        self.closer = Closer()  # ends every call in flight when the client closes
        self.closed = False
        # What page_size="max" learns serves every pull, get_page() and view.
        self.max_sizer = PageSizer("max", settings.max_page_size)
        self.observer = Observer(settings.hooks, url=settings.url)

    async def open(self) -> None:
        """Make the transport and the throttle; nothing is sent. Idempotent."""
        if self.closed:
            raise ClientClosedError("this CasesClient is closed; create a new one")
        if self.transport is not None:
            return
        s = self.settings
        self.headers = {
            "accountId": s.account_id,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"kore-cases/{__version__} python/{platform.python_version()}",
            **s.extra_headers,
        }
        self.transport = _aiohttp_transport(s) if s.transport is None else s.transport
        if isinstance(s.rate_limit, RateLimiter):
            limiter: AccountLimiter = s.rate_limit
        else:
            limiter = self.limiter = shared_limiter(s.host, s.account_id, s.rate_limit)
        self.throttle = Throttle(s.concurrency, limiter)

    async def close(self) -> None:
        """End every call and pull in flight, close the transport, release the budget."""
        self.closed = True
        self.throttle = None
        self.closer.close()
        await self.tasks.cancel_all()
        transport, self.transport = self.transport, None
        if transport is not None:
            await transport.aclose()
        limiter, self.limiter = self.limiter, None
        if limiter is not None:
            await release_shared(limiter)

    def sizer(self, page_size: PageSize) -> PageSizer:
        """The session's shared sizer for ``"max"``, a fixed one for a number."""
        return self.max_sizer if page_size == "max" else PageSizer(page_size)

    def fetcher(self, settings: Settings) -> PageFetcher:
        """A fetcher with the options ``settings`` of a client or view over this session."""
        if self.transport is None or self.throttle is None:
            if self.closed:
                raise ClientClosedError("this CasesClient is closed; create a new one")
            raise RuntimeError(
                "this CasesClient is not open: use `async with CasesClient(...) as client:` "
                "or `await client.open()` first"
            )
        return PageFetcher(
            transport=self.transport,
            throttle=self.throttle,
            auth=settings.auth,
            url=settings.url,
            path=settings.path,
            paging=settings.paging,
            policy=settings.retry,
            timeout=settings.timeout,
            max_rate_wait=settings.max_rate_wait,
            max_rate_limit_wait=settings.max_rate_limit_wait,
            priority=settings.priority,
            observer=self.observer,
            closer=self.closer,
            headers=self.headers,
        )


def _aiohttp_transport(s: Settings) -> AsyncTransport:
    # Imported here, not at the top: `import kore_cases` (and every pytest run that
    # loads our plugin) does not pay for aiohttp until a client opens.
    from ._transport import AiohttpTransport

    return AiohttpTransport(
        connections=s.concurrency,
        ssl=s.ssl,
        max_response_bytes=s.max_response_bytes,
        trace_configs=s.trace_configs,
    )
