"""The data a sync is measured on (tests and ``benchmarks/sync.py``): an aged case base.

Real case bases are mostly resolved once cases are a few weeks old. The fake server's
cases are unresolved at any age (about 65%), so :func:`age` resolves all but a few of
the old ones; :func:`churn` then makes the changes between two syncs that the refresh
rules cover: new cases, changes to recent cases, changes to old unresolved cases, and a
few old unresolved cases resolved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

from kore_cases._wire import kore_time
from kore_cases.testing import FakeKoreServer

DAY = timedelta(days=1)


def newest_created(server: FakeKoreServer) -> datetime:
    """The ``createdAt`` of the newest case."""
    case = server.get_case(server.case_ids()[0])
    assert case is not None
    return datetime.fromisoformat(case["createdAt"].replace("Z", "+00:00"))


def age(server: FakeKoreServer, *, older_than: timedelta, keep_every: int) -> None:
    """Resolve the unresolved cases created ``older_than`` before the newest, but one in
    ``keep_every``."""
    cutoff = newest_created(server) - older_than
    old = server.case_ids({"unresolved": True, "endDate": kore_time(cutoff)})
    for n, case_id in enumerate(old):
        if n % keep_every:
            server.resolve_case(case_id)


@dataclass
class Churn:
    """What :func:`churn` changed (ids)."""

    new: list[str]
    recent_changed: list[str]
    old_changed: list[str]
    old_resolved: list[str]

    @property
    def total(self) -> int:
        return (
            len(self.new)
            + len(self.recent_changed)
            + len(self.old_changed)
            + len(self.old_resolved)
        )


def churn(
    server: FakeKoreServer,
    *,
    refresh: timedelta,
    new: int,
    recent: int,
    old_unresolved: int,
    old_resolved: int,
) -> Churn:
    """Changes within the refresh rules, spread evenly over the cases they pick from."""
    window_start = kore_time(newest_created(server) - refresh)
    recent_ids = _spread(server.case_ids({"startDate": window_start}), recent)
    old_open = server.case_ids({"unresolved": True, "endDate": window_start})
    picked = _spread(old_open, old_unresolved + old_resolved)
    for case_id in recent_ids:
        server.update_case(case_id, priority="Critical")
    for case_id in picked[:old_unresolved]:
        server.update_case(case_id, status="On Hold")
    for case_id in picked[old_unresolved:]:
        server.resolve_case(case_id)
    created = server.create_cases(new)
    return Churn(created, recent_ids, picked[:old_unresolved], picked[old_unresolved:])


def _spread(ids: list[str], count: int) -> list[str]:
    step = max(1, len(ids) // max(count, 1))
    return ids[::step][:count]


def server_set(server: FakeKoreServer, body: dict[str, Any] | None = None) -> dict[str, str]:
    """Every case the server holds for ``body``'s filters: id -> its JSON as served."""
    cases = {}
    for case_id in server.case_ids(body):
        case = server.get_case(case_id)
        assert case is not None
        cases[case_id] = msgspec.json.encode(case).decode()
    return cases


def pages(count: int, limit: int) -> int:
    """Requests to read ``count`` cases, ``limit`` a page (an empty answer costs one)."""
    return max(1, math.ceil(count / limit))


def second_sync_needs(
    server: FakeKoreServer, high_water: datetime, refresh: timedelta, limit: int, left: int
) -> int:
    """The requests the refresh rules need: one for the newest case, the recent range and
    the older unresolved cases in whole pages, one probe per case that left the
    unresolved set."""
    window_start = kore_time(high_water - refresh)
    recent = len(server.case_ids({"startDate": window_start}))
    unresolved = len(server.case_ids({"unresolved": True, "endDate": window_start}))
    return 1 + pages(recent, limit) + pages(unresolved, limit) + left
