"""The sync state file: ``DIR/_sync_state.json``, small, JSON, replaced atomically.

It records what the dataset is of (the filter), how far it reaches (the high-water
mark: the newest ``createdAt`` the server sent), the dataset's field columns, the cases
that were unresolved at the last run (id and ``createdAt``: the cases a later run
probes when they leave the unresolved set), and a run in progress (``pending``), so
that a run that was stopped continues where it stopped. The name starts with ``_`` so
that Spark and Hive skip it, and it is not ``*.parquet``, so globs for the data skip it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from .._files import replace_atomically

__all__ = ["STATE_FILE", "Pending", "SyncState", "SyncStateError", "load_state", "save_state"]

STATE_FILE = "_sync_state.json"
_VERSION = 1


class SyncStateError(ValueError):
    """The state file cannot be used; the message says what to do about it."""


class Pending(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """A run that has begun: its plan, fixed when it began, and how far its recent pull got."""

    recent_start_ms: int | None
    """``startDate`` of the recent pull."""
    settle_start_ms: int | None
    """Stored cases created after this that the recent pull does not return are gone."""
    end_ms: int | None
    """``endDate`` of the recent pull: just after the newest case when the run began."""
    next_end_ms: int | None
    """The recent pull continues with the cases created before this: the months from it
    on are settled (``None``: no bound, the server held no case when the run began)."""
    recent_done: bool = False
    high_water_ms: int | None = None
    """The newest ``createdAt`` when the run began: the next high-water mark."""
    unresolved_start_ms: int | None = None
    unresolved_end_ms: int | None = None
    has_unresolved: bool = False
    first: bool = False
    full: bool = False


class SyncState(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """Everything a sync remembers between runs (see the module docstring)."""

    version: int = _VERSION
    filter: dict[str, Any] = msgspec.field(default_factory=dict)
    """The request body of the filter the dataset holds (without paging keys)."""
    high_water_ms: int | None = None
    high_water: str | None = None
    """The same mark as ISO-8601 text, for people reading the file."""
    field_columns: list[str] = msgspec.field(default_factory=list)
    unresolved: dict[str, int] = msgspec.field(default_factory=dict)
    """Case id -> ``createdAt`` (ms) of each case unresolved at the last run."""
    pending: Pending | None = None
    last_run: dict[str, Any] | None = None


_DECODER = msgspec.json.Decoder(SyncState)


def load_state(directory: Path) -> SyncState | None:
    """The state of the dataset in ``directory``; ``None`` if it has none.

    Raises:
        SyncStateError: the file is damaged or of another version.
    """
    path = directory / STATE_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        state = _DECODER.decode(data)
    except msgspec.DecodeError as exc:
        raise SyncStateError(
            f"{path} is damaged ({exc}); a full refresh rebuilds the dataset and the file"
        ) from None
    if state.version != _VERSION:
        raise SyncStateError(
            f"{path} is of version {state.version}, this kore-cases writes {_VERSION}: "
            "upgrade kore-cases, or rebuild the dataset with a full refresh"
        )
    return state


def save_state(directory: Path, state: SyncState) -> None:
    """Write the state file atomically: a reader sees the old file or the new one, whole."""
    data = msgspec.json.encode(state)
    replace_atomically(directory / STATE_FILE, lambda file: file.write(data))
