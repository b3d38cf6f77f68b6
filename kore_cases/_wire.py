"""Facts of Kore's wire format that several parts need, each written once.

The client, the fake server and the tests build the getCases path from
:data:`GET_CASES_PATH`; the filters, the exporters, ``sync`` and the fake server write
times with :func:`kore_time` (Kore's ``2025-05-26T18:30:00.000Z``: UTC, milliseconds, ``Z``)
and read the ones in answers with :func:`parse_kore_time`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec

__all__ = [
    "GET_CASES_PATH",
    "kore_time",
    "kore_time_from_ms",
    "ms_from_datetime",
    "ms_from_kore_time",
    "parse_kore_time",
]

GET_CASES_PATH = "/caseManagement/api/public/analytics/{stream_id}/getCases"
"""The getCases route; ``{stream_id}`` is filled with ``str.format`` (or by aiohttp's router)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def kore_time(moment: datetime) -> str:
    """An aware ``datetime`` the way Kore writes times: ``2025-05-26T18:30:00.000Z``."""
    u = moment.astimezone(timezone.utc)
    # Spelled out rather than strftime("%Y"), which does not pad years before 1000.
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond // 1000:03d}Z"
    )


def kore_time_from_ms(ms: float) -> str:
    """Epoch milliseconds (``dueDate``, ``timestampValue``) the way Kore writes times.

    Exact for whole milliseconds: no float seconds on the way.

    Raises:
        OverflowError: ``ms`` is outside the years 1 to 9999.
    """
    return kore_time(_EPOCH + timedelta(milliseconds=ms))


def parse_kore_time(text: str | None) -> datetime | None:
    """A time as Kore sends it (``createdAt``...), aware; ``None`` for anything else.

    Lenient: a missing, malformed or zone-less value is ``None``, never an error, for
    code that orders or partitions cases by a time the server might leave out.
    """
    if text is None:
        return None
    try:
        moment = msgspec.convert(text, datetime)
    except msgspec.ValidationError:
        return None
    return moment if moment.tzinfo is not None else None


def ms_from_datetime(moment: datetime) -> int:
    """Epoch milliseconds of an aware ``datetime``, exactly (no float seconds)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def ms_from_kore_time(text: str | None) -> int | None:
    """A time as Kore sends it in epoch milliseconds; ``None`` as :func:`parse_kore_time`."""
    moment = parse_kore_time(text)
    return None if moment is None else ms_from_datetime(moment)
