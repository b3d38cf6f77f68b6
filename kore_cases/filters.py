"""Case filters and their encoding to the Get Cases request body.

Every field is optional; a field left as ``None`` is not sent at all. Values are checked
when the filter is built, so a mistake is a ``TypeError``/``ValueError`` that names the
field before any request leaves the machine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timezone
from typing import Any, Union

from ._wire import kore_time

__all__ = ["CaseFilter", "DateLike", "SortBy"]

DateLike = Union[datetime, date, str]  # noqa: UP007 (a runtime alias on 3.10)
"""A timezone-aware ``datetime``, a ``date`` (sent as its midnight UTC) or an ISO-8601 string."""

SortBy = Union[str, Mapping[str, str]]  # noqa: UP007 (a runtime alias on 3.10)
"""A field name such as ``"createdDate"`` or a one-item mapping ``{"createdDate": "desc"}``."""

_LIST_FIELDS = ("priority", "status", "channel", "queues")
_BOOL_FIELDS = ("unresolved", "unassigned", "my_case")
_DATE_FIELDS = ("start_date", "end_date", "due_date")
_SORT_DIRECTIONS = ("asc", "desc")
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_WIRE_NAMES = {
    "search_text": "searchText",
    "unresolved": "unresolved",
    "unassigned": "unassigned",
    "my_case": "mycase",
    "priority": "priority",
    "status": "status",
    "channel": "channel",
    "queues": "queues",
    "start_date": "startDate",
    "end_date": "endDate",
    "sort_by": "sortBy",
    "due_date": "dueDate",
}


@dataclass(frozen=True, kw_only=True)
class CaseFilter:
    """Which cases to fetch, in which order.

    >>> CaseFilter(status=["open", "new"], priority=["high"], unresolved=True,
    ...            start_date="2025-01-01T00:00:00Z", sort_by={"createdDate": "desc"})

    Lists take several values (``status=["open"]``, never a bare ``"open"``). Dates take
    a timezone-aware ``datetime``, a ``date`` or an ISO-8601 string; a naive datetime is
    refused because the server would read it in an unknown zone. ``my_case`` is sent as
    the API's ``mycase``.
    """

    search_text: str | None = None
    unresolved: bool | None = None
    unassigned: bool | None = None
    my_case: bool | None = None
    priority: Sequence[str] | None = None
    status: Sequence[str] | None = None
    channel: Sequence[str] | None = None
    queues: Sequence[str] | None = None
    start_date: DateLike | None = None
    end_date: DateLike | None = None
    sort_by: SortBy | None = None
    due_date: DateLike | None = None

    def __post_init__(self) -> None:
        if self.search_text is not None and not isinstance(self.search_text, str):
            raise TypeError(f"search_text must be a str, not {type(self.search_text).__name__}")
        for name in _BOOL_FIELDS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise TypeError(f"{name} must be True, False or None, not {value!r}")
        for name in _LIST_FIELDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _check_str_list(name, value))
        for name in _DATE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                _encode_date(name, value)  # validates; encoding is repeated in to_body
        if self.sort_by is not None:
            object.__setattr__(self, "sort_by", _check_sort(self.sort_by))
        start, end = self.start_date, self.end_date
        if start is not None and end is not None and _as_utc(start) > _as_utc(end):
            raise ValueError(f"start_date ({start}) is after end_date ({end})")

    def to_body(self) -> dict[str, Any]:
        """Return the JSON body fields of this filter, in the API's camelCase names."""
        body: dict[str, Any] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value is None:
                continue
            if spec.name in _DATE_FIELDS:
                value = _encode_date(spec.name, value)
            elif spec.name in _LIST_FIELDS:
                value = list(value)
            elif spec.name == "sort_by" and not isinstance(value, str):
                value = dict(value)
            body[_WIRE_NAMES[spec.name]] = value
        return body


def _check_str_list(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)):
        raise TypeError(
            f"{name} must be a list of strings, e.g. {name}=[{value!r}], not a bare string"
        )
    if not isinstance(value, (Sequence, set, frozenset)):
        raise TypeError(f"{name} must be a list of strings, not {type(value).__name__}")
    items = tuple(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise TypeError(f"{name} must hold non-empty strings, got {item!r}")
    return items


def _check_sort(value: object) -> SortBy:
    if isinstance(value, str):
        if not _FIELD_NAME.match(value):
            raise ValueError(f"sort_by must be a field name such as 'createdDate', not {value!r}")
        return value
    if not isinstance(value, Mapping) or len(value) != 1:
        raise TypeError(
            "sort_by must be a field name such as 'createdDate' or one {field: direction} "
            f"pair such as {{'createdDate': 'desc'}}, not {value!r}"
        )
    ((field_name, direction),) = value.items()
    if not isinstance(field_name, str) or not _FIELD_NAME.match(field_name):
        raise ValueError(f"sort_by field must be a name such as 'createdDate', not {field_name!r}")
    if not isinstance(direction, str) or direction.lower() not in _SORT_DIRECTIONS:
        raise ValueError(f"sort_by direction must be 'asc' or 'desc', not {direction!r}")
    return {field_name: direction.lower()}


def _parse_iso(name: str, text: str) -> datetime | date:
    cleaned = text.strip()
    try:
        if len(cleaned) == 10:
            return date.fromisoformat(cleaned)
        # Python 3.10's fromisoformat does not know the 'Z' suffix.
        parsed = datetime.fromisoformat(re.sub(r"[Zz]$", "+00:00", cleaned))
    except ValueError:
        raise ValueError(
            f"{name} must be an ISO-8601 date or date-time such as '2025-05-29T04:03:00Z', "
            f"not {text!r}"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"{name} {text!r} has no time zone: add 'Z' or an offset such as '+05:30'")
    return parsed


def _to_datetime_or_date(name: str, value: object) -> datetime | date:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"{name} is a naive datetime: pass a timezone-aware one, "
                "e.g. datetime(2025, 1, 1, tzinfo=timezone.utc)"
            )
        return value
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return _parse_iso(name, value)
    raise TypeError(
        f"{name} must be a datetime, date or ISO-8601 string, not {type(value).__name__}"
    )


def _encode_date(name: str, value: object) -> str:
    parsed = _to_datetime_or_date(name, value)
    # As Kore documents and writes dates: UTC, milliseconds, 'Z'; a date is its midnight.
    return kore_time(parsed if isinstance(parsed, datetime) else _midnight_utc(parsed))


def _midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _as_utc(value: object) -> datetime:
    parsed = _to_datetime_or_date("date", value)
    if isinstance(parsed, datetime):
        return parsed.astimezone(timezone.utc)
    return _midnight_utc(parsed)
