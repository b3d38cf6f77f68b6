"""The fake server's settings: its constructor keywords as one frozen record, checked once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from .._ratelimit import rate_window
from ._faults import Fault, check_fault

__all__ = ["ServerConfig"]


@dataclass(frozen=True)
class ServerConfig:
    """What ``FakeKoreServer(...)`` was given (see its ``__init__`` for each field).

    Made only through :meth:`of`, which refuses a bad value before anything starts.
    """

    cases: int
    seed: int
    client_id: str
    client_secret: str = field(repr=False)  # never in a traceback's locals or a log
    stream_id: str
    account_id: str
    host: str
    port: int
    latency: float
    latency_jitter: float
    max_page_size: int
    paging: Literal["page", "skip", "both"]
    rate_limits: tuple[tuple[int, float], ...]
    retry_after: bool
    fault_rate: float
    fault_kinds: tuple[Fault, ...]
    slow_seconds: float
    enforce_unique_jti: bool
    cache_pages: bool

    @classmethod
    def of(
        cls, keywords: Mapping[str, Any], default_rate_limits: Sequence[tuple[int, float]]
    ) -> ServerConfig:
        """The record of the constructor's ``keywords`` (``rate_limits=None``: the default).

        Raises:
            ValueError: a value the server cannot work with, named.
            TypeError: a rate window that is not a ``(max_requests, seconds)`` tuple.
        """
        values = {field.name: keywords[field.name] for field in fields(cls)}
        if values["paging"] not in ("page", "skip", "both"):
            raise ValueError("paging must be 'page', 'skip' or 'both'")
        if values["max_page_size"] < 1:
            raise ValueError("max_page_size must be >= 1")
        if not 0.0 <= values["fault_rate"] <= 1.0:
            raise ValueError("fault_rate must be within [0, 1]")
        if values["fault_rate"] and not values["fault_kinds"]:
            raise ValueError("fault_rate needs at least one fault kind")
        windows = values["rate_limits"]
        windows = default_rate_limits if windows is None else windows
        # Refused now, not at a request.
        values["rate_limits"] = tuple(map(rate_window, windows))
        values["fault_kinds"] = tuple(map(check_fault, values["fault_kinds"]))
        return cls(**values)
