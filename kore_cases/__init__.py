"""kore-cases: an async Python SDK for the Kore.ai Case Management Get Cases API.

Stream every case matching a filter, as fast as the server allows, in bounded memory::

    from kore_cases import CasesClient, CaseFilter, JwtAuth

    async with CasesClient(
        host="https://platform.kore.ai",
        stream_id="st-…",
        account_id="…",
        auth=JwtAuth(client_id="cs-…", client_secret="…"),
    ) as client:
        async for case in client.iter_cases(CaseFilter(priority=["high"], unresolved=True)):
            print(case.id, case.ref_id, case.created_at)

Everything public is importable from here; the modules whose names start with ``_``
are private and may change without notice.
"""

from ._arrow import RecordBatchIterator
from ._client import CasesClient
from ._extras import MissingExtraError
from ._http import AsyncTransport, Request, Response, TransportError
from ._limiter import RateLimiter
from ._pagination import CaseIterator, PageIterator
from ._ratelimit import RateLimit
from ._retry import Retry
from ._settings import CallOptions, ClientOptions, EnvOptions
from ._stats import PullStats
from ._sync import SyncProgress, SyncStateError, SyncSummary
from ._version import __version__
from ._watch import (
    CaseAdded,
    CaseChanged,
    CaseRemoved,
    CaseWatch,
    WatchCursor,
    WatchEvent,
    WatchMode,
    WatchStats,
)
from ._windows import TimeWindow, WindowedPages
from .auth import Auth, JwtAuth, StaticToken
from .errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ErrorDetail,
    KoreCasesError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    ResponseValidationError,
    ServerError,
)
from .filters import CaseFilter, DateLike, SortBy
from .hooks import Hooks
from .models import (
    Case,
    CaseField,
    CasesPage,
    FieldMetaData,
    Priority,
    Status,
    UserInfo,
    UserRef,
    page_decoder,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncTransport",
    "Auth",
    "AuthenticationError",
    "BadRequestError",
    "CallOptions",
    "Case",
    "CaseAdded",
    "CaseChanged",
    "CaseField",
    "CaseFilter",
    "CaseIterator",
    "CaseRemoved",
    "CaseWatch",
    "CasesClient",
    "CasesPage",
    "ClientClosedError",
    "ClientOptions",
    "DateLike",
    "EnvOptions",
    "ErrorDetail",
    "FieldMetaData",
    "Hooks",
    "JwtAuth",
    "KoreCasesError",
    "MissingExtraError",
    "NotFoundError",
    "PageIterator",
    "PaginationError",
    "PermissionDeniedError",
    "Priority",
    "PullStats",
    "RateLimit",
    "RateLimitError",
    "RateLimiter",
    "RecordBatchIterator",
    "Request",
    "Response",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "Retry",
    "ServerError",
    "SortBy",
    "StaticToken",
    "Status",
    "SyncProgress",
    "SyncStateError",
    "SyncSummary",
    "TimeWindow",
    "TransportError",
    "UserInfo",
    "UserRef",
    "WatchCursor",
    "WatchEvent",
    "WatchMode",
    "WatchStats",
    "WindowedPages",
    "__version__",
    "page_decoder",
]
