"""The read-only configuration of a ``CasesClient``: properties over its ``Settings``.

:class:`ClientConfig` is the base of every part of :class:`kore_cases.CasesClient`
that needs the configuration: each property reads the frozen
:class:`~kore_cases._settings.Settings` the constructor checked, so no attribute can be
set that would not take effect. A new option is a field of ``Settings`` and a property
here.
"""

from __future__ import annotations

from ._limiter import RateLimiter
from ._page_size import PageSize
from ._ratelimit import RateLimit
from ._retry import Retry
from ._settings import Paging, Settings
from .auth import Auth

__all__ = ["ClientConfig"]


class ClientConfig:
    """What a client (or view) was configured with, read-only."""

    _settings: Settings

    @property
    def host(self) -> str:
        """The environment URL, without a trailing ``/``."""
        return self._settings.host

    @property
    def stream_id(self) -> str:
        """The bot's stream id."""
        return self._settings.stream_id

    @property
    def account_id(self) -> str:
        """The account id sent as the ``accountId`` header."""
        return self._settings.account_id

    @property
    def auth(self) -> Auth:
        """What mints the ``auth`` header of each request."""
        return self._settings.auth

    @property
    def page_size(self) -> PageSize:
        """Cases asked per page, or ``"max"``."""
        return self._settings.page_size

    @property
    def max_page_size(self) -> int:
        """What ``page_size="max"`` asks for first."""
        return self._settings.max_page_size

    @property
    def concurrency(self) -> int:
        """Requests in flight at once (and pages fetched ahead of a pull's consumer)."""
        return self._settings.concurrency

    @property
    def timeout(self) -> float:
        """Seconds for one whole request."""
        return self._settings.timeout

    @property
    def retry(self) -> Retry:
        """How failed requests are retried."""
        return self._settings.retry

    @property
    def max_retries(self) -> int:
        """Retries of a request after a retryable failure (``retry.max_retries``)."""
        return self._settings.retry.max_retries

    @property
    def rate_limit(self) -> RateLimit | None:
        """The request-rate windows this client keeps to (``None``: only 429 pauses)."""
        rate = self._settings.rate_limit
        return rate.rate_limit if isinstance(rate, RateLimiter) else rate

    @property
    def paging(self) -> Paging:
        """``"page"`` (``page``/``limit`` in the body) or ``"skip"`` (``skip``/``limit``)."""
        return self._settings.paging

    @property
    def path(self) -> str:
        """The getCases endpoint path of this stream."""
        return self._settings.path

    @property
    def url(self) -> str:
        """The full getCases URL."""
        return self._settings.url
