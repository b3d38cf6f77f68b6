"""Cases that change while the fake server runs: create, update, resolve, delete (no aiohttp).

:class:`MutableCaseStore` extends the column store with a server clock and edits;
:class:`CaseMutations` is the part of :class:`~kore_cases.testing.FakeKoreServer`'s public
API that drives it (``create_cases``, ``update_case``, ``resolve_case``, ``delete_case``,
``reveal_case``, ``get_case``), and the admin HTTP endpoint and ``--churn`` call the same.

Time follows the server, never the local clock: the store keeps "now" as the newest
timestamp it has handed out (the newest ``createdAt``/``updatedAt``). A created case gets
``createdAt = updatedAt = now + 1 ms`` (or exactly ``now`` for cases created "in the same
millisecond"); an edit sets ``updatedAt = now + 1 ms``. So ``createdAt`` never goes down in
index order (``startDate``/``endDate`` stay a binary search), every edit moves ``updatedAt``
past every earlier one, and a new case is newer than everything already served, as with Kore.

A *hidden* case (``create_cases(hidden=True)``) has its ``createdAt`` but is left out of every
answer until ``reveal_case``: the late-indexed case a watcher's overlap has to catch.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

from ._data import _AGENTS, _PRIORITY_OBJS, _STATUSES, _UNASSIGNED, CaseStore, Query

__all__ = ["UNCHANGED", "CaseMutations", "MutableCaseStore"]


class _Unchanged:
    """Sentinel: leave this attribute as it is (``None`` means "unassigned" for assignee)."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Any = _Unchanged()
"""Default of :meth:`CaseMutations.update_case` arguments: keep the current value."""

_RESOLVED = next(code for code, s in enumerate(_STATUSES) if s.category == "resolved")


def _code(kind: str, value: str, names: Sequence[str]) -> int:
    folded = value.strip().lower()
    for code, name in enumerate(names):
        if name.lower() == folded:
            return code
    raise ValueError(f"unknown {kind} {value!r}; valid: {', '.join(names)}")


class MutableCaseStore(CaseStore):
    """A :class:`CaseStore` whose cases can be created late, edited, hidden and deleted."""

    def __init__(self, count: int, *, seed: int, stream_id: str, account_id: str) -> None:
        self._gone: set[int] = set()  # deleted or hidden: left out of every selection
        self._hidden: set[int] = set()
        self._index: dict[str, int] = {}  # case id -> index, built on the first lookup
        self._now_ms = 0
        super().__init__(count, seed=seed, stream_id=stream_id, account_id=account_id)

    def add(self, count: int) -> None:
        """Append ``count`` cases newer than every timestamp handed out so far."""
        start = len(self)
        super().add(count)
        if start == 0:  # the initial population keeps its generated, spread-out times
            self._now_ms = max(self._now_ms, max(self._updated, default=0), self._last_created())
            return
        created, updated = self._created, self._updated
        for i in range(start, len(self)):
            # Later than anything served already: new cases lead the newest-first order.
            created[i] = max(created[i], self._now_ms + 1)
            self._now_ms = created[i]
            updated[i] = max(updated[i], created[i])
        self._now_ms = max(self._now_ms, max(updated[start:], default=0))
        if self._index:
            self._index.update((self.case_id(i), i) for i in range(start, len(self)))

    def create(self, count: int, *, same_millisecond: bool, hidden: bool) -> list[int]:
        """Add ``count`` new cases stamped with the server's now; return their indices."""
        if count < 1:
            raise ValueError("count must be >= 1")
        start = len(self)
        stamp = self._now_ms if same_millisecond else self._now_ms + 1
        super().add(count)  # the parent's times are replaced below
        for k, i in enumerate(range(start, len(self))):
            self._created[i] = self._updated[i] = stamp if same_millisecond else stamp + k
        self._now_ms = self._created[-1]
        new = list(range(start, len(self)))
        if self._index:
            self._index.update((self.case_id(i), i) for i in new)
        if hidden:
            self._hidden.update(new)
            self._gone.update(new)
        self._changed()
        return new

    def index(self, case_id: str) -> int:
        """The index of the case with ``_id`` ``case_id`` (deleted ones raise too).

        Raises:
            KeyError: no such case, or it was deleted.
        """
        if not self._index:
            self._index = {self.case_id(i): i for i in range(len(self))}
        i = self._index.get(case_id)
        if i is None or (i in self._gone and i not in self._hidden):
            raise KeyError(f"no case with id {case_id!r}")
        return i

    def edit(
        self, i: int, *, status: str | None, priority: str | None, assignee: Any = UNCHANGED
    ) -> None:
        """Change case ``i`` and move its ``updatedAt`` to the server's now + 1 ms."""
        if status is not None:
            self._status[i] = _code("status", status, [s.name for s in _STATUSES])
        if priority is not None:
            self._priority[i] = _code(
                "priority", priority, [str(p["name"]) for p in _PRIORITY_OBJS]
            )
        if assignee is None:
            self._assignee[i] = _UNASSIGNED
        elif assignee is not UNCHANGED:
            self._assignee[i] = 1 + _code("agent", assignee, [a["name"] for a in _AGENTS])
        self._now_ms += 1
        self._updated[i] = self._now_ms
        self._changed()

    def resolve(self, i: int) -> None:
        """Set case ``i``'s status to Resolved (an edit: ``updatedAt`` moves)."""
        self.edit(i, status=_STATUSES[_RESOLVED].name, priority=None)

    def delete(self, i: int) -> None:
        """Remove case ``i`` from every answer, for good."""
        self._gone.add(i)
        self._hidden.discard(i)
        self._changed()

    def reveal(self, i: int) -> None:
        """Let a hidden case appear in answers (with the ``createdAt`` it was created with)."""
        if i not in self._hidden:
            raise ValueError(f"case {self.case_id(i)!r} is not hidden")
        self._hidden.discard(i)
        self._gone.discard(i)
        self._changed()

    @property
    def live(self) -> int:
        """How many cases exist and are listed (not deleted, not hidden)."""
        return len(self) - len(self._gone)

    def visible(self, i: int) -> bool:
        """Whether case ``i`` is served (not deleted, not hidden)."""
        return i not in self._gone

    def _evaluate(self, q: Query) -> Sequence[int]:
        selection = super()._evaluate(q)
        if not self._gone:
            return selection
        gone = self._gone
        return array("q", [i for i in selection if i not in gone])

    def _last_created(self) -> int:
        return self._created[-1] if len(self._created) else 0

    def _changed(self) -> None:
        self.version += 1  # the server's page cache is keyed on it
        self._selections.clear()


class CaseMutations:
    """Change the fake server's cases while it runs (mixed into ``FakeKoreServer``).

    Each call takes effect at once, for the next request to arrive. Every method looks the
    case up by its ``_id`` and raises ``KeyError`` for an unknown or deleted one. The first
    lookup by id builds an index of every id (about a second per million cases).
    """

    _store: MutableCaseStore

    def create_cases(
        self, count: int = 1, *, same_millisecond: bool = False, hidden: bool = False
    ) -> list[str]:
        """Create ``count`` cases newer than any other and return their ids, oldest first.

        Args:
            count: how many.
            same_millisecond: give them all the ``createdAt`` of the newest existing case
                (ties Kore can produce when cases are created together).
            hidden: leave them out of every answer until :meth:`reveal_case`: a case the
                server indexes late, after newer ones are already listed.
        """
        indices = self._store.create(count, same_millisecond=same_millisecond, hidden=hidden)
        return [self._store.case_id(i) for i in indices]

    def update_case(
        self,
        case_id: str,
        *,
        status: str | None = None,
        priority: str | None = None,
        assignee: Any = UNCHANGED,
    ) -> dict[str, Any]:
        """Change a case; its ``updatedAt`` moves past every other. Returns the new case JSON.

        Args:
            status: a status name (``"New"``, ``"Open"``, ``"In Progress"``, ``"On Hold"``,
                ``"Resolved"``, ``"Closed"``).
            priority: ``"Low"``, ``"Medium"``, ``"High"`` or ``"Critical"``.
            assignee: an agent's name, ``None`` for unassigned, or left unchanged.

        With no change asked for, only ``updatedAt`` moves (a touch).

        Raises:
            KeyError: no case with this id.
            ValueError: an unknown status, priority or agent (the message lists valid ones).
        """
        i = self._store.index(case_id)
        self._store.edit(i, status=status, priority=priority, assignee=assignee)
        return self._store.case(i)

    def resolve_case(self, case_id: str) -> dict[str, Any]:
        """Set a case's status to ``Resolved`` (it leaves ``unresolved=True`` answers)."""
        i = self._store.index(case_id)
        self._store.resolve(i)
        return self._store.case(i)

    def delete_case(self, case_id: str) -> None:
        """Delete a case: it is in no answer from now on."""
        self._store.delete(self._store.index(case_id))

    def reveal_case(self, case_id: str) -> dict[str, Any]:
        """Make a case created with ``hidden=True`` appear, with its original ``createdAt``."""
        i = self._store.index(case_id)
        self._store.reveal(i)
        return self._store.case(i)

    def get_case(self, case_id: str) -> dict[str, Any] | None:
        """The JSON the server would send for this case now; ``None`` if deleted or hidden."""
        try:
            i = self._store.index(case_id)
        except KeyError:
            return None
        return self._store.case(i) if self._store.visible(i) else None
