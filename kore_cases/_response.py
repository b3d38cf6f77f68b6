"""What a status error keeps of the response: headers without secrets, Kore's error list,
and the request id a support desk asks for.

Header values that carry credentials (``Set-Cookie``, ``Authorization``...) are replaced
by ``***`` whole, and every other value, like every message, goes through
:func:`kore_cases._redact.redact`, should the server echo the token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypedDict

import msgspec

from ._http import ResponseBody
from ._redact import REDACTED, redact
from .errors import ErrorDetail

__all__ = ["REQUEST_ID_HEADERS", "ResponseDetails", "response_details"]

_SECRET_HEADERS = frozenset(
    {
        "auth",
        "authorization",
        "cookie",
        "proxy-authenticate",
        "proxy-authorization",
        "set-cookie",
        "x-api-key",
        "x-auth-token",
    }
)
REQUEST_ID_HEADERS = (
    "X-Request-Id",
    "Request-Id",
    "X-Correlation-Id",
    "X-Amzn-RequestId",
    "X-Amz-Request-Id",
)
"""Headers a request id is read from, first found wins (Kore documents none)."""


class ResponseDetails(TypedDict):
    """The parts of an error response an :class:`~kore_cases.APIStatusError` keeps."""

    headers: dict[str, str]
    errors: tuple[ErrorDetail, ...]
    request_id: str | None


def response_details(
    headers: Mapping[str, str], body: ResponseBody, secrets: Iterable[str]
) -> ResponseDetails:
    """Headers (secrets out), ``{"errors": [{"msg", "code"}]}`` and a request id."""
    hidden = [secret for secret in secrets if secret]
    kept = {
        name: REDACTED if name.lower() in _SECRET_HEADERS else redact(value, hidden)
        for name, value in headers.items()
    }
    lowered = {name.lower(): value for name, value in kept.items()}
    request_id = next(
        (lowered[name.lower()] for name in REQUEST_ID_HEADERS if lowered.get(name.lower())),
        None,
    )
    return {"headers": kept, "errors": _errors(body, hidden), "request_id": request_id}


def _errors(body: ResponseBody, secrets: list[str]) -> tuple[ErrorDetail, ...]:
    try:
        data = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):  # not JSON: no list to keep
        return ()
    entries = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return ()
    return tuple(
        ErrorDetail(
            msg=None if entry.get("msg") is None else redact(str(entry["msg"]), secrets),
            code=entry.get("code") if isinstance(entry.get("code"), (int, str)) else None,
        )
        for entry in entries
        if isinstance(entry, dict)
    )
