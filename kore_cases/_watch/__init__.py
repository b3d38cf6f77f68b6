"""Watching cases: ``client.watch(filter)`` yields new, changed and removed cases.

``_events`` (the event types), ``_cursor`` (the durable position and the live state it is
taken from), ``_polls`` (the requests of one poll and what the answers mean),
``_schedule`` (delays, backoff, budget arithmetic: pure) and ``_watcher`` (the async
iterator that ties them to a client).
"""

from ._cursor import WatchCursor, WatchMode
from ._events import CaseAdded, CaseChanged, CaseRemoved, WatchEvent
from ._watcher import CaseWatch, WatchStats

__all__ = [
    "CaseAdded",
    "CaseChanged",
    "CaseRemoved",
    "CaseWatch",
    "WatchCursor",
    "WatchEvent",
    "WatchMode",
    "WatchStats",
]
