"""Facts of Kore's wire format that several parts need, each written once.

The client, the fake server and the tests build the getCases path from
:data:`GET_CASES_PATH`; the filters, the exporters, ``sync`` and the fake server write
times with :func:`kore_time` (Kore's ``2025-05-26T18:30:00.000Z``: UTC, milliseconds, ``Z``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

__all__ = ["GET_CASES_PATH", "kore_time", "kore_time_from_ms"]

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
