"""The events a watch yields: a case added to, changed in, or removed from what it watches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Union

from ..models import Case

__all__ = ["CaseAdded", "CaseChanged", "CaseRemoved", "WatchEvent"]


@dataclass(frozen=True)
class CaseAdded:
    """A case that is new to the watch.

    In ``mode="new"``: created after the cursor and matching the filter. In ``mode="set"``:
    it entered the filtered set (created, or changed so that it now matches).
    """

    case: Case
    """The case as the server listed it."""

    kind: ClassVar[Literal["added"]] = "added"
    """What happened, as a string: ``"added"``."""


@dataclass(frozen=True)
class CaseChanged:
    """A case of the filtered set whose ``updatedAt`` (or, without one, content) changed.

    ``mode="set"`` only.
    """

    case: Case
    """The case as it is now."""
    before: Case | None
    """The case as last seen; ``None`` when the watch resumed from a persisted cursor,
    which keeps only each case's version, not the case."""

    kind: ClassVar[Literal["changed"]] = "changed"
    """What happened, as a string: ``"changed"``."""


@dataclass(frozen=True)
class CaseRemoved:
    """A case that left the filtered set: deleted, or changed so it no longer matches
    (resolved, while watching ``unresolved=True``). ``mode="set"`` only."""

    case_id: str
    """The ``_id`` of the case that left."""
    last_seen: Case | None
    """The case as last seen; ``None`` when the watch resumed from a persisted cursor."""

    kind: ClassVar[Literal["removed"]] = "removed"
    """What happened, as a string: ``"removed"``."""


WatchEvent = Union[CaseAdded, CaseChanged, CaseRemoved]  # noqa: UP007 (runtime alias on 3.10)
"""Any event of a watch; match on the type, or on ``event.kind``."""
