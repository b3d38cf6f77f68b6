"""Churn: a fake server whose cases keep being created, changed and resolved.

``kore-cases serve --churn N`` runs one; a test or demo can too::

    async with FakeKoreServer(cases=100) as server, Churn(server, per_second=5):
        ...  # a watch sees cases appear, change and get resolved

Each tick is one change, chosen at random (seeded): create a case (half of them), change
the status or priority of a recent case (three in ten), resolve one (two in ten). Changes
land on cases created recently, the ones a bot watching new cases cares about. It uses only
the server's public mutation API; a case deleted meanwhile is forgotten, not an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections import Counter, deque
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._server import FakeKoreServer

__all__ = ["Churn"]

_RECENT = 500  # changes pick among this many of the newest cases
_STATUSES = ("Open", "In Progress", "On Hold")
_PRIORITIES = ("Low", "Medium", "High", "Critical")


class Churn:
    """Change a running :class:`FakeKoreServer`'s cases ``per_second`` times a second.

    Use ``async with Churn(server, 5):`` or ``start()``/``await stop()``. ``counts`` tells
    how many of each change (``"created"``, ``"changed"``, ``"resolved"``) were made.
    """

    def __init__(self, server: FakeKoreServer, per_second: float, *, seed: int = 0) -> None:
        """Prepare; nothing changes until ``start()``.

        Raises:
            ValueError: ``per_second`` is not a finite number > 0.
        """
        if isinstance(per_second, bool) or not 0 < per_second < math.inf:
            raise ValueError(f"per_second must be a finite number > 0, not {per_second!r}")
        self.server = server
        self.per_second: float = float(per_second)
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(f"churn:{seed}")
        self._recent: deque[str] = deque(maxlen=_RECENT)
        self._task: asyncio.Task[None] | None = None

    def step(self) -> str:
        """Make one change now and return its kind."""
        if not self._recent:
            self._recent.extend(reversed(self.server.case_ids()[:_RECENT]))
        roll = self._rng.random()
        kind = "created"
        if roll >= 0.5 and self._recent:
            case_id = self._rng.choice(self._recent)
            try:
                kind = self._change(case_id, roll)
            except KeyError:  # deleted meanwhile (by a test, the admin endpoint): forget it
                self._recent.remove(case_id)
                kind = "created"
        if kind == "created":
            self._recent.extend(self.server.create_cases(1))
        self.counts[kind] += 1
        return kind

    def _change(self, case_id: str, roll: float) -> str:
        if roll >= 0.8:
            self.server.resolve_case(case_id)
            return "resolved"
        if self._rng.random() < 0.5:
            self.server.update_case(case_id, status=self._rng.choice(_STATUSES))
        else:
            self.server.update_case(case_id, priority=self._rng.choice(_PRIORITIES))
        return "changed"

    def start(self) -> None:
        """Start changing cases in a background task of the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop changing cases (idempotent)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> Churn:
        """Start, and return this churn."""
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop."""
        await self.stop()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.per_second
        due = loop.time()
        while True:
            self.step()
            due += interval
            # Catch up after a stall instead of bursting: never more than one tick late.
            due = max(due, loop.time() - interval)
            await asyncio.sleep(max(0.0, due - loop.time()))
