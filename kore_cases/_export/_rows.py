"""A case as the API sent it, mapped to the flat columns of CSV and Parquet exports."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import msgspec

__all__ = [
    "COLUMNS",
    "FIELD_PREFIX",
    "LIST_COLUMNS",
    "LIST_SEPARATOR",
    "TIME_COLUMNS",
    "cell",
    "flat_row",
    "iso_from_ms",
]

COLUMNS: tuple[str, ...] = (
    "id",
    "ref_id",
    "name",
    "status",
    "priority",
    "assignee_type",
    "created_at",
    "updated_at",
    "due_at",
    "is_breached",
    "channel",
    "queues",
    "tags",
)
"""The fixed flat columns of CSV and Parquet exports; ``field:<name>`` columns follow."""

FIELD_PREFIX = "field:"
LIST_COLUMNS = ("channel", "queues", "tags")
TIME_COLUMNS = ("created_at", "updated_at", "due_at")
LIST_SEPARATOR = "; "


def flat_row(case: Mapping[str, Any]) -> dict[str, Any]:
    """Map a case as the API sent it to the flat columns (see the package docstring).

    Values stay JSON-shaped: times as sent (``due_at`` as epoch ms), lists as lists,
    field values as sent; each output format renders them its own way.
    """
    row: dict[str, Any] = {
        "id": case.get("_id"),
        "ref_id": case.get("refId"),
        "name": case.get("name"),
        "status": _name_of(case.get("status")),
        "priority": _name_of(case.get("priority")),
        "assignee_type": case.get("assigneeType"),
        "created_at": case.get("createdAt"),
        "updated_at": case.get("updatedAt"),
        "due_at": case.get("dueDate"),
        "is_breached": case.get("isBreached"),
        "channel": _names(case.get("channel")),
        "queues": _names(case.get("queues")),
        "tags": _names(case.get("tags")),
    }
    fields = case.get("fields")
    for field in fields if isinstance(fields, list) else ():
        name = _field_name(field)
        if name is not None:
            row[FIELD_PREFIX + name] = field.get("selectedValue")
    return row


def _name_of(value: Any) -> Any:
    """``status``/``priority`` are objects; a server sending a bare string is taken as is."""
    return value.get("name") if isinstance(value, dict) else value


def _names(items: Any) -> list[str]:
    """A list of names from a list of strings or of ``{"_id", "name"}`` objects."""
    if not isinstance(items, list):
        return []
    names = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("name", item.get("_id"))
        if item is not None:
            names.append(item if isinstance(item, str) else _json_text(item))
    return names


def _field_name(field: Any) -> str | None:
    """A field's column name: its ``metaData.name``, else its display name."""
    if not isinstance(field, dict):
        return None
    meta = field.get("metaData")
    name = meta.get("name") if isinstance(meta, dict) else None
    name = name or field.get("displayName") or field.get("lname")
    return name if isinstance(name, str) and name else None


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def cell(value: Any) -> str | None:
    """A field value as text: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return _json_text(value)


def iso_from_ms(value: Any) -> str | None:
    """Epoch milliseconds as ``2025-05-29T04:03:00.000Z``, the way Kore writes times."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None if value is None else str(value)
    try:
        moment = datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return str(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
