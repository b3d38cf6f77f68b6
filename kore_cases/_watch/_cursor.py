"""Where a watch is: the durable :class:`WatchCursor` and the live state it is taken from.

``mode="new"`` keeps a *high-water mark* (the newest ``createdAt`` the server showed for
an event taken) and the *boundary*: the ids of the cases taken whose ``createdAt`` lies
within ``overlap`` of the mark. Each poll asks from ``high_water - overlap`` on, so a case
indexed late or created in the same millisecond is still seen, and the boundary keeps it
from being reported twice. Nothing else is kept: memory does not grow with time.

``mode="set"`` keeps each case's version: its ``updatedAt``, or a hash of its content
where the server sends none.

Every timestamp comes from the server's answers; the local clock is never read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import msgspec

from ..models import Case
from ._events import CaseAdded, CaseChanged, CaseRemoved, WatchEvent

__all__ = [
    "NewState",
    "SetState",
    "WatchCursor",
    "WatchMode",
    "case_version",
    "created_order",
    "filter_key",
]

WatchMode = Literal["new", "set"]
"""``"new"``: cases created after the cursor. ``"set"``: additions, changes and removals."""
_FORMAT = 1


class _Version(msgspec.Struct):
    """Just the format number: read first, so a newer format is named as such."""

    v: int


class _Document(msgspec.Struct, rename="camel", omit_defaults=True):
    """The JSON form of a cursor (``v`` first, so a future format can be told apart)."""

    v: int
    mode: WatchMode
    filter: str
    primed: bool = True
    high_water: datetime | None = None
    since: datetime | None = None
    boundary: dict[str, datetime] = {}
    versions: dict[str, str] = {}


@dataclass(frozen=True)
class WatchCursor:
    """A watch's position, to persist and resume from: ``to_json()`` / ``from_json()``.

    Taken from ``events.cursor`` (or written for you with ``state_file=``) and passed back
    as ``client.watch(..., cursor=WatchCursor.from_json(text))``. A cursor belongs to one
    filter and one mode: resuming with another one is refused.
    """

    mode: WatchMode
    """``"new"`` or ``"set"``."""
    filter_key: str
    """A fingerprint of the filter it was made for."""
    primed: bool = True
    """Whether the watch had read where "now" is; a cursor taken before its first poll
    is not, and a watch resumed from it starts at the newest case, as a new one would."""
    high_water: datetime | None = None
    """``mode="new"``: the newest ``createdAt`` of an event taken (server time)."""
    since: datetime | None = None
    """``mode="new"``: cases created before this are never reported."""
    boundary: dict[str, datetime] = field(default_factory=dict)
    """``mode="new"``: id -> ``createdAt`` of the cases taken within the overlap."""
    versions: dict[str, str] = field(default_factory=dict)
    """``mode="set"``: id -> version (``updatedAt``, or ``#`` and a content hash)."""

    def to_json(self) -> str:
        """This cursor as a small JSON document."""
        document = _Document(
            v=_FORMAT,
            mode=self.mode,
            filter=self.filter_key,
            primed=self.primed,
            high_water=self.high_water,
            since=self.since,
            boundary=self.boundary,
            versions=self.versions,
        )
        return msgspec.json.encode(document).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> WatchCursor:
        """Read a cursor written by :meth:`to_json`.

        Raises:
            ValueError: ``text`` is not a watch cursor (the message says what is wrong).
        """
        try:
            version = msgspec.json.decode(text, type=_Version).v
            if version != _FORMAT:
                raise ValueError(
                    f"watch cursor format {version} is not supported (only {_FORMAT}): it "
                    "was written by a newer kore-cases; upgrade, or start a new watch"
                )
            document = msgspec.json.decode(text, type=_Document)
        except msgspec.DecodeError as exc:
            raise ValueError(f"not a watch cursor: {exc}") from None
        for moment in (document.high_water, document.since, *document.boundary.values()):
            if moment is not None and moment.utcoffset() is None:
                raise ValueError("watch cursor times must carry a time zone")
        return cls(
            mode=document.mode,
            filter_key=document.filter,
            primed=document.primed,
            high_water=document.high_water,
            since=document.since,
            boundary=document.boundary,
            versions=document.versions,
        )


def filter_key(body: dict[str, Any], mode: WatchMode) -> str:
    """A short fingerprint of a filter body and a mode."""
    canonical = msgspec.json.encode({"mode": mode, "filter": body}, order="sorted")
    return hashlib.blake2b(canonical, digest_size=8).hexdigest()


def case_version(case: Case) -> str:
    """``updatedAt`` as the server wrote it (to the microsecond), or a hash of the content."""
    if case.updated_at is not None:
        return case.updated_at.isoformat()
    return "#" + hashlib.blake2b(msgspec.json.encode(case), digest_size=12).hexdigest()


class NewState:
    """The live position of a ``mode="new"`` watch (see the module docstring)."""

    def __init__(self, cursor: WatchCursor, overlap: timedelta) -> None:
        self.high_water = cursor.high_water
        self.since = cursor.since
        self.boundary = dict(cursor.boundary)
        self.overlap = overlap
        self.primed = cursor.primed

    def window_start(self) -> datetime | None:
        """The ``startDate`` of the next poll: the mark minus the overlap, not before ``since``."""
        if self.high_water is None:
            return self.since
        start = self.high_water - self.overlap
        return start if self.since is None else max(start, self.since)

    def is_new(self, case: Case) -> bool:
        """Not taken yet, and not older than the window (a server ignoring startDate)."""
        if case.id in self.boundary:
            return False
        start = self.window_start()
        return start is None or case.created_at is None or case.created_at >= start

    def take(self, case: Case) -> None:
        """Record a case as reported: it joins the boundary; the mark may move."""
        created = case.created_at if case.created_at is not None else self.high_water
        if created is None:
            return  # no time at all: nothing to anchor it to (Kore always sends createdAt)
        self.boundary[case.id] = created
        if self.high_water is None or created > self.high_water:
            self.high_water = created  # the boundary is trimmed before the next poll

    def trim(self) -> None:
        """Forget boundary ids older than the window: later polls cannot see them again.

        Once per poll, not per event: taking an event stays O(1).
        """
        start = self.window_start()
        if start is not None:
            self.boundary = {i: t for i, t in self.boundary.items() if t >= start}

    def cursor(self, key: str) -> WatchCursor:
        """A snapshot of this position."""
        return WatchCursor(
            mode="new",
            filter_key=key,
            primed=self.primed,
            high_water=self.high_water,
            since=self.since,
            boundary=dict(self.boundary),
        )


class SetState:
    """The live position of a ``mode="set"`` watch: every case's version (and, in this
    process, the case itself, for ``before``/``last_seen``)."""

    def __init__(self, cursor: WatchCursor) -> None:
        self.versions = dict(cursor.versions)
        self.cases: dict[str, Case] = {}
        self.since = cursor.since
        self.primed = cursor.primed

    def take(self, event: WatchEvent) -> None:
        """Record an event as reported."""
        if isinstance(event, CaseRemoved):
            self.versions.pop(event.case_id, None)
            self.cases.pop(event.case_id, None)
            return
        self.versions[event.case.id] = case_version(event.case)
        self.cases[event.case.id] = event.case

    def diff(self, cases: list[Case], complete: bool) -> list[WatchEvent]:
        """Events that turn the recorded set into ``cases``, oldest first by ``createdAt``.

        Removals only when ``complete`` (the read saw a stable total): a case that a page
        shift hid from this read is not reported gone.
        """
        events: list[WatchEvent] = []
        current: set[str] = set()
        for case in sorted(cases, key=created_order):
            current.add(case.id)
            before = self.versions.get(case.id)
            if before is None:
                events.append(CaseAdded(case))
            elif before != case_version(case):
                events.append(CaseChanged(case, self.cases.get(case.id)))
            else:
                self.cases[case.id] = case  # same version: keep the freshest copy
        if complete:
            events.extend(
                CaseRemoved(case_id, self.cases.get(case_id))
                for case_id in self.versions
                if case_id not in current
            )
        return events

    def cursor(self, key: str) -> WatchCursor:
        """A snapshot of this position."""
        return WatchCursor(
            mode="set",
            filter_key=key,
            primed=self.primed,
            since=self.since,
            versions=dict(self.versions),
        )


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def created_order(case: Case) -> tuple[datetime, str]:
    """Sort key: oldest ``createdAt`` first, then id (a case without one sorts first)."""
    return (case.created_at or _EPOCH, case.id)
