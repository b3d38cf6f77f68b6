"""The ``state_file=`` of a watch: a cursor snapshot plus a journal of the events taken since.

The file is JSON Lines. The first line is a :class:`WatchCursor` (``to_json()``); each
further line records one event the consumer has handled: ``["new", id, createdAt]``,
``["set", id, version]`` or ``["set", id, null]`` (removed). Appending a line costs a
small write, so the file can follow every event; after each poll the whole file is
replaced by a fresh snapshot (written to a temporary file, fsynced, renamed over it),
so it never grows beyond one poll's events.

A line is appended with one ``write``: a process that dies mid-way leaves at most a
partial last line, which loading ignores. An operating-system crash can lose the lines
written since the last snapshot (at least once: those events come again).
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from .._files import replace_atomically
from ._cursor import WatchCursor, WatchMode, case_version
from ._events import CaseRemoved, WatchEvent

__all__ = ["StateFile"]


class StateFile:
    """Load, journal and snapshot one watch's state file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """The state file at ``path`` (it need not exist yet).

        Raises:
            ValueError: it could not be written (its folder is missing or read-only):
                said before the watch sends a request, not after its first poll.
        """
        self.path = Path(path)
        folder = self.path.parent
        if not folder.is_dir():
            raise ValueError(f"state file {self.path}: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ValueError(f"state file {self.path}: the folder {folder} is not writable")

    def load(self) -> WatchCursor | None:
        """The cursor the file holds (journal applied), or ``None`` if there is no file.

        Raises:
            ValueError: the file is not a watch state file.
        """
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        first, *rest = raw.split(b"\n")
        try:
            cursor = WatchCursor.from_json(first)
        except ValueError as exc:
            raise ValueError(f"state file {self.path}: {exc}") from None
        high_water, boundary, versions = (
            cursor.high_water,
            dict(cursor.boundary),
            dict(cursor.versions),
        )
        for line in rest:
            try:
                kind, case_id, value = msgspec.json.decode(line, type=tuple[str, str, Any])
            except msgspec.DecodeError:
                continue  # a partial last line, from a crash mid-write
            if kind == "set" and value is None:
                versions.pop(case_id, None)
            elif kind == "set" and isinstance(value, str):
                versions[case_id] = value
            elif kind == "new" and isinstance(value, str):
                created = _moment(value, self.path)
                boundary[case_id] = created
                high_water = created if high_water is None else max(high_water, created)
        return replace(cursor, high_water=high_water, boundary=boundary, versions=versions)

    def journal(self, events: list[WatchEvent], mode: WatchMode) -> None:
        """Append the events the consumer has handled (one write)."""
        if not events:
            return
        lines = b"".join(msgspec.json.encode(_entry(event, mode)) + b"\n" for event in events)
        with open(self.path, "ab") as handle:
            handle.write(lines)

    def snapshot(self, cursor: WatchCursor) -> None:
        """Replace the file with ``cursor`` alone: flush, fsync, rename."""
        data = (cursor.to_json() + "\n").encode()
        replace_atomically(self.path, lambda file: file.write(data))


def _moment(value: str, path: Path) -> datetime:
    """A journal line's ``createdAt``: an aware ISO time, or the file is not ours."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise ValueError(f"state file {path}: {value!r} is not a time with a time zone")
    return moment


def _entry(event: WatchEvent, mode: WatchMode) -> tuple[str, str, str | None]:
    if isinstance(event, CaseRemoved):
        return ("set", event.case_id, None)
    if mode == "new":
        created = event.case.created_at
        return ("new", event.case.id, created.isoformat() if created else None)
    return ("set", event.case.id, case_version(event.case))
