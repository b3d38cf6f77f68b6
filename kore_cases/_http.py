"""What the SDK and its HTTP transport exchange: an answer (:class:`Response`) or a failure.

Kept apart from :mod:`kore_cases._transport` (the aiohttp session, and the only importer of
aiohttp) so that ``import kore_cases`` does not load aiohttp: the transport is imported
when a client opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Response", "TransportError"]


@dataclass(frozen=True, slots=True)
class Response:
    """A complete HTTP answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class TransportError(Exception):
    """No complete answer arrived. ``timeout`` tells a timeout from other failures;
    ``retryable`` is false for a failure that another attempt cannot cure."""

    def __init__(self, message: str, *, timeout: bool = False, retryable: bool = True) -> None:
        super().__init__(message)
        self.timeout = timeout
        self.retryable = retryable
