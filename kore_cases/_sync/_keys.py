"""What sync needs to know of a case without decoding all of it, and its time arithmetic.

A case is kept as the bytes the API sent (:class:`msgspec.Raw`); :func:`case_key` reads
only its id, its times and its status category from them. Times are integers of epoch
milliseconds (Kore's own precision) so that windows and comparisons are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import msgspec

from .._wire import ms_from_datetime, ms_from_kore_time

__all__ = [
    "NO_MONTH",
    "CaseKey",
    "case_key",
    "datetime_from_ms",
    "month_of",
    "month_start",
    "ms_from_datetime",
    "next_month_start",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
_RESOLVED_CATEGORIES = frozenset({"resolved", "closed"})

NO_MONTH = "__HIVE_DEFAULT_PARTITION__"
"""The partition of a case without a readable ``createdAt`` (Hive's name for null)."""


class _Status(msgspec.Struct, rename="camel", gc=False):
    status_category: str | None = None


class _Head(msgspec.Struct, rename="camel", gc=False):
    """The few fields of a case that sync reads; everything else stays in the raw bytes."""

    id: str = msgspec.field(name="_id")
    created_at: str | None = None
    updated_at: str | None = None
    status: _Status | str | None = None


_HEAD = msgspec.json.Decoder(_Head)


@dataclass(frozen=True)
class CaseKey:
    """A case as sync sees it: its id, times (epoch ms, ``None`` if unreadable) and bytes."""

    id: str
    created_ms: int | None
    updated_ms: int | None
    unresolved: bool
    """Its status category is neither ``resolved`` nor ``closed`` (or it has none)."""
    raw: bytes

    @property
    def month(self) -> str:
        """The ``created_month`` partition the case belongs to."""
        return NO_MONTH if self.created_ms is None else month_of(self.created_ms)


def case_key(raw: msgspec.Raw | bytes) -> CaseKey:
    """Read a case's :class:`CaseKey` from its JSON bytes.

    Raises:
        msgspec.ValidationError: the case has no ``_id`` string.
    """
    data = bytes(raw)
    head = _HEAD.decode(data)
    status = head.status
    category = status.status_category if isinstance(status, _Status) else None
    return CaseKey(
        id=head.id,
        created_ms=ms_from_kore_time(head.created_at),
        updated_ms=ms_from_kore_time(head.updated_at),
        unresolved=(category or "").strip().lower() not in _RESOLVED_CATEGORIES,
        raw=data,
    )


def datetime_from_ms(ms: int) -> datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return _EPOCH + ms * _MS


def month_of(ms: int) -> str:
    """``"2025-05"``: the UTC month of an instant."""
    moment = datetime_from_ms(ms)
    return f"{moment.year:04d}-{moment.month:02d}"


def month_start(month: str) -> int:
    """The first millisecond of ``"YYYY-MM"``."""
    year, number = (int(part) for part in month.split("-"))
    return ms_from_datetime(datetime(year, number, 1, tzinfo=timezone.utc))


def next_month_start(month: str) -> int:
    """The first millisecond of the month after ``"YYYY-MM"``."""
    year, number = (int(part) for part in month.split("-"))
    year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return ms_from_datetime(datetime(year, number, 1, tzinfo=timezone.utc))
