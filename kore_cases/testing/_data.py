"""Deterministic fake cases: compact columns, filtering and sorting (no aiohttp here).

A store of a million cases must not hold a million dicts, so every case lives as a few small
integers spread over columns (one byte per case for categories, one int64 for each timestamp).
The full documented case dict is built only for the cases on a served page.

Case ``i`` (0-based, oldest first) is derived from 20 pseudo-random bytes taken from a SHAKE-256
stream keyed by the seed, so its status, priority, channels, queues, assignee, text and ids depend
only on ``(seed, i)``. Its timestamps also depend on the store's initial size, which sets the time
step so that any size spreads over about two years. ``createdAt`` strictly increases with ``i``:
the newest-first default order is plain reverse index order, and a ``startDate``/``endDate`` range
is a binary search.
"""

from __future__ import annotations

import hashlib
import re
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import accumulate
from typing import Any

from .._wire import kore_time_from_ms

__all__ = [
    "CHANNELS",
    "CURRENT_USER_ID",
    "QUEUES",
    "SORT_FIELDS",
    "CaseStore",
    "Query",
    "QueryError",
    "iso_ms",
    "parse_iso",
    "parse_query",
]

_DAY_MS = 86_400_000
_END_MS = 1_748_736_000_000  # 2025-06-01T00:00:00Z: fixed, so data never depends on the clock
_SPAN_MS = 730 * _DAY_MS
_START_MS = _END_MS - _SPAN_MS
_BYTES_PER_CASE = 20
_CHUNK_CASES = 65_536  # cases per independently keyed SHAKE chunk: extending never rehashes all


def _uid(prefix: str, *parts: object) -> str:
    """A uuid-shaped id (``prefix-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx``) hashed from ``parts``."""
    h = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return f"{prefix}-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _table(choices: Sequence[tuple[int, int]]) -> bytes:
    """A ``bytes.translate`` table turning a uniform random byte into a value, by weight.

    ``choices`` are ``(value, weight)`` pairs; values must fit in a byte.
    """
    cumulative = list(accumulate(weight for _, weight in choices))
    total = cumulative[-1]
    return bytes(choices[bisect_right(cumulative, b * total // 256)][0] for b in range(256))


# --- fixed catalogue (ids are constant across seeds so users can filter by them) -------------


@dataclass(frozen=True)
class _Status:
    name: str
    category: str
    desc: str

    @property
    def lname(self) -> str:
        return self.name.lower()


_STATUSES = (
    _Status("New", "open", "When a new case/task is created"),
    _Status("Open", "open", "Case is open and awaiting action"),
    _Status("In Progress", "in progress", "An agent is working on the case"),
    _Status("On Hold", "in progress", "Waiting on the customer or a third party"),
    _Status("Resolved", "resolved", "The issue has been resolved"),
    _Status("Closed", "closed", "The case is closed"),
)
_UNRESOLVED_CODES = frozenset(
    code for code, s in enumerate(_STATUSES) if s.category not in ("resolved", "closed")
)
# Shared, never-mutated sub-objects: msgspec encodes them as often as they appear.
_STATUS_OBJS = tuple(
    {
        "_id": _uid("sts", "status", s.lname),
        "name": s.name,
        "lname": s.lname,
        "statusCategory": s.category,
        "type": "system",
        "desc": s.desc,
        "isEnabled": True,
        "isActive": True,
    }
    for s in _STATUSES
)

# (name, score, colour, description); codes are ordered by score so sorting by code sorts by score.
_PRIORITIES = (
    ("Low", 5, "#2563EB", "Can wait"),
    ("Medium", 10, "#16A34A", "Moderate urgency"),
    ("High", 15, "#F59E0B", "Needs attention soon"),
    ("Critical", 20, "#DC2626", "Business impact, act now"),
)
_PRIORITY_OBJS = tuple(
    {
        "_id": _uid("pr", "priority", name),
        "name": name,
        "lname": name.lower(),
        "type": "system",
        "desc": desc,
        "color": color,
        "isEnabled": True,
        "isActive": True,
        "score": score,
    }
    for name, score, color, desc in _PRIORITIES
)

CHANNELS = ("email", "chat", "voice", "sms")
"""Channel names; a case's ``channel`` list holds some of them (bit ``k`` of its mask)."""

QUEUES: tuple[dict[str, str], ...] = tuple(
    {"_id": _uid("qu", "queue", name), "name": name}
    for name in ("SupportQueue1", "Billing", "Technical Support", "Returns", "VIP")
)
"""The queues a case can be in. A case's ``queues`` is a list of these ``{"_id", "name"}`` dicts."""

_AGENTS: tuple[dict[str, str], ...] = tuple(
    {"name": name, "_id": _uid("u", "agent", name), "profImage": "no-avatar"}
    for name in ("pachu 23", "Maya Chen", "Omar Haddad", "Lena Novak", "Ravi Iyer", "Sofia Reyes")
)
CURRENT_USER_ID = _AGENTS[0]["_id"]
"""The agent the fake server treats as the caller: ``mycase: true`` selects cases assigned to it."""

_DESCRIPTIONS = (
    "Customer cannot log in to the mobile app",
    "Refund requested for a duplicate charge",
    "Order delivered to the wrong address",
    "Password reset email never arrives",
    "Invoice shows an incorrect tax amount",
    "Subscription renewal failed with a card error",
    "Product arrived damaged, replacement requested",
    "Unable to update the shipping address",
    "Chat widget does not load on the checkout page",
    "Request to close the account and delete personal data",
    "Voice call dropped during identity verification",
    "Promo code rejected at checkout",
    "Late delivery, customer asks for compensation",
    "Two-factor authentication codes not received",
    "Question about warranty coverage",
    "Billing address mismatch on payment",
)
_LOWER_DESCRIPTIONS = tuple(d.lower() for d in _DESCRIPTIONS)
_TEMPLATES = ("one", "support", "billing", "escalation")
_LANGUAGES = ("en",) * 13 + ("es", "fr", "de")
_TAGS: tuple[list[str], ...] = ([], [], [], [], [], ["vip"], ["escalated"], ["billing", "refund"])


def _field(
    field_id: str, display: str, lname: str, desc: str, kind: str, name: str, hint: str
) -> dict[str, Any]:
    """A system field definition as Kore sends it; each case adds its ``selectedValue``."""
    return {
        "_id": _uid("fd", "field", field_id),
        "show": True,
        "displayName": display,
        "lname": lname,
        "desc": desc,
        "isEnabled": True,
        "isActive": True,
        "metaData": {
            "type": kind,
            "displayName": display,
            "name": name,
            "description": desc,
            "placeholder": hint,
            "readOnly": False,
            "tooltipText": desc,
        },
        "type": "system",
        "required": True,
    }


_TITLE_FIELD: dict[str, Any] = _field(
    "title", "Title", "title", "Title of the field", "input", "title", "Enter title"
)
_DESC_FIELD: dict[str, Any] = _field(
    "description",
    "Description",
    "description",
    "Transcription based on the conversation summary",
    "textarea",
    "description",
    "Enter description",
)
_DUE_FIELD: dict[str, Any] = _field(
    "dueDate",
    "Due Date",
    "due date",
    "Date/time to complete a case",
    "datetime",
    "dueDate",
    "Enter date",
)

# Byte -> code tables: how often each value occurs (weights out of their sum).
_STATUS_TABLE = _table([(0, 10), (1, 25), (2, 20), (3, 10), (4, 20), (5, 15)])
_PRIORITY_TABLE = _table([(0, 30), (1, 40), (2, 20), (3, 10)])
_CHANNEL_TABLE = _table([(1, 30), (2, 28), (4, 14), (8, 10), (3, 8), (9, 3), (0, 7)])
_QUEUE_TABLE = _table([(0, 20), (1, 22), (2, 15), (4, 14), (8, 9), (16, 5), (5, 8), (10, 7)])
_UNASSIGNED, _QUEUE_ASSIGNED = 0, len(_AGENTS) + 1  # between them: agent k+1 is _AGENTS[k]
_ASSIGNEE_TABLE = _table([(0, 35), (1, 10), *((k, 9) for k in range(2, 7)), (_QUEUE_ASSIGNED, 10)])
# Rare quirks so lenient clients get exercised: ETA null/missing, updatedBy null/missing.
_ETA_NULL, _ETA_MISSING, _UPDATED_BY_NULL, _UPDATED_BY_MISSING = 1, 2, 3, 4
_LANGUAGE_TABLE = _table([(k, 1) for k in range(len(_LANGUAGES))])
_QUIRK_TABLE = _table([(0, 240), (1, 4), (2, 4), (3, 4), (4, 4)])

SORT_FIELDS = ("createdDate", "updatedDate", "dueDate", "priority", "refId")
"""Fields ``sortBy`` accepts."""


# --- time helpers ---------------------------------------------------------------------------


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as Kore writes them: ``2025-05-27T04:03:42.617Z``."""
    return kore_time_from_ms(ms)


_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?([Zz]|[+-]\d{2}:?\d{2})?)?"
)


def parse_iso(value: str) -> tuple[int, bool]:
    """Parse ISO-8601 into ``(epoch ms, date_only)``; naive times are UTC.

    A regex rather than ``datetime.fromisoformat`` so every Python version accepts the same
    strings (3.10's ``fromisoformat`` rejects ``Z``).

    Raises:
        ValueError: ``value`` is not an ISO-8601 date or datetime.
    """
    m = _ISO_RE.fullmatch(value.strip())
    if m is None:
        raise ValueError(f"not an ISO-8601 date: {value!r}")
    year, month, day, hour, minute, second, frac, tz = m.groups()
    offset = timedelta(0)
    if tz and tz not in "Zz":
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    moment = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        int((frac or "0")[:6].ljust(6, "0")),
        tzinfo=timezone(offset),
    )
    # Integer arithmetic on the delta: float timestamps can be off by a millisecond.
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000, hour is None


# --- queries --------------------------------------------------------------------------------


class QueryError(ValueError):
    """A request body the API answers with 400; the message is the one sent back."""


@dataclass(frozen=True)
class Query:
    """A validated, normalised filter body: hashable, so selections are cached per query.

    ``None`` means "no such filter"; an empty set or a zero mask means "matches nothing"
    (the client asked for values no case has).
    """

    search: str = ""
    unresolved: bool = False
    unassigned: bool = False
    mycase: bool = False
    priority: frozenset[int] | None = None
    status: frozenset[int] | None = None
    channel_mask: int | None = None
    queue_mask: int | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    due_range: tuple[int, int] | None = None
    sort_field: str = "createdDate"
    descending: bool = True


def _flag(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise QueryError(f"{key} must be a boolean")
    return value


def _names(body: Mapping[str, Any], key: str) -> frozenset[str] | None:
    """A list-of-strings filter, lower-cased; ``None`` when absent or empty (no filter)."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise QueryError(f"{key} must be an array of strings")
    return frozenset(v.strip().lower() for v in value) or None


def _date(body: Mapping[str, Any], key: str) -> tuple[int, bool] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise QueryError(f"{key} must be an ISO-8601 string")
    try:
        return parse_iso(value)
    except ValueError:
        raise QueryError(f"{key} must be an ISO-8601 string") from None


def _sort(value: Any) -> tuple[str, bool]:
    if value is None:
        return "createdDate", True
    if isinstance(value, str):
        field, direction = value, "desc"
    elif isinstance(value, dict) and len(value) == 1:
        [(field, direction)] = value.items()
    else:
        raise QueryError('sortBy must be a field name or {"<field>": "asc"|"desc"}')
    if field not in SORT_FIELDS:
        raise QueryError(f"sortBy field must be one of {', '.join(SORT_FIELDS)}")
    if not isinstance(direction, str) or direction.lower() not in ("asc", "desc"):
        raise QueryError('sortBy direction must be "asc" or "desc"')
    return field, direction.lower() == "desc"


def _mask(names: frozenset[str] | None, catalogue: Sequence[tuple[str, ...]]) -> int | None:
    """OR of the bits whose catalogue aliases intersect ``names``."""
    if names is None:
        return None
    return sum(1 << bit for bit, aliases in enumerate(catalogue) if names.intersection(aliases))


def parse_query(body: Mapping[str, Any]) -> Query:
    """Validate a getCases filter body (paging keys and unknown keys are ignored).

    Raises:
        QueryError: a filter has the wrong type or an unparsable date or sort.
    """
    search = body.get("searchText")
    if search is not None and not isinstance(search, str):
        raise QueryError("searchText must be a string")
    priorities, statuses = _names(body, "priority"), _names(body, "status")
    start, end, due = _date(body, "startDate"), _date(body, "endDate"), _date(body, "dueDate")
    field, descending = _sort(body.get("sortBy"))
    due_range = None
    if due is not None:
        due_ms, date_only = due
        due_range = (due_ms, due_ms + _DAY_MS - 1) if date_only else (due_ms, due_ms)
    return Query(
        search=(search or "").strip().lower(),
        unresolved=_flag(body, "unresolved"),
        unassigned=_flag(body, "unassigned"),
        mycase=_flag(body, "mycase"),
        priority=None
        if priorities is None
        else frozenset(c for c, p in enumerate(_PRIORITY_OBJS) if p["lname"] in priorities),
        status=None
        if statuses is None
        else frozenset(
            c for c, s in enumerate(_STATUSES) if s.lname in statuses or s.category in statuses
        ),
        channel_mask=_mask(_names(body, "channel"), [(c,) for c in CHANNELS]),
        queue_mask=_mask(
            _names(body, "queues"), [(q["name"].lower(), q["_id"].lower()) for q in QUEUES]
        ),
        start_ms=None if start is None else start[0],
        # A date-only endDate means "up to the end of that day", not its first millisecond.
        end_ms=None if end is None else end[0] + (_DAY_MS - 1 if end[1] else 0),
        due_range=due_range,
        sort_field=field,
        descending=descending,
    )


# --- the store ------------------------------------------------------------------------------


def _random_bytes(seed: int, start: int, count: int) -> bytes:
    """The stream bytes of cases ``[start, start+count)``, ``_BYTES_PER_CASE`` each."""
    out = bytearray()
    first, last = start // _CHUNK_CASES, (start + count - 1) // _CHUNK_CASES
    for chunk in range(first, last + 1):
        data = hashlib.shake_256(b"kore-fake:%d:%d" % (seed, chunk)).digest(
            _CHUNK_CASES * _BYTES_PER_CASE
        )
        lo = max(start, chunk * _CHUNK_CASES) - chunk * _CHUNK_CASES
        hi = min(start + count, (chunk + 1) * _CHUNK_CASES) - chunk * _CHUNK_CASES
        out += data[lo * _BYTES_PER_CASE : hi * _BYTES_PER_CASE]
    return bytes(out)


def _words(raw: bytes) -> array[int]:
    """``raw`` as little-endian uint32 words (5 per case), the same on every platform."""
    code = "I" if array("I").itemsize == 4 else "L"
    words = array(code)
    words.frombytes(raw)
    if sys.byteorder == "big":
        words.byteswap()
    return words


class CaseStore:
    """All cases of one fake server, as columns; builds case dicts and cached selections."""

    _SELECTION_CACHE = 64  # distinct filters kept; each costs up to 8 bytes per matching case

    def __init__(self, count: int, *, seed: int, stream_id: str, account_id: str) -> None:
        if count < 0:
            raise ValueError("count must be >= 0")
        self._seed = seed
        self._stream_id = stream_id
        self._account_id = account_id
        self._org_id = _uid("o", "org", seed)
        # At most a day apart, so a tiny store (or one grown by add()) keeps plausible dates.
        self._step = max(1, min(_DAY_MS, _SPAN_MS // max(count, 1)))
        # One byte per case for each category, one int64 per case for each timestamp.
        self._status = bytearray()
        self._priority = bytearray()
        self._channels = bytearray()
        self._queues = bytearray()
        self._assignee = bytearray()
        self._text = bytearray()  # description index (low 4 bits) and template (next 2)
        self._quirk = bytearray()
        self._misc = bytearray()  # tags (bits 0-2), task count (3-4), creator (5-7)
        self._language = bytearray()
        self._created = array("q")
        self._updated = array("q")
        self._due = array("q")
        self._selections: OrderedDict[Query, Sequence[int]] = OrderedDict()
        self.version = 0
        """Bumped whenever cases are added: caches keyed on it go stale."""
        self.add(count)

    def __len__(self) -> int:
        return len(self._created)

    def add(self, count: int) -> None:
        """Append ``count`` cases, newer than every existing one."""
        if count < 0:
            raise ValueError("count must be >= 0")
        if count == 0:
            return
        start = len(self)
        raw = _random_bytes(self._seed, start, count)
        self._status += raw[0::_BYTES_PER_CASE].translate(_STATUS_TABLE)
        self._priority += raw[1::_BYTES_PER_CASE].translate(_PRIORITY_TABLE)
        self._channels += raw[2::_BYTES_PER_CASE].translate(_CHANNEL_TABLE)
        assignee = raw[4::_BYTES_PER_CASE].translate(_ASSIGNEE_TABLE)
        # A case assigned to a queue must be in at least one queue.
        self._queues += bytes(
            (q or 1) if a == _QUEUE_ASSIGNED else q
            for q, a in zip(raw[3::_BYTES_PER_CASE].translate(_QUEUE_TABLE), assignee, strict=True)
        )
        self._assignee += assignee
        self._text += raw[5::_BYTES_PER_CASE]
        self._quirk += raw[6::_BYTES_PER_CASE].translate(_QUIRK_TABLE)
        self._misc += raw[7::_BYTES_PER_CASE]
        self._language += raw[16::_BYTES_PER_CASE].translate(_LANGUAGE_TABLE)
        words = _words(raw)  # words 2 and 3 (bytes 8-15) feed the timestamps
        step = self._step
        created = [
            _START_MS + i * step + jitter % step
            for i, jitter in enumerate(words[2::5], start)  # jitter < step: strictly increasing
        ]
        self._created.extend(created)
        # Updated 1 s .. ~30 days after creation; due 1..14 days after, on a whole minute.
        extra = words[3::5]
        self._updated.extend(
            [c + 1000 + (w & 0xFFFF) * 39_551 for c, w in zip(created, extra, strict=True)]
        )
        self._due.extend(
            [
                (c // 60_000 + 1440 + (w >> 16) % 18_720) * 60_000  # 18,720 min = 13 days
                for c, w in zip(created, extra, strict=True)
            ]
        )
        self.version += 1
        self._selections.clear()

    # -- selection ---------------------------------------------------------------------------

    def select(self, query: Query) -> Sequence[int]:
        """Indices of the cases ``query`` matches, in server order (cached per query)."""
        cached = self._selections.get(query)
        if cached is not None:
            self._selections.move_to_end(query)
            return cached
        result = self._evaluate(query)
        self._selections[query] = result
        if len(self._selections) > self._SELECTION_CACHE:
            self._selections.popitem(last=False)
        return result

    def _evaluate(self, q: Query) -> Sequence[int]:
        lo, hi = 0, len(self)
        # createdAt increases with the index, so the date range is a slice of indices.
        if q.start_ms is not None:
            lo = bisect_left(self._created, q.start_ms)
        if q.end_ms is not None:
            hi = bisect_right(self._created, q.end_ms)
        idx: Sequence[int] = range(lo, max(lo, hi))
        # Each filter narrows the previous list; the cheapest byte lookups go first.
        if q.unresolved:
            col, codes = self._status, _UNRESOLVED_CODES
            idx = [i for i in idx if col[i] in codes]
        if q.status is not None:
            col, codes = self._status, q.status
            idx = [i for i in idx if col[i] in codes]
        if q.priority is not None:
            col, codes = self._priority, q.priority
            idx = [i for i in idx if col[i] in codes]
        if q.unassigned:
            col = self._assignee
            idx = [i for i in idx if col[i] == _UNASSIGNED]
        if q.mycase:
            col = self._assignee
            idx = [i for i in idx if col[i] == 1]
        if q.channel_mask is not None:
            col, mask = self._channels, q.channel_mask
            idx = [i for i in idx if col[i] & mask]
        if q.queue_mask is not None:
            col, mask = self._queues, q.queue_mask
            idx = [i for i in idx if col[i] & mask]
        if q.due_range is not None:
            due, (first, last) = self._due, q.due_range
            idx = [i for i in idx if first <= due[i] <= last]
        if q.search:
            idx = self._search(idx, q.search)
        return self._sort(idx, q.sort_field, q.descending)

    def _search(self, idx: Sequence[int], text: str) -> list[int]:
        text_col = self._text
        hits = frozenset(k for k, d in enumerate(_LOWER_DESCRIPTIONS) if text in d)
        # Names are "case N": only text made of those characters can match one.
        if set(text) <= set("case 0123456789"):
            return [i for i in idx if text_col[i] & 15 in hits or text in f"case {i + 1}"]
        return [i for i in idx if text_col[i] & 15 in hits]

    def _sort(self, idx: Sequence[int], field: str, descending: bool) -> Sequence[int]:
        # createdDate and refId both follow the index. Otherwise a stable ascending sort keeps
        # ties in index order, and reversing makes ties follow the sort direction too.
        key_col = {"updatedDate": self._updated, "dueDate": self._due, "priority": self._priority}
        col = key_col.get(field)
        ordered = idx if col is None else sorted(idx, key=col.__getitem__)
        if isinstance(ordered, range):
            return ordered[::-1] if descending else ordered
        ordered = list(ordered)
        if descending:
            ordered.reverse()
        return array("q", ordered)  # 8 bytes per index instead of a pointer plus an int object

    # -- building cases ----------------------------------------------------------------------

    def case_id(self, i: int) -> str:
        """The ``_id`` of case ``i``."""
        return _uid("ci", self._seed, i)

    def case(self, i: int) -> dict[str, Any]:
        """The documented JSON object of case ``i`` (shares immutable parts: do not mutate)."""
        n = i + 1
        name = f"case {n}"
        status, text, misc = self._status[i], self._text[i], self._misc[i]
        desc = _DESCRIPTIONS[text & 15]
        created, due = self._created[i], self._due[i]
        due_iso = iso_ms(due)
        channels = [c for bit, c in enumerate(CHANNELS) if self._channels[i] >> bit & 1]
        queues = [q for bit, q in enumerate(QUEUES) if self._queues[i] >> bit & 1]
        creator = _AGENTS[(misc >> 5) % len(_AGENTS)]
        assignee_type, current, updated_by = _assignment(self._assignee[i], queues, creator)
        case: dict[str, Any] = {
            "_id": self.case_id(i),
            "caseTmp": _TEMPLATES[text >> 4 & 3],
            "name": name,
            "lname": name,
            "desc": desc,
            "tags": _TAGS[misc & 7],
            "userInfo": self._customer(i),
            "sessIds": [],
            "accountId": self._account_id,
            "iId": self._stream_id,
            "orgId": self._org_id,
            "convIds": [],
            "status": _STATUS_OBJS[status],
            "source": _uid(f"{channels[0] if channels else 'api'}Inst", self._seed, i),
            "language": _LANGUAGES[self._language[i]],
            "conversationType": "CASE",
            "fields": _fields(name, desc, due_iso),
            "participants": [],
            "queues": queues,
            "priority": _PRIORITY_OBJS[self._priority[i]],
            "refId": f"CS{n:06d}",
            "assigneeType": assignee_type,
            "isActive": True,
            "taskIds": [_uid("ti", self._seed, i, t) for t in range(misc >> 3 & 3)],
            "attachments": [],
            "feedback": [],
            "createdBy": creator,
            "updatedBy": updated_by,
            "timestampValue": created - 60,
            "activityIds": [],
            "commentIds": [],
            "resolutionCmts": [],
            "dueDate": due,
            "isBreached": status in _UNRESOLVED_CODES and due < _END_MS,
            "supportCustomTasks": True,
            "channel": channels,
            "createdAt": iso_ms(created),
            "updatedAt": iso_ms(self._updated[i]),
            "currAssignee": current,
            "ETA": due_iso,
        }
        _add_quirk(case, self._quirk[i])
        return case

    def _customer(self, i: int) -> dict[str, str]:
        """The ``userInfo`` of case ``i``: the customer who raised it."""
        return {
            "_id": _uid("u", self._seed, i, "customer"),
            "name": "",
            "emailId": f"customer{i + 1}@example.com",
        }


def _fields(title: str, desc: str, due: str) -> list[dict[str, Any]]:
    """The case's system fields, each with its ``selectedValue``."""
    return [
        {**_TITLE_FIELD, "selectedValue": title},
        {**_DESC_FIELD, "selectedValue": desc},
        {**_DUE_FIELD, "selectedValue": due},
    ]


def _assignment(
    assignee: int, queues: list[dict[str, str]], creator: dict[str, str]
) -> tuple[str, dict[str, str], dict[str, str]]:
    """A case's ``assigneeType``, ``currAssignee`` and ``updatedBy`` from its assignee code."""
    if assignee == _UNASSIGNED:
        return "unassigned", {}, creator
    if assignee == _QUEUE_ASSIGNED:
        return "queue", dict(queues[0]), creator
    agent = _AGENTS[assignee - 1]
    return "agent", {"_id": agent["_id"], "name": agent["name"]}, agent


def _add_quirk(case: dict[str, Any], quirk: int) -> None:
    """Null or leave out ``ETA`` or ``updatedBy``, as a few real cases do."""
    if quirk == _ETA_NULL:
        case["ETA"] = None
    elif quirk == _ETA_MISSING:
        del case["ETA"]
    elif quirk == _UPDATED_BY_NULL:
        case["updatedBy"] = None
    elif quirk == _UPDATED_BY_MISSING:
        del case["updatedBy"]
