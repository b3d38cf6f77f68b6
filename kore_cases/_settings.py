"""What a client was configured with: checked once, then one read-only record.

``CasesClient`` checks each constructor argument here and keeps the result in a frozen
:class:`Settings`; its ``host``, ``timeout``, ``retry``... are read-only properties over
it, so that no attribute can be set that would not take effect. ``with_options()``
makes a changed copy with :func:`dataclasses.replace`. A new option is a field here
(with a default, at the end), a check, and a property in
:mod:`kore_cases._client_config`.
"""

from __future__ import annotations

import ipaddress
import math
import re
import ssl as ssl_module
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal, TypedDict
from urllib.parse import SplitResult, urlsplit

from ._checks import seconds
from ._http import AsyncTransport
from ._limiter import RateLimiter
from ._page_size import PageSize
from ._ratelimit import RateLimit
from ._retry import Retry
from ._wire import GET_CASES_PATH
from .auth import Auth, StaticToken
from .hooks import Hooks

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "CallOptions",
    "ClientOptions",
    "EnvOptions",
    "Paging",
    "Settings",
    "check_account_id",
    "check_auth",
    "check_extra_headers",
    "check_hooks",
    "check_host",
    "check_paging",
    "check_rate_limit",
    "check_ssl",
    "check_stream_id",
    "merge_retry",
    "unknown",
    "with_call_options",
]

Paging = Literal["page", "skip"]
Priority = Literal["interactive", "bulk"]
"""Where a view's requests queue for the account's budget (see ``with_options``)."""

_STREAM_ID = re.compile(r"[A-Za-z0-9_-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_OWN_HEADERS = frozenset({"auth", "accountid", "content-type"})


@dataclass(frozen=True)
class Settings:
    """A client's whole configuration, checked; see :class:`~kore_cases.CasesClient`."""

    host: str
    stream_id: str
    account_id: str
    auth: Auth = field(repr=False)
    page_size: PageSize
    max_page_size: int
    concurrency: int
    timeout: float
    retry: Retry
    rate_limit: RateLimit | RateLimiter | None
    paging: Paging
    extra_headers: Mapping[str, str] = field(repr=False)
    ssl: ssl_module.SSLContext | None = field(repr=False)
    max_response_bytes: int
    trace_configs: tuple[aiohttp.TraceConfig, ...] = field(repr=False)
    hooks: Hooks | None = field(default=None, repr=False)
    transport: AsyncTransport | None = field(default=None, repr=False)
    max_rate_wait: float = math.inf
    max_rate_limit_wait: float = 300.0
    priority: Priority | None = None
    """``None``: one-page calls go first, a pull's pages after them."""

    @property
    def path(self) -> str:
        """The getCases endpoint path of this stream."""
        return GET_CASES_PATH.format(stream_id=self.stream_id)

    @property
    def url(self) -> str:
        """The full getCases URL."""
        return self.host + self.path


class ClientOptions(TypedDict, total=False):
    """The keyword options of :class:`~kore_cases.CasesClient`, for typing ``**options``.

    The blocking client takes them as they are; ``CasesClient.from_env(**options)``
    takes them too (with ``host``, ``stream_id``, ``account_id`` and ``auth``, which
    override the environment). A misspelt name is an error for a type checker and a
    ``TypeError`` at run time. See the client for what each one means.
    """

    page_size: PageSize
    max_page_size: int
    concurrency: int
    timeout: float
    retry: Retry | None
    max_retries: int | None
    rate_limit: RateLimit | RateLimiter | None
    max_rate_wait: float | None
    max_rate_limit_wait: float
    paging: Paging
    extra_headers: Mapping[str, str] | None
    allow_insecure_http: bool
    ssl: ssl_module.SSLContext | None
    backoff_base: float | None
    backoff_max: float | None
    max_retry_after: float | None
    max_response_bytes: int
    trace_configs: Sequence[aiohttp.TraceConfig] | None
    hooks: Hooks | None
    transport: AsyncTransport | None


class EnvOptions(ClientOptions, total=False):
    """What ``from_env(**options)`` takes: :class:`ClientOptions` and the connection."""

    host: str
    stream_id: str
    account_id: str
    auth: Auth | str


class CallOptions(TypedDict, total=False):
    """What ``client.with_options(**options)`` may change for the calls of a view."""

    timeout: float
    max_retries: int
    max_rate_wait: float | None
    priority: Priority | None


def with_call_options(settings: Settings, options: CallOptions) -> Settings:
    """``settings`` with the per-call ``options`` applied, each checked."""
    unknown(options, CallOptions, "with_options()")
    if "timeout" in options:
        settings = replace(settings, timeout=seconds("timeout", options["timeout"]))
    if "max_retries" in options:
        retry = replace(settings.retry, max_retries=options["max_retries"])
        settings = replace(settings, retry=retry)
    if "max_rate_wait" in options:
        settings = replace(settings, max_rate_wait=wait_bound(options["max_rate_wait"]))
    if "priority" in options:
        priority = options["priority"]
        if priority not in (None, "interactive", "bulk"):
            raise ValueError(
                f"priority must be 'interactive', 'bulk' or None (one-page calls first), "
                f"not {priority!r}"
            )
        settings = replace(settings, priority=priority)
    return settings


def wait_bound(value: object, name: str = "max_rate_wait") -> float:
    """Seconds a request may wait for the budget; ``None`` means as long as it takes."""
    return math.inf if value is None else seconds(name, value, zero=True, infinite=True)


def unknown(options: Mapping[str, object], allowed: type, where: str) -> None:
    """Raise :class:`TypeError` naming the keys of ``options`` that ``allowed`` lacks."""
    names = allowed.__annotations__
    wrong = sorted(set(options) - set(names))
    if wrong:
        raise TypeError(
            f"{where} got unknown option(s) {', '.join(wrong)}; it takes: {', '.join(names)}"
        )


def merge_retry(
    retry: Retry | None,
    *,
    max_retries: int | None,
    backoff_base: float | None,
    backoff_max: float | None,
    max_retry_after: float | None,
) -> Retry:
    """``retry`` (or the default :class:`Retry`) with the flat keywords given laid over it."""
    if retry is not None and not isinstance(retry, Retry):
        raise TypeError(f"retry must be a kore_cases.Retry or None, not {type(retry).__name__}")
    flat = {
        "max_retries": max_retries,
        "backoff_base": backoff_base,
        "backoff_max": backoff_max,
        "max_retry_after": max_retry_after,
    }
    given = {name: value for name, value in flat.items() if value is not None}
    base = retry if retry is not None else Retry()
    return Retry(**{**vars(base), **given}) if given else base


def check_host(host: object, allow_insecure_http: bool) -> str:
    """The host URL without a trailing ``/``; refuses what would leak or misroute."""
    if not isinstance(host, str):
        raise TypeError(f"host must be a str such as 'https://platform.kore.ai', not {host!r}")
    # Never echo user:password@ back in a message.
    shown = repr("***@" + host.rsplit("@", 1)[1] if "@" in host else host)
    if _CONTROL.search(host.strip()):
        # urlsplit would silently drop a CR, LF or tab; the host was mistyped or injected.
        raise ValueError(f"host must not contain CR, LF or other control characters; got {shown}")
    parts = urlsplit(host.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"host must be a URL with its scheme, such as 'https://platform.kore.ai'; got {shown}"
        )
    _check_port(parts, shown)
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


def _check_port(parts: SplitResult, shown: str) -> None:
    """Refuse a port that is not a number from 1 to 65535, before any request is sent."""
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError(
            f"host has a port that is not a number from 1 to 65535; got {shown} "
            "(leave the port out for https' 443)"
        )


def check_stream_id(stream_id: object) -> str:
    """A stream id safe to put into the URL path."""
    if not isinstance(stream_id, str) or not _STREAM_ID.fullmatch(stream_id):
        raise ValueError(
            f"stream_id must hold only letters, digits, '-' and '_' (it goes into the "
            f"URL path), e.g. 'st-084d3c5e-376a-559f-9987-a012bb2b0000'; got {stream_id!r}"
        )
    return stream_id


def check_account_id(account_id: object) -> str:
    """A non-empty account id safe to send as a header."""
    if not isinstance(account_id, str) or not account_id.strip():
        raise ValueError("account_id must be the non-empty account id (the accountId header)")
    if _CONTROL.search(account_id):
        raise ValueError("account_id must not contain CR, LF or other control characters")
    return account_id


def check_auth(auth: object) -> Auth:
    """An :class:`Auth`; a plain ``str`` becomes a :class:`StaticToken`."""
    if isinstance(auth, str):
        return StaticToken(auth)
    if isinstance(auth, Auth):
        return auth
    raise TypeError(
        "auth must be JwtAuth(client_id, client_secret), StaticToken(token), a token str, "
        f"or an object with a token() method; got {type(auth).__name__}"
    )


def check_paging(paging: object) -> Paging:
    """``"page"`` or ``"skip"``."""
    if paging == "page":
        return "page"
    if paging == "skip":
        return "skip"
    raise ValueError(f"paging must be 'page' or 'skip', not {paging!r}")


def check_rate_limit(rate_limit: object) -> RateLimit | RateLimiter | None:
    """A :class:`RateLimit`, a :class:`RateLimiter` or ``None``."""
    if rate_limit is not None and not isinstance(rate_limit, (RateLimit, RateLimiter)):
        raise TypeError(
            f"rate_limit must be a RateLimit, a RateLimiter or None, not {rate_limit!r}"
        )
    return rate_limit


def check_ssl(ssl: object) -> ssl_module.SSLContext | None:
    """An :class:`ssl.SSLContext` or ``None`` (the system's certificates)."""
    if ssl is not None and not isinstance(ssl, ssl_module.SSLContext):
        raise TypeError(f"ssl must be an ssl.SSLContext or None, not {type(ssl).__name__}")
    return ssl


def check_hooks(hooks: object) -> Hooks | None:
    """A :class:`~kore_cases.hooks.Hooks` or ``None``."""
    if hooks is not None and not isinstance(hooks, Hooks):
        raise TypeError(
            f"hooks must be kore_cases.hooks.Hooks(on_request=..., ...) or None, not {hooks!r}"
        )
    return hooks


def check_extra_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Headers of the caller's, refusing header injection and the client's own headers."""
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
